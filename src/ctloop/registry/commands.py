"""``ctloop models [list] | show <version> | champion``: read the model registry."""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any

MODEL_NAME_ENV = "CTLOOP_MODEL_NAME"

#: Columns of ``ctloop models list``: header -> tag (or attribute) shown.
_TAG_COLUMNS = {
    "METRIC": "ctloop.gate.challenger_metric",
    "VS CHAMPION": "ctloop.gate.difference",
    "DATA": "ctloop.data.asset",
}


def register(subparsers: Any) -> None:
    """Add ``models`` and its sub-commands to the ``ctloop`` parser."""
    models = subparsers.add_parser("models", help="list and inspect registered model versions")
    sub = models.add_subparsers(dest="models_command", metavar="<command>")
    models.set_defaults(func=_list, name=None, json=False)  # `ctloop models` alone lists

    name_help = f"registered model name (default: ${MODEL_NAME_ENV}, else the only registered model)"
    p_list = sub.add_parser("list", help="every version with status, champion and gate numbers")
    p_list.add_argument("--name", help=name_help)
    p_list.add_argument("--json", action="store_true", help="print JSON")
    p_list.set_defaults(func=_list)

    p_show = sub.add_parser("show", help="one version with all its tags (lineage, metrics, gate)")
    p_show.add_argument("version")
    p_show.add_argument("--name", help=name_help)
    p_show.set_defaults(func=_show)

    p_champ = sub.add_parser("champion", help="the version the champion pointer names")
    p_champ.add_argument("--name", help=name_help)
    p_champ.add_argument("--json", action="store_true", help="print JSON")
    p_champ.set_defaults(func=_champion)


def _registry(args: argparse.Namespace) -> Any:
    """The bound registry, or an int exit code after printing why there is none."""
    from ctloop.registry import RegistryError, model_names, open_registry

    try:
        names = model_names()
    except RegistryError as exc:
        print(f"ctloop models: {exc}", file=sys.stderr)
        return 2
    name = args.name or os.environ.get(MODEL_NAME_ENV)
    if not name:
        if len(names) == 1:
            name = names[0]
        elif not names:
            print("no models registered yet (run the training pipeline first)", file=sys.stderr)
            return 1
        else:
            print(f"ctloop models: --name: several models registered: {', '.join(names)}", file=sys.stderr)
            return 2
    if name not in names:
        known = ", ".join(names) or "none"
        print(
            f"ctloop models: --name: model {name!r} is not registered (registered: {known})", file=sys.stderr
        )
        return 1
    try:
        return open_registry(name)
    except RegistryError as exc:
        print(f"ctloop models: {exc}", file=sys.stderr)
        return 2


def _row(version: Any) -> list[str]:
    champion = "*" if version.is_champion else ""
    serving = "*" if version.is_serving else ""
    cells = [version.version, champion, serving, version.status, version.created]
    cells += [version.tags.get(tag, "") for tag in _TAG_COLUMNS.values()]
    return cells


def _table(rows: list[list[str]], header: list[str]) -> str:
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in [header, *rows]]
    return "\n".join(lines)


def _list(args: argparse.Namespace) -> int:
    registry = _registry(args)
    if isinstance(registry, int):
        return registry
    versions = registry.list_versions()
    if args.json:
        print(json.dumps([v.to_dict() for v in versions], indent=2))
        return 0
    header = ["VERSION", "CHAMPION", "SERVING", "STATUS", "CREATED", *_TAG_COLUMNS]
    print(f"model {registry.name}")
    print(_table([_row(v) for v in versions], header))
    print(_pointers_line(versions))
    return 0


def _pointers_line(versions: list[Any]) -> str:
    """``champion N, serving M`` and a warning when they differ."""
    champion = next((v.version for v in versions if v.is_champion), None)
    serving = next((v.version for v in versions if v.is_serving), None)
    line = f"champion {champion or 'none'}, serving {serving or 'none'}"
    if serving is not None and champion != serving:
        line += " (differ: the next deploy rolls out the champion)"
    return line


def _print_version(version: Any) -> None:
    print(f"model    {version.name}")
    print(f"version  {version.version}")
    print(f"status   {version.status}")
    print(f"aliases  {', '.join(version.aliases) or '-'}")
    print(f"created  {version.created}")
    print(f"source   {version.source}")
    print("tags")
    for key in sorted(version.tags):
        print(f"  {key} = {version.tags[key]}")


def _show(args: argparse.Namespace) -> int:
    from ctloop.registry import RegistryError

    registry = _registry(args)
    if isinstance(registry, int):
        return registry
    try:
        version = registry.get(args.version)
    except RegistryError as exc:
        print(f"ctloop models show: {exc}", file=sys.stderr)
        return 1
    _print_version(version)
    return 0


def _champion(args: argparse.Namespace) -> int:
    registry = _registry(args)
    if isinstance(registry, int):
        return registry
    champion = registry.champion()
    serving = registry.serving()
    if champion is None:
        print(f"model {registry.name} has no champion yet", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps({**champion.to_dict(), "serving": serving.version if serving else None}, indent=2))
    else:
        _print_version(champion)
        print(f"serving  {serving.version if serving else 'none'}")
    return 0
