"""Azure ML input types, and checking/coercing a literal value against a literal port."""

from __future__ import annotations

import re
from typing import Any

LITERAL_TYPES = frozenset({"string", "integer", "number", "boolean"})
FILE_TYPES = frozenset({"uri_file"})
FOLDER_TYPES = frozenset({"uri_folder", "mlflow_model", "custom_model", "mltable", "triton_model", "path"})
PATH_TYPES = FILE_TYPES | FOLDER_TYPES
KNOWN_TYPES = LITERAL_TYPES | PATH_TYPES

_INT = re.compile(r"[+-]?\d+")
_BOOL = {"true": True, "false": False}


class LiteralTypeError(ValueError):
    """A value that does not fit a literal port (the message is the reason)."""


def _number(value: Any, kind: str) -> int | float:
    if isinstance(value, bool):
        raise LiteralTypeError(
            f"{value!r} is a boolean, not an {kind}"
            if kind == "integer"
            else f"{value!r} is a boolean, not a number"
        )
    if kind == "integer":
        if isinstance(value, int):
            return value
        if isinstance(value, str) and _INT.fullmatch(value.strip()):
            return int(value)
        raise LiteralTypeError(f"{value!r} is not an integer")
    if isinstance(value, int | float):
        return value
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            pass
    raise LiteralTypeError(f"{value!r} is not a number")


def coerce_literal(
    value: Any,
    type_: str,
    *,
    enum: list[Any] | tuple[Any, ...] | None = None,
    minimum: float | None = None,
    maximum: float | None = None,
) -> Any:
    """``value`` converted to ``type_`` (string/integer/number/boolean), or LiteralTypeError why not.

    Strings from the command line (``--set n=5``) are parsed; YAML values must already fit
    (a string that spells a number is accepted for a number port, anything else is not).
    """
    if isinstance(value, dict | list):
        raise LiteralTypeError(f"a {type(value).__name__} is not a {type_} literal")
    if type_ in ("integer", "number"):
        out: Any = _number(value, type_)
        if minimum is not None and out < minimum:
            raise LiteralTypeError(f"{out} is below the minimum {minimum}")
        if maximum is not None and out > maximum:
            raise LiteralTypeError(f"{out} is above the maximum {maximum}")
    elif type_ == "boolean":
        if isinstance(value, bool):
            out = value
        elif isinstance(value, str) and value.strip().lower() in _BOOL:
            out = _BOOL[value.strip().lower()]
        else:
            raise LiteralTypeError(f"{value!r} is not a boolean (true or false)")
    elif type_ == "string":
        out = value if isinstance(value, str) else str(value)
    else:
        raise LiteralTypeError(f"{type_!r} is not a literal type")
    if enum and out not in [str(e) if type_ == "string" else e for e in enum]:
        raise LiteralTypeError(f"{out!r} is not one of {list(enum)}")
    return out


def render_literal(value: Any) -> str:
    """How a literal appears in a command line (``True``/``False`` for booleans, as Azure ML renders)."""
    return str(value)
