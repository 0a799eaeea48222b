"""Load and check Azure ML pipeline/component specs for the local engine (and ``ctloop validate``).

- ``check_pipeline(path) -> list[Problem]`` / ``check_component(path)``: every problem, never raises.
- ``load_pipeline(path, overrides) -> PipelineSpec``: ready to run, or ``SpecError(file, field, reason)``
  whose ``problems`` lists them all.
- ``RULES``: rule id -> what it enforces. Each ``Problem`` is ``(file, line, rule_id, field, reason)``.
"""

from ctloop.engine.spec.loader import check_component, check_pipeline, load_pipeline
from ctloop.engine.spec.model import (
    Binding,
    ComponentSpec,
    JobOutput,
    JobSpec,
    PipelineInput,
    PipelineSpec,
    Port,
)
from ctloop.engine.spec.overrides import apply_overrides, parse_assignments
from ctloop.engine.spec.problems import RULES, Problem, SpecError

__all__ = [
    "RULES",
    "Binding",
    "ComponentSpec",
    "JobOutput",
    "JobSpec",
    "PipelineInput",
    "PipelineSpec",
    "Port",
    "Problem",
    "SpecError",
    "apply_overrides",
    "check_component",
    "check_pipeline",
    "load_pipeline",
    "parse_assignments",
]
