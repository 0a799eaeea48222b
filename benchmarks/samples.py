"""Run every pipeline job of a checkout of Azure/azureml-examples with the local engine.

    python benchmarks/samples.py /tmp/azml-samples/cli/jobs           # run each sample
    python benchmarks/samples.py PATH --check-only                    # load and check only
    python benchmarks/samples.py PATH --json out.json
    python benchmarks/samples.py PATH --environments current         # every step in this venv

Every ``*.yml`` whose ``$schema`` is ``pipelineJob`` is one sample. Each is loaded and run by the
engine (in this process, MLflow off, so azure-ai-ml is imported once) from its own folder with
its own empty state dir, after what its README asks first (its ``data.yml`` registered with the
local ``data create``, components it references as ``azureml:<name>`` registered with
``component create``). Each is reported as:

- ran: every step completed;
- refused (reason): the checks stopped it before anything ran, with the first problem line (an
  unsupported feature or a spec problem); ``allowed`` marks refusals for automl, spark or
  registry components, which the local engine does not run by design;
- failed: the engine ran it and a step failed (often network access, or a package only the
  sample's Docker image has).

Steps whose environment has a ``conda_file`` run in a uv environment built from its pip section
(``ctloop run --environments build``; PyPI is needed the first time, then the build is cached);
``--environments current`` runs every step in this virtual environment instead. Registry
environments have no package list locally: ``benchmarks/environments/map.yml`` maps the one the
samples use (sklearn-1.5) to a local conda file (``CTLOOP_ENVIRONMENT_MAP``).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

SCHEMA = "pipelineJob.schema.json"
ALLOWED = ("automl", "spark", "azure ml registry")


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


def _prepare(path: Path) -> list[str]:
    """What the sample's README asks first: register its data assets and referenced components."""
    from ctloop.engine import stores

    done = []
    text = path.read_text(encoding="utf-8")
    for yml in sorted(path.parent.glob("*.y*ml")):
        head = yml.read_text(encoding="utf-8", errors="replace")[:400]
        try:
            if "data.schema.json" in head:
                ref = stores.create_data_from_file(yml)
                done.append(f"data {ref.name}:{ref.version}")
            elif "commandComponent.schema.json" in head:
                name = yaml.safe_load(yml.read_text(encoding="utf-8")).get("name")
                if name and f"azureml:{name}" in text:
                    stores.create_component(yml)
                    done.append(f"component {name}")
        except (stores.StoreError, OSError, ValueError, AttributeError):
            continue
    return done


def run_one(path: Path, check_only: bool, environments: str = "build") -> dict[str, Any]:
    """Load and run one sample in-process, in its own folder with a fresh state dir."""
    from ctloop.engine.runner import RunOptions, run_pipeline
    from ctloop.engine.spec import load_pipeline
    from ctloop.engine.spec.problems import SpecError

    cwd = Path.cwd()
    with tempfile.TemporaryDirectory(prefix="ctloop-sample-") as home:
        os.environ["CTLOOP_HOME"] = home
        os.chdir(path.parent)
        start = time.perf_counter()
        try:
            prepared = _prepare(path)
            try:
                spec = load_pipeline(path)
            except SpecError as exc:
                reason = _reason(str(exc))
                allowed = any(word in reason.lower() for word in ALLOWED)
                return {"sample": str(path), "result": "refused", "allowed": allowed, "reason": reason}
            if check_only:
                return {"sample": str(path), "result": "valid", "prepared": prepared}
            options = RunOptions(tracking=False, echo=lambda _line: None, environments=environments)
            summary = run_pipeline(spec, options)
            seconds = round(time.perf_counter() - start, 2)
            if summary.status == "completed":
                return {"sample": str(path), "result": "ran", "seconds": seconds, "prepared": prepared}
            failed = [
                f"{name}: {step.get('reason')} | {' / '.join((step.get('log_tail') or [])[-2:])}"
                for name, step in summary.record["steps"].items()
                if step.get("status") == "failed"
            ]
            return {"sample": str(path), "result": "failed", "reason": (failed or ["?"])[0][:300]}
        finally:
            os.chdir(cwd)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("path", type=Path, help="a checkout (or part) of Azure/azureml-examples")
    parser.add_argument("--check-only", action="store_true", help="load and check each sample, run nothing")
    parser.add_argument("--json", type=Path, default=None, help="also write the results here")
    parser.add_argument(
        "--environments",
        choices=("build", "current"),
        default="build",
        help="build (default): conda_file environments built with uv; current: this virtual environment",
    )
    args = parser.parse_args(argv)
    if args.environments == "build":
        os.environ.setdefault(
            "CTLOOP_ENVIRONMENT_MAP", str(Path(__file__).parent / "environments" / "map.yml")
        )
    found = samples(args.path)
    if not found:
        print(f"no pipeline job YAML under {args.path}", file=sys.stderr)
        return 2
    results = []
    for path in found:
        result = run_one(path.resolve(), args.check_only, args.environments)
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
