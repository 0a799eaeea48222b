"""Read one YAML spec: its data, the line of every field, and which kind of spec it is.

Rules receive a :class:`SpecDoc`; ``doc.problem(rule_id, path, reason)`` builds a Problem whose
line comes from the composed YAML nodes (the key's line for a mapping entry).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ctloop.gitops.problem import Problem

FieldPath = tuple[str | int, ...]

# Suffix of an Azure ML ``$schema`` URL -> spec kind.
_SCHEMA_KINDS = {
    "commandcomponent": "component",
    "pipelinecomponent": "component",
    "pipelinejob": "pipeline",
    "environment": "environment",
    "schedule": "schedule",
    "managedonlineendpoint": "endpoint",
    "kubernetesonlineendpoint": "endpoint",
    "managedonlinedeployment": "deployment",
    "kubernetesonlinedeployment": "deployment",
    "batchendpoint": "batch-endpoint",
    "batchdeployment": "batch-deployment",
}

#: Kinds that azure-ai-ml can load.
AZUREML_KINDS = frozenset(
    {"component", "pipeline", "environment", "schedule", "endpoint", "deployment", "batch-endpoint"}
)


#: libyaml's parser when PyYAML was built with it (same nodes and marks, several times faster).
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class YamlSyntaxError(ValueError):
    """The file is not one well-formed YAML document."""

    def __init__(self, line: int | None, reason: str) -> None:
        self.line = line
        self.reason = reason
        super().__init__(f"line {line}: {reason}" if line else reason)


def parse(text: str) -> tuple[Any, dict[FieldPath, int]]:
    """Parse one YAML document into plain data and a map from field path to 1-based line."""
    try:
        node = yaml.compose(text, Loader=_LOADER)
        if node is None:
            return None, {}
        loader = yaml.SafeLoader("")
        try:
            data = loader.construct_document(node)
        finally:
            loader.dispose()
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise YamlSyntaxError(mark.line + 1 if mark else None, f"invalid YAML: {problem}") from None
    except (RecursionError, ValueError, TypeError) as exc:
        raise YamlSyntaxError(None, f"invalid YAML: {exc}") from None
    lines: dict[FieldPath, int] = {}
    _index(node, (), lines, set())
    return data, lines


def _index(node: yaml.Node, path: FieldPath, out: dict[FieldPath, int], seen: set[int]) -> None:
    out.setdefault(path, node.start_mark.line + 1)
    if id(node) in seen:  # aliases: index each node once (also stops recursive anchors)
        return
    seen.add(id(node))
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            key = key_node.value if isinstance(key_node, yaml.ScalarNode) else str(key_node.start_mark)
            child = (*path, key)
            out.setdefault(child, key_node.start_mark.line + 1)
            _index(value_node, child, out, seen)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _index(item, (*path, i), out, seen)


def detect_kind(path: Path, data: Any) -> str:
    """Classify a YAML file: an Azure ML spec kind, or policy, conda, stack, ci, yaml."""
    name = path.name
    parts = path.parts
    if name.startswith("Pulumi.") and name.count(".") >= 2:
        return "stack" if name not in ("Pulumi.yaml", "Pulumi.yml") else "pulumi-project"
    if name in ("azure-pipelines.yml", "azure-pipelines.yaml") or (
        len(parts) >= 3 and parts[-3] == ".github" and parts[-2] == "workflows"
    ):
        return "ci"
    if path.parent.name == "policies" or (path.parent / "schemas" / f"{path.stem}.schema.json").is_file():
        return "policy"
    if not isinstance(data, dict):
        return "yaml"
    schema = str(data.get("$schema", "")).rstrip("/").rsplit("/", 1)[-1].lower()
    schema = schema.removesuffix(".json").removesuffix(".schema")
    if schema in _SCHEMA_KINDS:
        return _SCHEMA_KINDS[schema]
    if data.get("type") == "pipeline" and "jobs" in data:
        return "pipeline"
    if data.get("type") == "command" and "command" in data and "name" in data:
        return "component"
    if "trigger" in data and any(k in data for k in ("create_job", "create_monitor")):
        return "schedule"
    if "endpoint_name" in data and "name" in data:
        return "deployment"
    if "auth_mode" in data and "name" in data:
        return "endpoint"
    if "name" in data and any(k in data for k in ("image", "build", "conda_file")):
        return "environment"
    if "dependencies" in data and ("channels" in data or "name" in data):
        return "conda"
    return "yaml"


@dataclass
class Context:
    """What every rule may need beyond one file: the repository root, the target stack, caches."""

    root: Path
    stack: str = "dev"
    cache: dict[str, Any] = field(default_factory=dict)

    def cached(self, key: str, factory: Any) -> Any:
        if key not in self.cache:
            self.cache[key] = factory()
        return self.cache[key]


@dataclass
class SpecDoc:
    """One parsed YAML file handed to every rule."""

    path: Path
    kind: str
    data: Any
    lines: dict[FieldPath, int]
    ctx: Context
    entity: Any = None  # the azure-ai-ml object, when the kind is one it loads and loading worked

    @property
    def rel(self) -> str:
        """The path as shown in messages: relative to the root when inside it."""
        try:
            return str(self.path.resolve().relative_to(self.ctx.root.resolve()))
        except ValueError:
            return str(self.path)

    @property
    def root(self) -> Path:
        return self.ctx.root

    def line(self, path: FieldPath = ()) -> int | None:
        """Line of a field, else of its nearest ancestor that is present."""
        for end in range(len(path), -1, -1):
            if path[:end] in self.lines:
                return self.lines[path[:end]]
        return None

    def problem(self, rule_id: str, path: FieldPath | str, reason: str) -> Problem:
        if isinstance(path, str):
            fpath: FieldPath = tuple(p for p in path.split(".") if p)
            label = path or "<root>"
        else:
            fpath = path
            label = ".".join(str(p) for p in path) or "<root>"
        return Problem(self.rel, self.line(fpath), rule_id, label, reason)

    def get(self, *path: str | int, default: Any = None) -> Any:
        """Walk ``data`` along ``path``; ``default`` when a step is missing or of the wrong type."""
        cur = self.data
        for p in path:
            in_list = isinstance(cur, list) and isinstance(p, int) and 0 <= p < len(cur)
            if (isinstance(cur, dict) and p in cur) or in_list:
                cur = cur[p]
            else:
                return default
        return cur


def iter_scalars(data: Any, path: FieldPath = ()) -> Iterator[tuple[FieldPath, Any]]:
    """Every leaf value with its field path (mapping keys and list indices)."""
    stack: list[tuple[FieldPath, Any]] = [(path, data)]
    seen: set[int] = set()
    while stack:
        p, value = stack.pop()
        if isinstance(value, dict | list):
            if id(value) in seen:
                continue
            seen.add(id(value))
            items = value.items() if isinstance(value, dict) else enumerate(value)
            stack.extend(((*p, k), v) for k, v in reversed(list(items)))
        else:
            yield p, value


def read_doc(path: Path, ctx: Context) -> SpecDoc:
    """Read and parse ``path``; raises YamlSyntaxError (or OSError/UnicodeDecodeError)."""
    data, lines = parse(path.read_text(encoding="utf-8"))
    return SpecDoc(path=path, kind=detect_kind(path, data), data=data, lines=lines, ctx=ctx)
