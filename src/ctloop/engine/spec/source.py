"""Read one YAML spec file and remember the line of every field, for messages that point at it."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ctloop.engine.spec.problems import Problem, display_path

Field = tuple[str, ...]


@dataclass
class YamlSource:
    """A parsed spec file: its data and the 1-based line of each field path (``("jobs", "train")``)."""

    path: Path
    data: Any
    lines: dict[Field, int] = field(default_factory=dict)

    @property
    def display(self) -> str:
        return display_path(self.path)

    def line(self, where: Field | str) -> int | None:
        """Line of ``where`` or of its nearest enclosing field that has one."""
        parts = tuple(where.split(".")) if isinstance(where, str) else where
        while parts:
            if parts in self.lines:
                return self.lines[parts]
            parts = parts[:-1]
        return self.lines.get((), None)

    def problem(self, rule_id: str, where: Field | str, reason: str) -> Problem:
        name = ".".join(where) if isinstance(where, tuple) else where
        return Problem(self.display, self.line(where), rule_id, name or "<root>", reason)


def _index(node: yaml.Node, prefix: Field, out: dict[Field, int]) -> None:
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            if isinstance(key, yaml.ScalarNode):
                here = (*prefix, str(key.value))
                out.setdefault(here, key.start_mark.line + 1)
                _index(value, here, out)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            here = (*prefix, str(i))
            out.setdefault(here, item.start_mark.line + 1)
            _index(item, here, out)


def read_source(path: str | Path, problems: list[Problem], *, what: str = "spec") -> YamlSource | None:
    """Parse ``path``; on a missing, unreadable, invalid, empty or non-mapping file append a Problem."""
    path = Path(path).absolute()
    shown = display_path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        problems.append(Problem(shown, None, "yaml.file-exists", "<file>", f"{what} file not found"))
        return None
    except (OSError, UnicodeDecodeError) as exc:
        reason = f"{what} file cannot be read: {exc.__class__.__name__}: {exc}"
        problems.append(Problem(shown, None, "yaml.file-exists", "<file>", reason))
        return None
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        line = mark.line + 1 if mark is not None else None
        detail = " ".join(str(getattr(exc, "problem", None) or exc).split())
        problems.append(Problem(shown, line, "yaml.syntax", "<yaml>", f"invalid YAML: {detail}"))
        return None
    if data is None or node is None:
        problems.append(Problem(shown, None, "yaml.not-empty", "<root>", f"{what} file is empty"))
        return None
    if not isinstance(data, dict):
        kind = "a list" if isinstance(data, list) else f"a {type(data).__name__}"
        reason = f"the document is {kind}; a {what} must be a mapping of fields"
        problems.append(Problem(shown, 1, "yaml.mapping", "<root>", reason))
        return None
    lines: dict[Field, int] = {(): 1}
    _index(node, (), lines)
    return YamlSource(path, data, lines)
