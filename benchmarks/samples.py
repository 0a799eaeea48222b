"""Run every pipeline job of a checkout of Azure/azureml-examples with the local engine.

    python benchmarks/samples.py /tmp/azml-samples/cli/jobs           # run each sample
    python benchmarks/samples.py PATH --check-only                    # load and check only
    python benchmarks/samples.py PATH --timeout 300 --json out.json

Every ``*.yml`` whose ``$schema`` is ``pipelineJob`` is one sample. Each runs as ``ctloop run
FILE --no-mlflow`` in its own folder with its own empty state dir (nothing is written into the
checkout's parent repository), and is reported as:

- ran: exit 0;
- refused (reason): exit 2, the engine's first problem line (an unsupported feature or a spec
  problem); ``allowed`` marks refusals for automl, spark or registry components, which the
  local engine does not run by design;
- failed: the engine ran it and a step failed (often a missing package or network access:
  steps run in this virtual environment, not in the sample's Docker environment).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

SCHEMA = "pipelineJob.schema.json"
ALLOWED = ("automl", "spark", "registry component")


def samples(root: Path) -> list[Path]:
    """Pipeline job files under ``root``, sorted."""
    found = []
    for path in sorted(root.rglob("*.y*ml")):
        try:
            head = path.read_text(encoding="utf-8", errors="replace")[:400]
        except OSError:
            continue
        if SCHEMA in head:
            found.append(path)
    return found


def _reason(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[0] if lines else "(no output)"


def run_one(path: Path, timeout: float, check_only: bool) -> dict[str, Any]:
    """Run (or check) one sample in a fresh state dir; classify the result."""
    with tempfile.TemporaryDirectory(prefix="ctloop-sample-") as home:
        env = {**os.environ, "CTLOOP_HOME": home, "MLFLOW_DISABLE_TELEMETRY": "true"}
        verb = ["validate", "--spec-only", str(path)] if check_only else ["run", str(path), "--no-mlflow"]
        argv = [sys.executable, "-m", "ctloop.cli", *verb]
        start = time.perf_counter()
        try:
            proc = subprocess.run(
                argv, cwd=path.parent, env=env, capture_output=True, text=True, timeout=timeout
            )
        except subprocess.TimeoutExpired:
            return {"sample": str(path), "result": "failed", "reason": f"timed out after {timeout:.0f}s"}
        seconds = round(time.perf_counter() - start, 2)
    if proc.returncode == 0:
        return {"sample": str(path), "result": "ran" if not check_only else "valid", "seconds": seconds}
    if proc.returncode == 2:
        reason = _reason(proc.stderr)
        allowed = any(word in reason.lower() for word in ALLOWED)
        return {"sample": str(path), "result": "refused", "allowed": allowed, "reason": reason}
    failed = [line for line in proc.stdout.splitlines() if "FAILED" in line or "failed" in line]
    detail = (failed[0] if failed else _reason(proc.stderr or proc.stdout)).strip()
    return {"sample": str(path), "result": "failed", "reason": detail, "seconds": seconds}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("path", type=Path, help="a checkout (or part) of Azure/azureml-examples")
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds per sample (default 300)")
    parser.add_argument("--check-only", action="store_true", help="ctloop validate --spec-only, no run")
    parser.add_argument("--json", type=Path, default=None, help="also write the results here")
    args = parser.parse_args(argv)
    found = samples(args.path)
    if not found:
        print(f"no pipeline job YAML under {args.path}", file=sys.stderr)
        return 2
    results = []
    for path in found:
        result = run_one(path, args.timeout, args.check_only)
        results.append(result)
        label = result["result"] + (" (allowed)" if result.get("allowed") else "")
        detail = result.get("reason") or f"{result.get('seconds', 0):.1f}s"
        print(f"{label:18} {path.relative_to(args.path)}: {detail}", flush=True)
    counts: dict[str, int] = {}
    for r in results:
        key = r["result"] + ("-allowed" if r.get("allowed") else "")
        counts[key] = counts.get(key, 0) + 1
    good = counts.get("ran", 0) + counts.get("valid", 0) + counts.get("refused-allowed", 0)
    print(f"{len(results)} samples: " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())))
    print(f"ran or refused only for automl/spark/registry components: {good} of {len(results)}")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
