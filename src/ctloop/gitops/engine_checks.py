"""The one adapter to the local engine's spec checks (``ctloop.engine.spec``).

The engine and ``ctloop validate`` share one implementation of the pipeline and component
checks: loading with azure-ai-ml, bindings to jobs/ports/parent inputs that exist, cycles,
declared ports in commands, literal types, code folders. This module calls the engine's public
``check_pipeline(path)`` / ``check_component(path)`` and converts what they return into gitops
Problems with paths relative to the checked root. It never re-implements a check. The engine's
rule ids and what each enforces are ``ctloop.engine.spec.RULES``.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from ctloop.gitops.problem import Problem, coerce
from ctloop.gitops.yamldoc import SpecDoc

ENGINE_RULE = "engine.check"


def _engine() -> Any:
    from ctloop.engine import spec

    return spec


def engine_rules() -> dict[str, str]:
    """Rule id -> what it enforces, for every check the engine runs."""
    return dict(_engine().RULES)


def _convert(found: list[Any], doc: SpecDoc) -> list[Problem]:
    problems = []
    for raw in found:
        p = coerce(raw, doc.rel, ENGINE_RULE)
        path = Path(p.file)
        if not path.is_absolute():
            path = Path.cwd() / path
        try:
            shown = str(path.resolve().relative_to(doc.root.resolve()))
        except ValueError:
            shown = str(path.resolve())
        problems.append(Problem(shown, p.line, p.rule_id, p.field, p.reason))
    return problems


def _run(check: Callable[[Path], list[Any]], doc: SpecDoc) -> list[Problem]:
    return _convert(list(check(doc.path)), doc)


def pipeline_problems(doc: SpecDoc) -> list[Problem]:
    """What the engine finds in a pipeline and the components it uses."""
    return _run(_engine().check_pipeline, doc)


def component_problems(doc: SpecDoc) -> list[Problem]:
    """What the engine finds in one component file."""
    return _run(_engine().check_component, doc)
