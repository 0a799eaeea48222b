"""Policy preflight: every policy a pipeline binds, checked before any step starts.

A policy file is loaded the way the code that uses it loads it (schema, then the typed loader with
its rules between fields: a label listed as a feature, a range whose min exceeds its max, canary
weights that do not end at 100), plus the rules between files (``data.yml``'s evaluation slice is
at least ``promotion.yml``'s ``min_eval_rows``). ``ctloop run`` calls :func:`check_pipeline_inputs`
and exits 2 naming file, field and reason; ``ctloop validate`` (rule ``policy.schema-valid``)
calls :func:`check_policy_file` for each file.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from ctloop.policies import PolicyError, load_policy

SCHEMAS_DIR = "schemas"


def _data(folder: Path) -> None:
    from ctloop.contracts import load_data_policy

    load_data_policy(folder)


def _rollout(folder: Path) -> None:
    importlib.import_module("ctloop.rollout.policy").load_rollout_policy(folder)


def _promotion(folder: Path) -> None:
    from ctloop.gate import GatePolicy

    GatePolicy.from_dict(load_policy("promotion", folder))


def _retraining(folder: Path) -> None:
    from ctloop.triggers import TriggerPolicy

    TriggerPolicy.from_dict(load_policy("retraining", folder))
    importlib.import_module("ctloop.monitor.settings").load_settings(folder)


def _dnn(folder: Path) -> None:
    importlib.import_module("ctloop.dnn.config").load_config(folder)


#: policy name -> the loader its users call (schema and the typed loader's own rules).
LOADERS: dict[str, Callable[[Path], None]] = {
    "data": _data,
    "rollout": _rollout,
    "promotion": _promotion,
    "retraining": _retraining,
    "dnn": _dnn,
}


def _as_policy_error(path: Path, exc: Exception) -> PolicyError:
    if isinstance(exc, PolicyError):
        return exc
    if isinstance(exc, KeyError):
        return PolicyError(path, str(exc.args[0]) if exc.args else "<root>", "required field missing")
    return PolicyError(path, "<root>", f"{type(exc).__name__}: {exc}")


#: Loaders that add rules between fields (the others only read the fields their schema requires).
RULE_LOADERS = frozenset({"data", "rollout"})


def check_policy_file(path: str | Path, readers: bool = True) -> list[PolicyError]:
    """Problems of one ``policies/<name>.yml``: schema, typed loader, rules between files.

    ``readers=False`` runs only the loaders that carry rules (a spec repository's own reduced
    schemas may not require every field the readers read)."""
    path = Path(path)
    folder, name = path.parent, path.stem
    loader = LOADERS.get(name) if readers or name in RULE_LOADERS else None
    loader = loader or (lambda f: load_policy(name, f) and None)
    try:
        loader(folder)
    except Exception as exc:  # a loader's own error type or a field it could not read
        return [_as_policy_error(path, exc)]
    return cross_file_problems(folder, name)


def cross_file_problems(folder: Path, name: str) -> list[PolicyError]:
    """Rules between policy files that concern ``name`` (reported on ``name``'s file)."""
    if name != "data" or not (folder / "promotion.yml").is_file():
        return []
    try:
        data, promotion = load_policy("data", folder), load_policy("promotion", folder)
    except PolicyError:
        return []  # reported by the file's own check
    have, need = int(data["split"]["min_eval_rows"]), int(promotion["min_eval_rows"])
    if have < need:
        reason = f"{have} is below promotion.yml min_eval_rows {need}: the gate could never decide"
        return [PolicyError(folder / "data.yml", "split.min_eval_rows", reason)]
    return []


def policy_files(folder: Path) -> list[Path]:
    """The policy files of a policies folder: each ``<name>.yml`` with a schema, or a known loader."""
    schemas = folder / SCHEMAS_DIR
    return sorted(
        p for p in folder.glob("*.yml") if (schemas / f"{p.stem}.schema.json").is_file() or p.stem in LOADERS
    )


def check_folder(folder: str | Path) -> list[PolicyError]:
    """Every problem of every policy file in ``folder`` (each once: loaders read each other's files)."""
    found: dict[str, PolicyError] = {}
    for path in policy_files(Path(folder)):
        for problem in check_policy_file(path):
            found.setdefault(str(problem), problem)
    return list(found.values())


def policy_folders(values: Iterable[Any]) -> list[Path]:
    """The input values that are policies folders (a folder holding ``schemas/``)."""
    found = []
    for value in values:
        try:
            path = Path(str(value))
        except TypeError:
            continue
        if path.is_dir() and (path / SCHEMAS_DIR).is_dir() and path.resolve() not in found:
            found.append(path.resolve())
    return found


def check_pipeline_inputs(inputs: Mapping[str, Any]) -> list[PolicyError]:
    """Every problem in the policies folders a pipeline's resolved inputs bind."""
    return [problem for folder in policy_folders(inputs.values()) for problem in check_folder(folder)]
