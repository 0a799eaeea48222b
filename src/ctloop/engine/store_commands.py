"""``ctloop data create`` and ``ctloop component create``: the local twins of ``az ml ... create``.

They read the same YAML files (``--file``) or flags and register into the local stores that
``azureml:<name>:<version>`` / ``azureml:<name>@latest`` references resolve against (stores.py).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any


def add_data_create(sub: Any) -> None:
    """``ctloop data create`` under the ``data`` verb."""
    create = sub.add_parser(
        "create",
        help="register a local file or folder as a data asset (like az ml data create)",
        description="Register a local file or folder as a versioned data asset (like az ml data create).",
    )
    create.add_argument(
        "--file", "-f", type=Path, default=None, help="a data asset YAML (name, version, path)"
    )
    create.add_argument("--name", "-n", default=None, help="asset name (overrides the YAML)")
    create.add_argument("--version", "-v", default=None, help="version (default: the next integer)")
    create.add_argument("--path", "-p", default=None, help="local file or folder (overrides the YAML)")
    create.add_argument(
        "--type", default=None, choices=("uri_folder", "uri_file", "mltable"), help="default uri_folder"
    )
    create.set_defaults(func=cmd_data_create)


def register(subparsers: Any) -> None:
    """Add ``component create`` to the ``ctloop`` command line."""
    component = subparsers.add_parser("component", help="the local component store (like az ml component)")
    sub = component.add_subparsers(dest="component_command", metavar="<command>")
    create = sub.add_parser(
        "create",
        help="register a component YAML and a snapshot of its code (like az ml component create)",
        description="Register a command component YAML with a snapshot of its code folder.",
    )
    create.add_argument("--file", "-f", type=Path, required=True, help="the component YAML")
    create.add_argument("--version", "-v", default=None, help="version (default: the YAML's, else the next)")
    create.set_defaults(func=cmd_component_create)
    component.set_defaults(func=lambda args: (component.print_help(), 2)[1])


def cmd_data_create(args: argparse.Namespace) -> int:
    from ctloop.engine import stores

    try:
        if args.file is not None:
            overrides = {"name": args.name, "version": args.version, "type": args.type}
            if args.path:
                overrides["path"] = str(Path(args.path).resolve())
            ref = stores.create_data_from_file(args.file, overrides)
        elif args.name and args.path:
            ref = stores.create_data(args.name, Path(args.path), args.version, args.type or "uri_folder")
        else:
            print("ctloop data create: give --file, or --name and --path", file=sys.stderr)
            return 2
    except (stores.StoreError, OSError, ValueError) as exc:
        print(f"ctloop data create: {exc}", file=sys.stderr)
        return 2
    state = "already registered as" if ref.reused else "registered"
    print(f"data asset {state} azureml:{ref.name}:{ref.version} -> {ref.path}")
    return 0


def cmd_component_create(args: argparse.Namespace) -> int:
    from ctloop.engine import stores

    try:
        path = stores.create_component(args.file, args.version)
    except (stores.StoreError, OSError, ValueError) as exc:
        print(f"ctloop component create: {exc}", file=sys.stderr)
        return 2
    name, version = path.parent.parent.name, path.parent.name
    print(f"component registered azureml:{name}:{version} -> {path}")
    return 0
