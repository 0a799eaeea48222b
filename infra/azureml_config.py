"""Write ``.azureml/config.json`` (what ``MLClient.from_config()`` reads) from a stack's outputs.

    python -m infra.azureml_config --stack dev                      # runs `pulumi stack output --json`
    python -m infra.azureml_config --stack dev --outputs-json out.json   # outputs saved elsewhere

A copy goes to ``config.<stack>.json`` beside it, so the configs of several stacks can live side by
side (ctloop's Azure code prefers ``.azureml/config.<stack>.json`` when it exists).

``to_config`` is the pure converter: stack outputs in, config.json content out. azure-ai-ml needs
``subscription_id``, ``resource_group`` and ``workspace_name``; the rest of ctloop also finds the
stack, location, compute and endpoint names there (azure-ai-ml ignores extra keys).
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

REQUIRED = ("subscription_id", "resource_group", "workspace_name")
EXTRA = (
    "location",
    "environment",
    "tenant_id",
    "endpoint_name",
    "compute_names",
    "gpu_compute",
    "cpu_compute",
)
DEFAULT_OUTPUT = Path(".azureml") / "config.json"
NO_CLI = (
    "the Pulumi CLI is not on PATH, so the outputs of stack {stack!r} cannot be read here. Either install it "
    "(https://www.pulumi.com/docs/install/), `pulumi login`, and run this again; or, where the CLI is, run "
    "`pulumi stack output --json --stack {stack} > outputs.json` and pass `--outputs-json outputs.json`."
)


class OutputsError(ValueError):
    """Stack outputs that cannot become a config.json."""


def to_config(outputs: Mapping[str, Any], stack: str | None = None) -> dict[str, Any]:
    """The config.json content for a stack-outputs mapping (as `pulumi stack output --json` prints it)."""
    missing = [k for k in REQUIRED if not isinstance(outputs.get(k), str) or not outputs[k].strip()]
    if missing:
        raise OutputsError(
            f"stack outputs lack {missing} (have {sorted(outputs)}); was the stack deployed with `make up`?"
        )
    config: dict[str, Any] = {k: outputs[k] for k in REQUIRED}
    config.update({k: outputs[k] for k in EXTRA if outputs.get(k) is not None})
    if stack:
        config["stack"] = stack
    return config


def read_outputs(stack: str) -> dict[str, Any]:
    """``pulumi stack output --json --stack <stack>``; raises OutputsError with the CLI's reason."""
    result = subprocess.run(
        ["pulumi", "stack", "output", "--json", "--stack", stack],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    if result.returncode != 0:
        raise OutputsError(f"`pulumi stack output` failed: {result.stderr.strip() or result.stdout.strip()}")
    return parse_outputs(result.stdout, f"pulumi stack output --stack {stack}")


def parse_outputs(text: str, source: str) -> dict[str, Any]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise OutputsError(f"{source}: not JSON ({exc.msg} at line {exc.lineno})") from None
    if not isinstance(data, dict):
        raise OutputsError(f"{source}: expected a JSON object of outputs, got {type(data).__name__}")
    return data


def write_config(config: Mapping[str, Any], path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(config, indent=2, sort_keys=True) + "\n")
    return path


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m infra.azureml_config", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--stack", required=True, help="stack name (dev, staging, prod)")
    parser.add_argument(
        "--output", type=Path, default=DEFAULT_OUTPUT, help=f"where to write (default {DEFAULT_OUTPUT})"
    )
    parser.add_argument(
        "--outputs-json", help="read the outputs from this file ('-' for stdin) instead of the CLI"
    )
    args = parser.parse_args(argv)
    try:
        if args.outputs_json:
            text = sys.stdin.read() if args.outputs_json == "-" else Path(args.outputs_json).read_text()
            outputs = parse_outputs(text, args.outputs_json)
        elif shutil.which("pulumi"):
            outputs = read_outputs(args.stack)
        else:
            print(f"azureml-config: {NO_CLI.format(stack=args.stack)}", file=sys.stderr)
            return 1
        config = to_config(outputs, args.stack)
        written = write_config(config, args.output)
        copy = write_config(config, args.output.with_name(f"config.{args.stack}.json"))
    except (OutputsError, OSError, subprocess.TimeoutExpired) as exc:
        print(f"azureml-config: {exc}", file=sys.stderr)
        return 1
    print(f"wrote {written} and {copy.name} for stack {args.stack} (MLClient.from_config() reads it)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
