"""``ctloop components register | schedule apply``: the verbs that write the specs to Azure ML.

Both check the specs offline for the stack first (``ctloop validate``) and change nothing in the
workspace when any file is invalid. Exit codes: 0 success, 2 invalid spec or setup.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def _root(args: argparse.Namespace) -> Path:
    return Path(args.root).resolve() if args.root else Path.cwd()


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--root", help="repository root (default: the working directory)")


def cmd_components_register(args: argparse.Namespace) -> int:
    from ctloop.azure.assets import register_command

    return register_command(_root(args), args.stack, dry_run=args.dry_run)


def cmd_schedule_apply(args: argparse.Namespace) -> int:
    return apply_schedules_for_stack(_root(args), args.paths, args.stack, dry_run=args.dry_run)


def apply_schedules_for_stack(
    root: Path, paths: list[str], stack: str, dry_run: bool = False, client: object = None
) -> int:
    """``ctloop schedule apply --stack S``: validate for S, bind each schedule to S (the job's
    ``stack`` input; the logical endpoint name replaced by S's endpoint), then create or update
    it. 0, or 2 with the reason (nothing is applied when any file is invalid)."""
    from ctloop.azure.assets import AssetConflictError, register_assets
    from ctloop.azure.schedules import describe, load, schedule_files
    from ctloop.azure.workspace import AzureSetupError, ml_client
    from ctloop.gitops.names import NamesError, bind_schedule, live_deployment, stack_endpoint
    from ctloop.gitops.validate import validate

    files = schedule_files(root, paths)
    if not files:
        print(f"schedule apply: nothing to apply (no schedule files under {root})", file=sys.stderr)
        return 0
    problems, _ = validate(files, root=root, stack=stack)
    if problems:
        for p in problems:
            print(f"schedule apply: {p.format()}", file=sys.stderr)
        return 2
    try:
        endpoint = stack_endpoint(root, stack)
        schedules = [bind_schedule(load(path, root), root, stack, endpoint) for path in files]
    except NamesError as exc:
        print(f"schedule apply: {exc}", file=sys.stderr)
        return 2
    if dry_run:
        for schedule in schedules:
            print(f"  schedule {describe(schedule)}: would be applied (stack {stack!r})")
        return 0
    try:
        client = client or ml_client(root, stack)
        if endpoint and any(vars(s).get("create_monitor") is not None for s in schedules):
            serving = live_deployment(client, endpoint)  # blue and green take turns
            schedules = [bind_schedule(s, root, stack, endpoint, serving) for s in schedules]
        if any(hasattr(getattr(s, "create_job", None), "jobs") for s in schedules):
            register_assets(client, root)
        for schedule in schedules:
            client.schedules.begin_create_or_update(schedule).result()  # type: ignore[attr-defined]
            print(f"  schedule {describe(schedule)}: applied (stack {stack!r})")
    except AzureSetupError as exc:
        print(f"schedule apply: {exc}", file=sys.stderr)
        return 2
    except AssetConflictError as exc:
        for line in exc.problems:
            print(f"schedule apply: {line}", file=sys.stderr)
        return 2
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``components`` and ``schedule`` to the ``ctloop`` command line."""
    p = sub.add_parser("components", help="Azure ML components and environments")
    csub = p.add_subparsers(dest="components_verb", metavar="<action>", required=True)
    c = csub.add_parser("register", help="register environments and components at their declared versions")
    c.add_argument("--stack", default="dev")
    c.add_argument("--dry-run", action="store_true", help="show what would be registered")
    _common(c)
    c.set_defaults(func=cmd_components_register)

    p = sub.add_parser("schedule", help="Azure ML schedules")
    ssub = p.add_subparsers(dest="schedule_verb", metavar="<action>", required=True)
    s = ssub.add_parser("apply", help="create or update the schedules in pipelines/schedules/")
    s.add_argument("paths", nargs="*", help="schedule files (default: pipelines/schedules/*.yml)")
    s.add_argument("--stack", default="dev")
    s.add_argument("--dry-run", action="store_true", help="check and show, do not call Azure")
    _common(s)
    s.set_defaults(func=cmd_schedule_apply)
