"""``ctloop validate | lock | review | components register | schedule apply``.

Exit codes follow ctloop's: 0 success, 1 a step failed (Azure), 2 invalid spec or usage.
Azure code is imported only inside the handlers that need it.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def _root(args: argparse.Namespace) -> Path:
    return Path(args.root).resolve() if args.root else Path.cwd()


def cmd_validate(args: argparse.Namespace) -> int:
    from ctloop.gitops.problem import format_rule_first
    from ctloop.gitops.rules import RuleError, load_rules
    from ctloop.gitops.validate import RUNNER_RULES, is_rules_repository, rules_dir_for, validate

    if args.list_rules:
        from ctloop.gitops.engine_checks import engine_rules

        for rule in load_rules(rules_dir_for(_root(args))):
            print(f"{rule.rule_id:40} {rule.doc.splitlines()[0]}  [{rule.path.name}]")
        for rule_id, what in sorted(engine_rules().items()):
            print(f"{rule_id:40} {what}  [ctloop.engine.spec]")
        for rule_id, what in sorted(RUNNER_RULES.items()):
            print(f"{rule_id:40} {what}  [ctloop.gitops.validate]")
        return 0
    try:
        spec_only = True if args.spec_only else None
        problems, checked = validate(args.paths, root=_root(args), stack=args.stack, spec_only=spec_only)
    except RuleError as exc:
        print(f"validate: {exc}", file=sys.stderr)
        return 2
    if args.format == "json":
        print(json.dumps([p.to_dict() for p in problems], indent=2))
    else:
        for p in problems:
            print(format_rule_first(p))
        files = len({p.file for p in problems})
        summary = f"{len(problems)} problem(s) in {files} file(s)" if problems else "no problems"
        against = (
            "as Azure ML checks them (spec only)"
            if args.spec_only or not is_rules_repository(_root(args))
            else f"against stack {args.stack!r}"
        )
        print(f"validate: {checked} file(s) checked {against}: {summary}", file=sys.stderr)
    return 2 if problems else 0


def cmd_lock(args: argparse.Namespace) -> int:
    from ctloop.gitops.versions import LOCK_PATH, LockError, update_lock

    root = _root(args)
    try:
        result = update_lock(root)
    except LockError as exc:
        print(f"lock: {exc}", file=sys.stderr)
        return 2
    for path, current, locked in result.refused:
        print(
            f"lock: {path.relative_to(root)}: {current.kind} {current.ref} is already locked with "
            f"different content ({locked.digest[:19]}...): bump its version; nothing was written",
            file=sys.stderr,
        )
    if result.refused:
        return 2
    for entry in result.added:
        print(f"locked {entry.kind} {entry.ref} {entry.digest}")
    print(
        f"lock: {LOCK_PATH.as_posix()}: {len(result.added)} added, {len(result.unchanged)} unchanged",
        file=sys.stderr,
    )
    return 0


def cmd_review(args: argparse.Namespace) -> int:
    from ctloop.gitops.review import ReviewError, review_markdown

    try:
        text = review_markdown(_root(args), args.base)
    except ReviewError as exc:
        print(f"review: {exc}", file=sys.stderr)
        return 2
    if args.output:
        Path(args.output).write_text(text, encoding="utf-8")
    else:
        print(text)
    return 0


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


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--root", help="repository root (default: the working directory)")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("validate", help="check every spec offline (exit 2 on any violation)")
    p.add_argument("paths", nargs="*", help="files or folders (default: every YAML in the repository)")
    p.add_argument("--stack", default="dev", help="stack whose config compute names must exist in")
    p.add_argument("--format", choices=("text", "json"), default="text")
    p.add_argument("--list-rules", action="store_true", help="list every rule id and what it enforces")
    p.add_argument(
        "--spec-only",
        action="store_true",
        help="check specs only as Azure ML does, without this repository's rules (any Azure ML repository;"
        " the default where the root has no policies/specs)",
    )
    _common(p)
    p.set_defaults(func=cmd_validate)

    p = sub.add_parser("lock", help="record component/environment content hashes in components/versions.lock")
    _common(p)
    p.set_defaults(func=cmd_lock)

    p = sub.add_parser("review", help="Markdown summary of what a change does to the specs")
    p.add_argument("--base", required=True, help="git ref to compare the working tree with")
    p.add_argument("--output", help="write the Markdown here instead of stdout")
    _common(p)
    p.set_defaults(func=cmd_review)

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
