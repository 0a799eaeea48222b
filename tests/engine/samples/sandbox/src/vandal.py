"""A step that writes where Azure ML gives it no right to: its code folder and its inputs."""

import os
import sys
from pathlib import Path

data, out, touch_input = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3] == "yes"
Path("scratch.txt").write_text("written into the working directory\n")
Path(__file__).with_name("vandal.py").open("a").write("# appended by the step\n")
if touch_input:
    target = data / "rows.csv" if data.is_dir() else data
    os.chmod(target, 0o644)  # a step running as root ignores file modes: the engine must notice
    with target.open("a") as fh:
        fh.write("9,9\n")
out.mkdir(parents=True, exist_ok=True)
rows = (data / "rows.csv").read_text()
(out / "rows.csv").write_text(rows)
(out / "lines.txt").write_text(str(len(rows.splitlines())))
