"""Load the reviewed threshold files in ``policies/`` and validate them against their JSON Schemas.

Every decision threshold lives in ``policies/<name>.yml``; its schema is
``policies/schemas/<name>.schema.json``. A file that breaks its schema is rejected with an
error that names the file, the field and the reason. Code never carries a threshold literal.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import jsonschema
import yaml

POLICIES_ENV = "CTLOOP_POLICIES"


class PolicyError(ValueError):
    """A policy file that cannot be used: names the file, the field and the reason."""

    def __init__(self, file: str | Path, field: str, reason: str) -> None:
        self.file = str(file)
        self.field = field
        self.reason = reason
        super().__init__(f"{self.file}: {field}: {reason}")


def policies_dir(explicit: str | Path | None = None) -> Path:
    """The policies folder: an explicit path, else ``$CTLOOP_POLICIES``, else ``./policies``."""
    if explicit:
        return Path(explicit)
    return Path(os.environ.get(POLICIES_ENV, "policies"))


def _field_path(error: jsonschema.ValidationError) -> str:
    parts = [str(p) for p in error.absolute_path]
    if error.validator == "required":
        missing = error.message.split("'")[1] if "'" in error.message else "?"
        parts.append(missing)
    elif error.validator == "additionalProperties" and "'" in error.message:
        parts.append(error.message.split("'")[1])
    return ".".join(parts) or "<root>"


def read_yaml(path: str | Path) -> Any:
    """Parse one YAML file, turning syntax errors and empty files into a PolicyError."""
    path = Path(path)
    if not path.is_file():
        raise PolicyError(path, "<file>", "file not found")
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark is not None else "<yaml>"
        raise PolicyError(path, where, f"invalid YAML: {getattr(exc, 'problem', exc)}") from None
    if data is None:
        raise PolicyError(path, "<root>", "file is empty")
    return data


def validate(data: Any, schema: dict[str, Any], file: str | Path) -> None:
    """Validate ``data`` against ``schema``; raise PolicyError for the first (most specific) error."""
    validator = jsonschema.Draft202012Validator(schema)
    errors = sorted(validator.iter_errors(data), key=lambda e: (len(list(e.absolute_path)), e.message))
    if errors:
        best = jsonschema.exceptions.best_match(errors)
        raise PolicyError(file, _field_path(best), best.message)


def schema_path(name: str, directory: str | Path | None = None) -> Path:
    return policies_dir(directory) / "schemas" / f"{name}.schema.json"


def load_policy(name: str, directory: str | Path | None = None) -> dict[str, Any]:
    """Read ``<dir>/<name>.yml`` and validate it against ``<dir>/schemas/<name>.schema.json``."""
    base = policies_dir(directory)
    path = base / f"{name}.yml"
    data = read_yaml(path)
    spath = schema_path(name, base)
    if not spath.is_file():
        raise PolicyError(path, "<schema>", f"no JSON Schema at {spath}")
    validate(data, json.loads(spath.read_text()), path)
    return data
