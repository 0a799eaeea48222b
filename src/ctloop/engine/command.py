"""Turn a component's ``command`` into what runs locally, as Azure ML would run it.

``${{inputs.x}}`` / ``${{outputs.y}}`` become values and local paths, an optional ``$[[...]]``
block is kept only when every input it uses has a value, and ``python`` is the engine's own
interpreter (a shim first on PATH), so the step runs in the current virtual environment.
Distributed (pytorch) components run under torchrun, which gives each process RANK, LOCAL_RANK,
WORLD_SIZE, MASTER_ADDR and MASTER_PORT as Azure ML does.
"""

from __future__ import annotations

import os
import shlex
import shutil
import sys
from collections.abc import Mapping
from pathlib import Path

from ctloop.engine.spec.component_checks import OPTIONAL_BLOCK, PORT_REF


class CommandError(ValueError):
    """A command that cannot be rendered with the values it was given."""


def _value(kind: str, name: str, values: Mapping[str, str | None]) -> str:
    value = values.get(name)
    if value is None:
        raise CommandError(f"${{{{{kind}.{name}}}}} has no value")
    return value


def render(command: str, inputs: Mapping[str, str | None], outputs: Mapping[str, str]) -> str:
    """The command with optional blocks resolved and every reference substituted.

    ``inputs`` maps names to their rendered text (paths already shell-quoted), None when unset.
    """

    def block(match: object) -> str:
        body = match.group(1)  # type: ignore[attr-defined]
        used = [m.group(2) for m in PORT_REF.finditer(body) if m.group(1) == "inputs"]
        return body if all(inputs.get(n) is not None for n in used) else ""

    text = OPTIONAL_BLOCK.sub(block, command)

    def ref(match: object) -> str:
        kind, name = match.group(1), match.group(2)  # type: ignore[attr-defined]
        return _value(kind, name, inputs if kind == "inputs" else outputs)

    return PORT_REF.sub(ref, text)


def quote_path(path: Path | str) -> str:
    return shlex.quote(str(path))


def shell() -> str:
    return shutil.which("bash") or "/bin/sh"


def python_shim(folder: Path) -> Path:
    """A folder with ``python`` and ``python3`` that exec this interpreter (put first on PATH)."""
    folder.mkdir(parents=True, exist_ok=True)
    script = f'#!/bin/sh\nexec {shlex.quote(sys.executable)} "$@"\n'
    for name in ("python", "python3"):
        target = folder / name
        if not target.exists() or target.read_text() != script:
            tmp = folder / f".{name}.tmp"
            tmp.write_text(script)
            tmp.chmod(0o755)
            os.replace(tmp, target)
    return folder


def argv(command: str, processes: int | None) -> list[str]:
    """The argv that runs ``command``: a shell, or torchrun with ``processes`` workers each running it."""
    if processes is None:
        return [shell(), "-c", command]
    return [*torchrun(processes), "--no-python", shell(), "-c", command]


def torchrun(processes: int) -> list[str]:
    """This interpreter's torchrun on one node with ``processes`` workers (a free local port each run)."""
    return [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--nnodes",
        "1",
        "--nproc-per-node",
        str(processes),
        "--standalone",
    ]
