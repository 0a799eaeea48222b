"""Toy steps for the nested pipeline tests: scale numbers, label them, sum them."""

import argparse
from pathlib import Path

parser = argparse.ArgumentParser()
parser.add_argument("action", choices=["scale", "label", "total"])
parser.add_argument("--src", type=Path)
parser.add_argument("--out", type=Path)
parser.add_argument("--factor", type=int, default=1)
parser.add_argument("--offset", type=int, default=0)
parser.add_argument("--label", default="")
args = parser.parse_args()
args.out.mkdir(parents=True, exist_ok=True)
files = sorted(p for p in args.src.rglob("*.txt"))
numbers = [int(line.split()[-1]) for p in files for line in p.read_text().splitlines() if line.strip()]
if args.action == "scale":
    text = "".join(f"{n * args.factor + args.offset}\n" for n in numbers)
elif args.action == "label":
    text = "".join(f"{args.label} {n}\n" for n in numbers)
else:
    text = f"{sum(numbers)}\n"
(args.out / "result.txt").write_text(text)
print(f"{args.action}: {text.strip()!r}")
