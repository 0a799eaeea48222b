"""The step cache: a step is reused when the hash of everything that determines its outputs is unchanged.

The key covers the component spec, the code snapshot, the resolved literal inputs, the content of
every input file/folder and the process layout. An entry points at the outputs of the run that
produced them (no copy); it is ignored when those outputs are gone.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ctloop.engine.hashing import value_hash
from ctloop.fileio import write_json_atomic

CACHE_VERSION = 1


@dataclass
class CacheEntry:
    """Outputs of one successful step, as recorded by the run that produced them."""

    key: str
    run_id: str
    step: str
    outputs: dict[str, str]
    output_hashes: dict[str, str]
    metrics: dict[str, Any] = field(default_factory=dict)
    output_metrics: dict[str, Any] = field(default_factory=dict)
    mlflow_run_id: str | None = None
    created: str = ""


def step_key(
    *,
    spec_hash: str,
    code_hash: str | None,
    literals: Mapping[str, Any],
    input_hashes: Mapping[str, str | None],
    layout: Mapping[str, Any],
) -> str:
    """The cache key of one step execution."""
    return value_hash(
        {
            "v": CACHE_VERSION,
            "component": spec_hash,
            "code": code_hash,
            "literals": dict(literals),
            "inputs": dict(input_hashes),
            "layout": dict(layout),
        }
    )


class StepCache:
    """Cache entries as ``<root>/<key>.json``."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def lookup(self, key: str) -> CacheEntry | None:
        path = self.root / f"{key}.json"
        try:
            entry = CacheEntry(**json.loads(path.read_text(encoding="utf-8")))
        except (OSError, ValueError, TypeError):
            return None
        if not all(Path(p).exists() for p in entry.outputs.values()):
            return None
        return entry

    def store(self, entry: CacheEntry) -> None:
        write_json_atomic(self.root / f"{entry.key}.json", asdict(entry), default=str, fsync=False)
