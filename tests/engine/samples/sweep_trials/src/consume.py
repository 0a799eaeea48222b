"""Downstream of the sweep: copy the best trial's parameters into the report."""

import argparse
import shutil
from pathlib import Path

p = argparse.ArgumentParser()
p.add_argument("--model", required=True)
p.add_argument("--report", required=True)
args = p.parse_args()
shutil.copy(Path(args.model) / "params.json", Path(args.report) / "best.json")
