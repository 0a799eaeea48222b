"""``ctloop validate``: load every spec with azure-ai-ml and run the rules in ``policies/specs/``.

For each YAML file: parse it (syntax errors are Problems with a line, never tracebacks); run the
local engine's checks on pipelines and components (which load them with azure-ai-ml) or load the
other Azure ML kinds here; then every rule whose ``KINDS`` match. A rule that crashes is reported
as a Problem of that rule. By default every YAML file of the repository is checked except those
under ``tests/`` (test data, deliberately broken specs among them).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterable, Sequence
from pathlib import Path

from ctloop.gitops import azureml_load, engine_checks
from ctloop.gitops.problem import Problem, sort_key
from ctloop.gitops.rules import RULES_SUBDIR, Rule, load_rules
from ctloop.gitops.yamldoc import AZUREML_KINDS, Context, SpecDoc, YamlSyntaxError, read_doc

YAML_SUFFIXES = (".yml", ".yaml")
#: Folders never walked (build output, state, tools).
SKIP_DIRS = frozenset(
    {
        ".git",
        ".venv",
        "venv",
        ".ctloop",
        "node_modules",
        "__pycache__",
        ".pytest_cache",
        ".ruff_cache",
        "build",
        "dist",
        "mlruns",
        ".mypy_cache",
        ".azureml",
        "mutants",
    }
)
#: Skipped by the default walk only (a path given explicitly is always checked).
SKIP_PREFIXES = (Path("tests"),)
#: Kinds the local engine checks (loading with azure-ai-ml included); the others are loaded here.
ENGINE_KINDS = {
    "pipeline": engine_checks.pipeline_problems,
    "component": engine_checks.component_problems,
}
#: Which kinds a YAML file in a spec folder may be (a list or a typo must not slip through unchecked).
FOLDER_KINDS = {
    Path("components"): {"component"},
    Path("environments"): {"environment", "conda"},
    Path("pipelines"): {"pipeline"},
    Path("pipelines") / "schedules": {"schedule"},
    Path("pipelines") / "endpoints": {"endpoint", "deployment"},
}


#: Checks the runner itself makes (besides the engine's and the rules in policies/specs).
RUNNER_RULES = {
    "spec.kind": "a YAML file in a spec folder is a spec of that folder's kind (not a list, not empty)",
    "environment.schema": "the environment passes the azure-ai-ml loader",
    "schedule.schema": "the schedule passes the azure-ai-ml loader (load_schedule)",
    "endpoint.schema": "the online endpoint passes the azure-ai-ml loader",
    "deployment.schema": "the online deployment passes the azure-ai-ml loader",
}


def rules_dir_for(root: Path) -> Path:
    """``<root>/policies/specs`` when present, else the rules shipped with this repository."""
    here = root / RULES_SUBDIR
    if here.is_dir():
        return here
    from ctloop.gitops.settings import SOURCE_ROOT

    return SOURCE_ROOT / RULES_SUBDIR


def is_rules_repository(root: Path) -> bool:
    """Whether ``root`` is laid out like this repository: its own ``policies/specs``, or Pulumi stacks.

    Elsewhere (any other Azure ML repository) ``ctloop validate`` checks specs only.
    """
    return (root / RULES_SUBDIR).is_dir() or any(root.glob("Pulumi*.yaml"))


def _walk(base: Path, root: Path, skip_fixtures: bool) -> Iterable[Path]:
    """YAML files under ``base``, never descending into SKIP_DIRS (a venv alone has 100k files)."""
    found: list[Path] = []
    for folder, dirs, files in os.walk(base):
        dirs[:] = sorted(d for d in dirs if d not in SKIP_DIRS)
        here = Path(folder)
        if skip_fixtures:
            try:
                rel = here.relative_to(root)
            except ValueError:
                rel = here
            if any(rel.is_relative_to(p) for p in SKIP_PREFIXES):
                dirs[:] = []
                continue
        found.extend(here / f for f in files if f.endswith(YAML_SUFFIXES))
    return sorted(found)


def collect(paths: Sequence[str | Path], root: Path) -> list[Path]:
    """Files to check: the given files, YAML under given folders, or every YAML under ``root``."""
    if not paths:
        return list(_walk(root, root, skip_fixtures=True))
    found: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            found.extend(_walk(p, root, skip_fixtures=False))
        else:
            found.append(p)
    return list(dict.fromkeys(found))


def _folder_problem(doc: SpecDoc) -> Problem | None:
    try:
        rel = doc.path.resolve().relative_to(doc.root.resolve())
    except ValueError:
        return None
    allowed = FOLDER_KINDS.get(rel.parent)
    if allowed is None or doc.kind in allowed:
        return None
    return doc.problem(
        "spec.kind",
        (),
        f"a file in {rel.parent.as_posix()}/ must be a {' or '.join(sorted(allowed))} spec, "
        f"this one reads as {doc.kind!r}",
    )


def check_file(path: Path, ctx: Context, rules: Sequence[Rule], *, layout: bool = True) -> list[Problem]:
    """Every problem in one file: engine checks or azure-ai-ml loading, then the matching rules.

    ``layout`` adds the repository's folder-kind check (components/ holds components, ...).
    """
    shown = _display(path, ctx.root)
    if not path.is_file():
        return [Problem(shown, None, "yaml.file-exists", "<file>", "file not found")]
    try:
        doc = read_doc(path, ctx)
    except YamlSyntaxError as exc:
        return [Problem(shown, exc.line, "yaml.syntax", "<yaml>", exc.reason)]
    except (OSError, UnicodeDecodeError) as exc:
        return [Problem(shown, None, "yaml.file-exists", "<file>", f"cannot read: {exc}")]
    problems: list[Problem] = []
    folder = _folder_problem(doc) if layout else None
    if folder is not None:
        problems.append(folder)
    if doc.kind in ENGINE_KINDS:
        try:
            problems.extend(ENGINE_KINDS[doc.kind](doc))
        except Exception as exc:
            problems.append(doc.problem(engine_checks.ENGINE_RULE, (), f"engine check crashed: {exc!r}"))
    elif doc.kind in AZUREML_KINDS:
        doc.entity, found = azureml_load.load_entity(doc)
        problems.extend(found)
    for rule in rules:
        if not rule.applies_to(doc.kind):
            continue
        try:
            problems.extend(rule.check(doc))
        except Exception as exc:
            problems.append(doc.problem(rule.rule_id, (), f"rule crashed on this file: {exc!r}"))
    return problems


def _display(path: Path, root: Path) -> str:
    try:
        return str(path.resolve().relative_to(root.resolve()))
    except ValueError:
        return str(path)


def validate(
    paths: Sequence[str | Path] = (),
    root: Path | None = None,
    stack: str = "dev",
    rules_dir: Path | None = None,
    spec_only: bool | None = None,
) -> tuple[list[Problem], int]:
    """All problems in ``paths`` (default: the whole repository) and how many files were checked.

    ``spec_only`` checks each spec only as Azure ML would (the azure-ai-ml loader and the local
    engine's checks), without this repository's rules and folder layout: for any Azure ML
    repository. None (the default) means: spec-only where ``root`` has no ``policies/specs``.
    """
    root = (root or Path.cwd()).resolve()
    ctx = Context(root=root, stack=stack)
    if spec_only is None:
        spec_only = rules_dir is None and not is_rules_repository(root)
    rules = [] if spec_only else load_rules(rules_dir or rules_dir_for(root))
    files = collect(paths, root)
    with azureml_load.quiet_sdk():
        import azure.ai.ml  # noqa: F401 - first import prints experimental-class notices
    from ctloop.engine.spec.pipeline_checks import spec_only as remote_data_allowed

    problems: list[Problem] = []
    with remote_data_allowed() if spec_only else contextlib.nullcontext():
        for path in files:
            problems.extend(check_file(path, ctx, rules, layout=not spec_only))
    unique = list(dict.fromkeys(problems))
    return sorted(unique, key=sort_key), len(files)
