"""``ctloop <verb>``: the command line the Makefile calls.

Each area contributes its verbs through a ``register(subparsers)`` function in its own
``commands`` module; handlers import heavy libraries lazily so ``ctloop --help`` stays fast.
Exit codes: 0 success, 1 a run or check failed, 2 invalid spec or usage.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Iterator, Sequence

from ctloop.verbs import run_parser

# One module per area; each defines ``register(subparsers) -> None`` and sets ``func`` on its parsers.
COMMAND_MODULES: tuple[str, ...] = (
    "ctloop.engine.commands",
    "ctloop.engine.store_commands",
    "ctloop.registry.commands",
    "ctloop.data_commands",
    "ctloop.gitops.commands",
    "ctloop.azure.commands",
    "ctloop.rollout.commands",
    "ctloop.monitor_commands",
)


#: One example per verb, shown under ``ctloop <verb> --help`` (a test requires one for every verb).
EXAMPLES: dict[str, str] = {
    "run": "ctloop run pipelines/training.yml --set trainer=rf",
    "runs": "ctloop runs show latest",
    "runs list": "ctloop runs list --limit 5",
    "runs show": "ctloop runs show latest",
    "models": "ctloop models",
    "models list": "ctloop models list --json",
    "models show": "ctloop models show 3",
    "models champion": "ctloop models champion",
    "data": "ctloop data landing --dataset rainfall --until 1985-12-31",
    "data landing": "ctloop data landing --dataset rainfall --until 1985-12-31",
    "data create": "ctloop data create --file data.yml",
    "component": "ctloop component create --file components/train.yml",
    "component create": "ctloop component create --file components/train.yml",
    "data quarantine": "ctloop data quarantine list",
    "data quarantine list": "ctloop data quarantine list --json",
    "data quarantine release": "ctloop data quarantine release <run-id>",
    "validate": "ctloop validate --stack dev",
    "lock": "ctloop lock",
    "review": "ctloop review --base origin/main --output review.md",
    "components": "ctloop components register --stack dev --dry-run",
    "components register": "ctloop components register --stack dev --dry-run",
    "schedule": "ctloop schedule apply --stack dev --dry-run",
    "schedule apply": "ctloop schedule apply --stack dev --dry-run",
    "endpoint": "ctloop endpoint status",
    "endpoint up": "ctloop endpoint up --deployment blue --model-dir <model folder>",
    "endpoint status": "ctloop endpoint status --json",
    "endpoint invoke": "ctloop endpoint invoke --file request.json",
    "endpoint split": "ctloop endpoint split blue=90 green=10",
    "endpoint down": "ctloop endpoint down",
    "rollout": "ctloop rollout status",
    "rollout start": "ctloop rollout start --eval <labelled data folder>",
    "rollout status": "ctloop rollout status --json",
    "rollout resume": "ctloop rollout resume",
    "rollout rollback": "ctloop rollout rollback --reason 'latency regression'",
    "rollout watchdog": "ctloop rollout watchdog --once",
    "monitor": "ctloop monitor --json",
    "check-triggers": "ctloop check-triggers --exit-code",
    "loop": "ctloop loop",
    "replay": "ctloop replay --dataset rainfall --compare",
    "report": "ctloop report --out .ctloop/report",
}


def subcommands(
    parser: argparse.ArgumentParser, path: str = ""
) -> Iterator[tuple[str, str, argparse.ArgumentParser]]:
    """Every (``verb [sub-verb]``, its one-line help, its parser) below ``parser``, depth first."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            helps = {choice.dest: choice.help or "" for choice in action._choices_actions}
            for name, child in action.choices.items():
                full = f"{path} {name}".strip()
                yield full, helps.get(name, ""), child
                yield from subcommands(child, full)


def _describe(parser: argparse.ArgumentParser) -> None:
    """Give every verb a one-line description (its help unless it has one) and its example."""
    for path, help_text, child in subcommands(parser):
        own = (child.description or "").strip()
        if not own or "\n" in own or own.startswith("`"):
            line = help_text.replace("%%", "%")
            child.description = line[:1].upper() + line[1:]
        if path in EXAMPLES:
            child.epilog = f"example:\n  {EXAMPLES[path]}"
            child.formatter_class = argparse.RawDescriptionHelpFormatter


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ctloop", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="verb", metavar="<verb>")
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    _describe(parser)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    return run_parser(build_parser, argv)


if __name__ == "__main__":
    sys.exit(main())
