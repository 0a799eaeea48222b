"""Call the azure-ai-ml loader (the parser Azure ML uses) and turn its failures into Problems.

The SDK reports schema failures as a marshmallow ValidationError whose text embeds a JSON block
(``errors: [{message, path, location: "<file>#line N"}]``), other failures as ValidationException,
TypeError or AttributeError. Each becomes a readable Problem naming the file, field and reason.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import re
import warnings
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

from ctloop.engine.spec.problems import Problem, display_path
from ctloop.engine.spec.source import YamlSource

_LOCATION = re.compile(r"^(.*?)#line (\d+)$")
_NOT_IN_SET = re.compile(r"Value '([^']*)' passed is not in set (\[[^\]]*\])")
_NOT_FOUND = re.compile(
    r"(?:Can't find directory or file in resolved absolute path: |No such file or directory: )([^;'\]]+)"
)
_LOCAL_ONLY_FIELDS = (".compute",)  # compute is chosen on Azure; locally there is none to check


@contextlib.contextmanager
def quiet_sdk() -> Iterator[None]:
    """Silence the SDK's experimental-class warnings and log lines while loading."""
    logger = logging.getLogger("azure")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        with (
            warnings.catch_warnings(),
            contextlib.redirect_stderr(io.StringIO()),
            contextlib.redirect_stdout(io.StringIO()),
        ):
            warnings.simplefilter("ignore")
            yield
    finally:
        logger.setLevel(level)


def summarize(message: str, limit: int = 300) -> str:
    """One readable line from a loader message (which can be a nested union of schema errors)."""
    text = str(message)
    choices = list(dict.fromkeys(f"{v!r} is not one of {s}" for v, s in _NOT_IN_SET.findall(text)))
    if choices:
        text = "; ".join(choices)
    elif (found := _NOT_FOUND.search(text)) is not None:
        text = f"file or folder not found: {found.group(1).strip()}"
    elif "Missing data for required field" in text:
        text = "required field is missing"
    elif text.strip() in ("['Unknown field.']", "Unknown field."):
        text = "unknown field"
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _flatten(messages: Any, prefix: str = "") -> Iterator[tuple[str, str]]:
    if isinstance(messages, Mapping):
        for key, value in messages.items():
            yield from _flatten(
                value, f"{prefix}.{key}" if prefix and key is not None else str(key or prefix)
            )
    elif isinstance(messages, list) and messages and all(isinstance(m, str) for m in messages):
        yield prefix or "<spec>", " ".join(messages)
    elif isinstance(messages, list):
        for item in messages:
            yield from _flatten(item, prefix)
    else:
        yield prefix or "<spec>", str(messages)


def _embedded_errors(text: str) -> list[dict[str, Any]] | None:
    start, end = text.find("{"), text.rfind("}")
    if start < 0 or end < start:
        return None
    try:
        report = json.loads(text[start : end + 1])
    except ValueError:
        return None
    errors = report.get("errors") if isinstance(report, dict) else None
    return errors if isinstance(errors, list) else None


def translate(
    exc: BaseException, src: YamlSource, rule: str, sources: Mapping[Path, YamlSource]
) -> list[Problem]:
    """Problems for one loader exception; ``sources`` lets errors located in component files point there."""
    text = str(exc)
    errors = _embedded_errors(text) if exc.__class__.__name__ == "ValidationError" else None
    if errors is None and exc.__class__.__name__ == "ValidationError" and hasattr(exc, "messages"):
        messages = exc.messages
        if isinstance(messages, list) and len(messages) == 1 and isinstance(messages[0], str):
            errors = _embedded_errors(messages[0])
        if errors is None:
            errors = [{"path": p, "message": m} for p, m in _flatten(messages)]
    if not errors:
        kind = exc.__class__.__name__
        detail = summarize(text) or kind
        if kind in ("TypeError", "AttributeError", "KeyError", "IndexError"):
            detail = f"the azure-ai-ml loader could not read this spec ({kind}: {detail})"
        return [src.problem(rule, "<spec>", detail)]
    problems = []
    for err in errors:
        field = str(err.get("path") or "<spec>")
        reason = summarize(err.get("message", "invalid"))
        location = _LOCATION.match(str(err.get("location") or ""))
        where_file = Path(location.group(1)).absolute() if location else src.path
        line = int(location.group(2)) if location else None
        if where_file != src.path and where_file in sources:
            inner = sources[where_file]
            short = re.sub(r"^jobs\.[\w-]+\.component\.?", "", field) or "<root>"
            problems.append(
                Problem(inner.display, line or inner.line(short), "component.schema", short, reason)
            )
        elif where_file != src.path:
            problems.append(Problem(display_path(where_file), line, rule, field, reason))
        else:
            problems.append(Problem(src.display, line or src.line(field), rule, field, reason))
    return problems


def load(
    loader: Callable[[], Callable[..., Any]], src: YamlSource, rule: str, sources: Mapping[Path, YamlSource]
) -> tuple[Any, list[Problem]]:
    """``loader(path)`` then its offline ``_validate()``; returns (entity or None, problems)."""
    try:
        with quiet_sdk():
            entity = loader()(str(src.path))
            result = entity._validate()
    except Exception as exc:  # the SDK raises many unrelated types; all become Problems
        return None, translate(exc, src, rule, sources)
    problems = [
        src.problem(rule, str(field), summarize(message))
        for field, message in (getattr(result, "error_messages", None) or {}).items()
        if not str(field).endswith(_LOCAL_ONLY_FIELDS)
    ]
    return entity, problems


def _sdk_function(name: str) -> Callable[[], Callable[..., Any]]:
    def get() -> Callable[..., Any]:
        import azure.ai.ml  # slow (about 1.5 s): imported only when a spec is loaded

        return getattr(azure.ai.ml, name)

    return get


def load_job(src: YamlSource, sources: Mapping[Path, YamlSource]) -> tuple[Any, list[Problem]]:
    return load(_sdk_function("load_job"), src, "pipeline.schema", sources)


def load_component(src: YamlSource) -> tuple[Any, list[Problem]]:
    return load(_sdk_function("load_component"), src, "component.schema", {})
