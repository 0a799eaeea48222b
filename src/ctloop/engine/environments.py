"""Per-environment virtual environments for steps (opt-in: ``ctloop run --environments build``).

By default every step runs in the interpreter that runs ctloop. With ``build``, a step whose
environment declares a ``conda_file`` runs in a virtual environment made with uv from that file's
``pip:`` section, on this machine's Python:

- cached under ``$CTLOOP_ENV_CACHE`` (default ``~/.cache/ctloop/environments``) by the sha256 of
  the conda file and the host Python's version, so a file is resolved once;
- a declared ``python=X.Y`` other than the host's, and conda packages (which uv cannot install),
  are reported as warnings: the step still runs, on the host Python;
- what the file does not list falls back to ctloop's own environment (ctloop itself is one of
  them), a layer below the file's packages: the file's pins win;
- a package that cannot be resolved stops the step with one line naming the file and the package;
- uv's own settings apply (``UV_INDEX_URL``, ``UV_FIND_LINKS``, ``UV_NO_INDEX`` for offline use).

Environments given by name (``azureml:...``, registry environments) or by Docker image only have
no package list here: those steps run in ctloop's environment, unless ``$CTLOOP_ENVIRONMENT_MAP``
names a YAML file that maps the reference to a local conda file (paths relative to the map).
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import re
import shutil
import site
import subprocess
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from ctloop.engine.spec.model import JobSpec, PipelineSpec

MODES = ("current", "build")
CACHE_ENV = "CTLOOP_ENV_CACHE"
_MARKER = "ctloop-environment.json"
_PYTHON_PIN = re.compile(r"^python\s*(==|=|>=|<=|~=|>|<)?\s*([\d.]+)")
_UV_PACKAGE = re.compile(
    r"[Bb]ecause (?:only |there is no version of |there are no versions of )?([A-Za-z0-9][A-Za-z0-9._\-]*)"
)


class EnvironmentBuildError(Exception):
    """An environment could not be built: ``str()`` is one line naming the file and the package."""


@dataclass(frozen=True)
class CondaFile:
    """What a conda file asks for: the Python version, pip requirements and other conda packages."""

    path: Path
    python: str | None
    pip: tuple[str, ...]
    conda: tuple[str, ...]


def cache_root() -> Path:
    """Where built environments live (``$CTLOOP_ENV_CACHE`` or the user cache)."""
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV]).absolute()
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "ctloop" / "environments"


def _load_yaml(path: Path, what: str) -> Any:
    """``path`` parsed as YAML; unreadable or malformed is an EnvironmentBuildError naming ``what``."""
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise EnvironmentBuildError(f"{path}: cannot be read as {what} ({exc.__class__.__name__})") from exc


def read_conda(path: Path) -> CondaFile:
    """Parse a conda environment file; an unreadable or malformed one is an EnvironmentBuildError."""
    data = _load_yaml(path, "a conda file")
    deps = data.get("dependencies") if isinstance(data, dict) else None
    if not isinstance(deps, list):
        raise EnvironmentBuildError(f"{path}: dependencies: must be a list (conda environment file)")
    python, pip, conda = None, [], []
    for item in deps:
        if isinstance(item, dict) and isinstance(item.get("pip"), list):
            pip += [str(p).strip() for p in item["pip"] if str(p).strip()]
        elif isinstance(item, str) and (m := _PYTHON_PIN.match(item.strip())):
            python = m.group(2)
        elif isinstance(item, str) and item.strip() not in ("pip", "python"):
            conda.append(item.strip())
    return CondaFile(path, python, tuple(pip), tuple(conda))


def _host_version() -> str:
    return f"{sys.version_info.major}.{sys.version_info.minor}"


def _uv() -> str:
    found = shutil.which("uv") or str(Path(sys.executable).parent / "uv")
    if not Path(found).is_file():
        raise EnvironmentBuildError("uv is not installed: `pip install uv` to build step environments")
    return found


def _failed_package(text: str, requirements: tuple[str, ...]) -> str:
    """The package uv could not resolve, from its error text (else the first requirement it names)."""
    m = _UV_PACKAGE.search(text)
    if m:
        return m.group(1)
    names = [re.split(r"[<>=!~\[; ]", r, maxsplit=1)[0] for r in requirements]
    return next((n for n in names if n and n.lower() in text.lower()), ", ".join(names))


def _summary(text: str) -> str:
    """uv's reason in one line: its ``Because ...`` sentence, else its first error line."""
    lines = [" ".join(ln.split()).removeprefix("cause: ") for ln in text.splitlines()]
    reason = next((ln for ln in lines if "ecause " in ln), None)
    reason = reason or next((ln for ln in lines if ln.startswith(("error", "×"))), None)
    return (reason or "uv failed")[:300]


def _digest(path: Path) -> str:
    """What names a built environment: the conda file's bytes and the host Python's version."""
    return hashlib.sha256(path.read_bytes() + f"\0{sys.version}".encode()).hexdigest()[:20]


def identity(spec: PipelineSpec, job: JobSpec, mode: str) -> str | None:
    """The environment ``job`` runs in, for its cache key (None: ctloop's own environment)."""
    conda = conda_file(spec, job) if mode == "build" else None
    return _digest(conda) if conda is not None and conda.is_file() else None


def build(conda: CondaFile, warn: Callable[[str], None] = print) -> Path:
    """The virtual environment for ``conda`` (built once, then reused); returns its folder."""
    target = cache_root() / _digest(conda.path)
    if conda.python and not (conda.python + ".").startswith(_host_version() + "."):
        warn(
            f"{conda.path}: declares python {conda.python}; the step runs on this machine's "
            f"Python {_host_version()}"
        )
    if conda.conda:
        warn(
            f"{conda.path}: conda packages not installed (only the pip section is): {', '.join(conda.conda)}"
        )
    if (target / _MARKER).is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with open(target.with_name(f"{target.name}.lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # steps (threads or runs) that share a file build it once
        if not (target / _MARKER).is_file():
            _build(conda, target)
    return target


def _build(conda: CondaFile, target: Path) -> None:
    uv = _uv()
    tmp = target.with_name(f"{target.name}.tmp{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.parent.mkdir(parents=True, exist_ok=True)
    try:
        _run([uv, "venv", "--quiet", "--python", sys.executable, str(tmp)], conda, ())
        _layer_below(tmp)
        if conda.pip:
            python = tmp / "bin" / "python"
            install = [uv, "pip", "install", "--quiet", "--compile-bytecode", "--python", str(python)]
            _run([*install, *conda.pip], conda, conda.pip)  # compiled once: steps import it often
        (tmp / _MARKER).write_text(json.dumps({"conda_file": str(conda.path), "pip": list(conda.pip)}))
        try:
            os.replace(tmp, target)
        except OSError:  # built meanwhile by another run: keep that one
            shutil.rmtree(tmp, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _run(argv: list[str], conda: CondaFile, requirements: tuple[str, ...]) -> None:
    proc = subprocess.run(argv, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        text = proc.stderr + proc.stdout
        if requirements:
            package = _failed_package(text, requirements)
            reason = f"cannot install {package}: {_summary(text)}"
        else:
            reason = f"cannot create the environment: {_summary(text)}"
        raise EnvironmentBuildError(f"{conda.path}: dependencies.pip: {reason}")


def _layer_below(env: Path) -> None:
    """Make ctloop's own packages importable in ``env``, after the environment's own."""
    own = next(env.glob("lib/python*/site-packages"))
    dirs = [d for d in site.getsitepackages() if Path(d).is_dir()]
    lines = "".join(f"import site; site.addsitedir({d!r})\n" for d in dirs)
    (own / "zz_ctloop_base.pth").write_text(lines)


def conda_file(spec: PipelineSpec, job: JobSpec) -> Path | None:
    """The conda file of the environment ``job`` runs in, when it has one on this machine."""
    comp = job.component
    src = spec.sources.get(comp.source)
    data: Any = src.data if src is not None else None
    for part in [p for p in comp.field.split(".") if p]:
        data = data.get(part) if isinstance(data, dict) else None
    if not isinstance(data, dict):
        return None
    raw_job = (
        (spec.sources[spec.file].data.get("jobs") or {}).get(job.name) if spec.file in spec.sources else None
    )
    env = raw_job.get("environment") if isinstance(raw_job, dict) and raw_job.get("environment") else None
    env = env or data.get("environment") or _mapping(data.get("task")).get("environment")
    base = comp.source.parent
    if isinstance(env, str) and env.endswith((".yml", ".yaml")) and not env.startswith("azureml:"):
        path = (base / env.removeprefix("file:")).resolve()
        try:
            env, base = yaml.safe_load(path.read_text(encoding="utf-8")), path.parent
        except (OSError, yaml.YAMLError):
            return None
    if isinstance(env, str) and (mapped := _mapped(env)) is not None:
        return mapped
    conda = _mapping(env).get("conda_file")
    return (base / conda).resolve() if isinstance(conda, str) else None


MAP_ENV = "CTLOOP_ENVIRONMENT_MAP"


def _mapped(reference: str) -> Path | None:
    """The conda file that ``$CTLOOP_ENVIRONMENT_MAP`` (YAML: reference -> file) gives an environment."""
    if not os.environ.get(MAP_ENV):
        return None
    path = Path(os.environ[MAP_ENV])
    table = _load_yaml(path, "an environment map")
    conda = table.get(reference) if isinstance(table, dict) else None
    return (path.parent / conda).resolve() if isinstance(conda, str) else None


_WARNED: set[str] = set()


def _warn_once(line: str, warn: Callable[[str], None]) -> None:
    if line not in _WARNED:
        _WARNED.add(line)
        warn(f"warning: {line}")


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, dict) else {}


def step_environment(
    spec: PipelineSpec, job: JobSpec, mode: str, path: str, warn: Callable[[str], None] = print
) -> dict[str, str]:
    """Variables that put ``job`` in its built environment (none in mode ``current``)."""
    if mode != "build":
        return {}
    conda = conda_file(spec, job)
    if conda is None:
        return {}
    if not conda.is_file():
        raise EnvironmentBuildError(f"{conda}: conda file not found")
    env = build(read_conda(conda), lambda line: _warn_once(line, warn))
    return {"VIRTUAL_ENV": str(env), "PATH": os.pathsep.join([str(env / "bin"), path])}
