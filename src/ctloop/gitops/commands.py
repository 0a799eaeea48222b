"""``ctloop validate | lock | review``: the offline checks of the specs.

Exit codes follow ctloop's: 0 success, 2 invalid spec or usage. The verbs that write to Azure
(``components register``, ``schedule apply``) are in :mod:`ctloop.azure.commands`.
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
