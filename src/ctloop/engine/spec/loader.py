"""Public entry points: check a pipeline or component (all problems), or load a pipeline to run it."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import replace
from pathlib import Path

from ctloop.engine.spec import memo, sdk
from ctloop.engine.spec.build import build_spec
from ctloop.engine.spec.component_checks import component_file_problems
from ctloop.engine.spec.model import PipelineSpec
from ctloop.engine.spec.overrides import apply_overrides
from ctloop.engine.spec.pipeline_checks import (
    Precheck,
    local_data_required,
    precheck_pipeline,
    raw_binding_problems,
)
from ctloop.engine.spec.problems import Problem, SpecError, sort_problems
from ctloop.engine.spec.semantics import semantic_problems
from ctloop.engine.spec.source import YamlSource, read_source


def _analyse(
    path: str | Path, *, use_memo: bool = False, on_validate: Callable[[], None] | None = None
) -> tuple[PipelineSpec | None, list[Problem]]:
    problems: list[Problem] = []
    src = read_source(path, problems, what="pipeline")
    if src is None:
        return None, problems
    pre = precheck_pipeline(src)
    if pre.service_only and not pre.problems:  # spec-only check of a pipeline only Azure ML runs
        return None, raw_binding_problems(src) + sdk.load_job(src, pre.sources)[1]
    if pre.problems:
        return None, pre.problems
    key = memo.memo_key(pre.sources) if use_memo else ""
    spec = memo.recall(key, pre.sources) if use_memo else None
    recalled = spec is not None
    if spec is None:
        if on_validate is not None:
            on_validate()
        spec, problems = _load_with_sdk(src, pre)
        if spec is None:
            return None, problems
    problems, order = semantic_problems(spec)
    if problems:
        return None, problems
    spec = replace(spec, order=order)
    if use_memo and not recalled:
        memo.remember(key, spec)
    return spec, []


def _load_with_sdk(src: YamlSource, pre: Precheck) -> tuple[PipelineSpec | None, list[Problem]]:
    """Load every component and the pipeline with azure-ai-ml, then build the plain model."""
    job, problems = sdk.load_job(src, pre.sources)
    entities = {}
    for path, csrc in pre.sources.items():
        if csrc is src:
            continue
        entity, found = sdk.load_component(csrc)
        entities[path] = entity
        if problems or job is None:
            # the service checks a component as part of the pipeline: report a component's own
            # problems only when the pipeline does not load (they locate its errors better)
            problems += found
    if problems or job is None:
        return None, problems
    try:
        return build_spec(src, job, pre.components, pre.sources, entities), []
    except Exception as exc:  # an SDK object shaped in a way this engine does not know
        reason = f"the loaded pipeline could not be read ({exc.__class__.__name__}: {exc})"
        return None, [src.problem("pipeline.schema", "<spec>", reason)]


def check_pipeline(path: str | Path) -> list[Problem]:
    """Every problem found in the pipeline at ``path`` and the components it uses (never raises)."""
    try:
        return sort_problems(_analyse(path)[1])
    except Exception as exc:  # a check must report, not crash
        reason = f"the spec check failed unexpectedly ({exc.__class__.__name__}: {exc})"
        return [Problem(str(path), None, "pipeline.schema", "<spec>", reason)]


def check_component(path: str | Path) -> list[Problem]:
    """Every problem found in one component file (never raises)."""
    problems: list[Problem] = []
    src = read_source(path, problems, what="component")
    if src is None:
        return problems
    if not local_data_required() and src.data.get("type", "command") != "command":
        return sort_problems(sdk.load_component(src)[1])  # spec-only: a kind only Azure ML runs
    problems = component_file_problems(src)
    if not problems:
        problems = sdk.load_component(src)[1]
    return sort_problems(problems)


def load_pipeline(
    path: str | Path,
    overrides: Mapping[str, str] | None = None,
    *,
    use_memo: bool = False,
    on_validate: Callable[[], None] | None = None,
) -> PipelineSpec:
    """The checked pipeline ready to run, with ``overrides`` (``--set``) applied; SpecError otherwise.

    ``use_memo`` skips the azure-ai-ml loader when these exact files passed it before (see memo.py);
    ``on_validate`` is called just before the loader runs (the engine starts MLflow's worker then).
    """
    spec, problems = _analyse(path, use_memo=use_memo, on_validate=on_validate)
    if problems or spec is None:
        raise SpecError.from_problems(sort_problems(problems))
    spec = apply_overrides(spec, overrides or {})
    if overrides:
        problems, _ = semantic_problems(spec)
        if problems:
            raise SpecError.from_problems(sort_problems(problems))
    return spec
