"""What a spec check reports: ``Problem`` (one finding) and ``SpecError`` (raised when loading fails)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

#: Every rule the spec checks apply, with what it enforces (``ctloop validate`` lists them).
RULES: dict[str, str] = {
    "yaml.file-exists": "the spec file exists and is readable",
    "yaml.syntax": "the file is valid YAML",
    "yaml.not-empty": "the file is not empty",
    "yaml.mapping": "the document is a mapping (not a list or a scalar)",
    "pipeline.schema": "the pipeline passes the azure-ai-ml loader and its validation",
    "pipeline.job-type-supported": "every job is a command job (the only type the local engine runs)",
    "pipeline.component-exists": "every job's component file exists and is local",
    "pipeline.input-path-exists": "every uri_* pipeline input points at an existing local path",
    "pipeline.job-port-declared": "a job binds only inputs/outputs its component declares",
    "pipeline.binding-syntax": "bindings are whole ${{parent.inputs.X}} or ${{parent.jobs.J.outputs.P}}",
    "pipeline.binding-exists": "bindings name pipeline inputs, jobs and ports that exist",
    "pipeline.binding-type": "data ports get paths and literal ports get literals",
    "pipeline.literal-type": "literal values match the type (and enum/min/max) of the port they reach",
    "pipeline.required-input": "required inputs, and inputs the command uses outside $[[...]], have a value",
    "pipeline.no-cycle": "the job graph has no cycle and no self-loop",
    "pipeline.sweep-settings": "sweep jobs name trial inputs in search_space, with settings the engine runs",
    "pipeline.distribution-supported": "distributed jobs use pytorch, mpi or tensorflow with positive counts",
    "component.schema": "the component passes the azure-ai-ml loader and its validation",
    "component.type-known": "the component type is command",
    "component.port-type": "every input/output has a known Azure ML type",
    "component.code-exists": "the component's code folder exists locally",
    "component.command-uses-declared-ports": "the command references only declared inputs and outputs",
}


def display_path(path: str | Path) -> str:
    """``path`` relative to the working directory when it lies under it, else absolute."""
    p = Path(path).absolute()
    try:
        return str(p.relative_to(Path.cwd()))
    except ValueError:
        return str(p)


@dataclass(frozen=True)
class Problem:
    """One finding: ``file:line: field: reason [rule_id]`` (``line`` is None when unknown)."""

    file: str
    line: int | None
    rule_id: str
    field: str
    reason: str

    def format(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        return f"{where}: {self.field}: {self.reason} [{self.rule_id}]"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class SpecError(ValueError):
    """A spec that cannot be run: names the file, the field and the reason; ``problems`` lists all."""

    def __init__(
        self, file: str | Path, field: str, reason: str, problems: Sequence[Problem] | None = None
    ) -> None:
        self.file = str(file)
        self.field = field
        self.reason = reason
        self.problems: list[Problem] = list(problems or [Problem(self.file, None, "spec", field, reason)])
        super().__init__(f"{self.file}: {field}: {reason}")

    @classmethod
    def from_problems(cls, problems: Sequence[Problem]) -> SpecError:
        first = problems[0]
        return cls(first.file, first.field, first.reason, problems)

    def format(self) -> str:
        """Every problem on its own line."""
        return "\n".join(p.format() for p in self.problems)


def sort_problems(problems: Sequence[Problem]) -> list[Problem]:
    """Stable order: by file, then line, then field; duplicates removed."""
    seen: dict[tuple[Any, ...], Problem] = {}
    for p in problems:
        seen.setdefault((p.file, p.line, p.rule_id, p.field, p.reason), p)
    return sorted(seen.values(), key=lambda p: (p.file, p.line or 0, p.field, p.rule_id))
