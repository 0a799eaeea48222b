"""Resolve an Azure ML environment's pip list for the cluster's platform, and check its CUDA build.

An environment YAML names a base ``image`` and a ``conda_file``; the conda file pins ``python=X.Y.Z``
and a ``pip:`` list. :func:`resolve` hands that list to ``uv pip compile`` for linux x86-64 and
that Python, the way the image build resolves it (``--index-strategy unsafe-best-match`` mirrors
pip, which merges all indexes). :func:`cuda_problems` compares the CUDA major version of the
resolved torch build with the base image's (``...-cuda12.4-...`` in the image name).
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

PLATFORM = "x86_64-manylinux_2_28"
PYPI_SIMPLE = "https://pypi.org/simple/"
INDEX_OPTIONS = ("--extra-index-url", "--index-url", "-i")
_IMAGE_CUDA = re.compile(r"cuda[-_]?(\d+)(?:\.(\d+))?", re.IGNORECASE)
_LOCAL_CUDA = re.compile(r"\+cu(\d+)$")
_WHEEL_CUDA = (
    re.compile(r"^nvidia-cuda-runtime-cu(\d+)=="),
    re.compile(r"^nvidia-cuda-runtime==(\d+)\."),
    re.compile(r"^cuda-toolkit==(\d+)\."),
)


class EnvironmentSpecError(ValueError):
    """An environment or conda file that cannot be read as one: names the file, field and reason."""


@dataclass
class EnvironmentSpec:
    """What resolving one environment needs."""

    path: Path
    name: str
    image: str
    python: str
    pip: list[str]
    indexes: list[str] = field(default_factory=list)

    @property
    def image_cuda_major(self) -> int | None:
        """CUDA major version of the base image, from its name (None for a CPU image)."""
        match = _IMAGE_CUDA.search(self.image)
        return int(match.group(1)) if match else None


def _read_yaml(path: Path) -> Any:
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise EnvironmentSpecError(f"{path}: cannot read: {exc}") from None


def read_environment(path: Path) -> EnvironmentSpec | None:
    """The spec of an environment YAML with an image and a conda file; None for other YAML."""
    data = _read_yaml(path)
    if not isinstance(data, dict) or "conda_file" not in data:
        return None
    image = data.get("image")
    if not isinstance(image, str) or not image:
        raise EnvironmentSpecError(f"{path}: field 'image': a base image is required beside conda_file")
    conda_path = path.parent / str(data["conda_file"])
    conda = _read_yaml(conda_path)
    deps = conda.get("dependencies") if isinstance(conda, dict) else None
    if not isinstance(deps, list):
        raise EnvironmentSpecError(f"{conda_path}: field 'dependencies': must be a list")
    python = next(
        (d.split("=", 1)[1].lstrip("=") for d in deps if isinstance(d, str) and re.match(r"python\s*=", d)),
        None,
    )
    if not python:
        raise EnvironmentSpecError(f"{conda_path}: field 'dependencies': no python=X.Y pin")
    pip_lists = [d["pip"] for d in deps if isinstance(d, dict) and "pip" in d]
    if len(pip_lists) != 1 or not isinstance(pip_lists[0], list):
        raise EnvironmentSpecError(
            f"{conda_path}: field 'dependencies.pip': exactly one pip list is required"
        )
    pip: list[str] = []
    indexes: list[str] = []
    for entry in map(str, pip_lists[0]):
        option, _, value = entry.strip().partition(" ")
        if option in INDEX_OPTIONS:
            indexes.append(value.strip())
        else:
            pip.append(entry.strip())
    return EnvironmentSpec(path, str(data.get("name", path.stem)), image, python, pip, indexes)


def environments(root: Path) -> list[EnvironmentSpec]:
    """Every environment under ``<root>/environments`` that builds from a conda file."""
    found = (read_environment(p) for p in sorted((root / "environments").glob("*.y*ml")))
    return [spec for spec in found if spec is not None]


def reachable(url: str, timeout: float = 10.0) -> bool:
    """Whether a package index answers at all (any HTTP status counts as an answer)."""
    try:
        with urllib.request.urlopen(urllib.request.Request(url, method="HEAD"), timeout=timeout):
            return True
    except urllib.error.HTTPError:
        return True
    except (urllib.error.URLError, OSError, ValueError):
        return False


def uv_binary() -> str:
    """The ``uv`` beside the running interpreter (the venv's), else the one on PATH."""
    beside = Path(sys.executable).parent / "uv"
    if beside.is_file():
        return str(beside)
    found = shutil.which("uv")
    if found is None:
        raise FileNotFoundError("uv is not installed (it is in requirements.lock: make setup)")
    return found


@dataclass
class Resolution:
    """The outcome of one ``uv pip compile``: pins on success, the resolver's reason otherwise."""

    spec: EnvironmentSpec
    ok: bool
    pins: dict[str, str]
    message: str
    dropped_indexes: list[str]


def resolve(spec: EnvironmentSpec, workdir: Path, timeout: float = 300.0) -> Resolution:
    """Resolve ``spec`` for linux x86-64 and its Python; an unreachable extra index is dropped.

    Without its index a pin's local label (``torch==2.13.0+cpu``) is removed so that the public
    build with the same version stands in for it (same dependencies, minus the CUDA wheels);
    ``dropped_indexes`` says when that happened, and the pins then report the declared builds.
    """
    usable = [url for url in spec.indexes if reachable(url)]
    dropped = [url for url in spec.indexes if url not in usable]
    lines = [f"--extra-index-url {url}" for url in usable]
    for pin in spec.pip:
        lines.append(re.sub(r"\+[\w.]+$", "", pin) if dropped else pin)
    req = workdir / f"{spec.path.stem}.requirements.txt"
    req.write_text("\n".join(lines) + "\n", encoding="utf-8")
    cmd = [
        uv_binary(),
        "pip",
        "compile",
        "--python-platform",
        PLATFORM,
        "--python-version",
        spec.python,
        "--index-strategy",
        "unsafe-best-match",
        "--no-header",
        "--no-annotate",
        "--quiet",
        str(req),
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)
    pins = parse_pins(proc.stdout) if proc.returncode == 0 else {}
    if dropped and pins:  # report the declared build (its label), not the stand-in's
        for name, version in parse_pins("\n".join(spec.pip)).items():
            if "+" in version and name in pins:
                pins[name] = version
    message = "" if proc.returncode == 0 else (proc.stderr.strip() or f"uv exited {proc.returncode}")
    return Resolution(spec, proc.returncode == 0, pins, message, dropped)


def canonical(name: str) -> str:
    """The normalised project name (PEP 503): ``importlib_metadata`` -> ``importlib-metadata``."""
    return re.sub(r"[-_.]+", "-", name.strip()).lower()


def parse_pins(text: str) -> dict[str, str]:
    """``name==version`` lines of a compiled requirements file, by normalised name."""
    pins: dict[str, str] = {}
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip()
        if "==" in line and not line.startswith("-"):
            name, version = line.split("==", 1)
            pins[canonical(name)] = version.strip()
    return pins


def torch_cuda_major(pins: dict[str, str]) -> int | None:
    """CUDA major version of the resolved torch build: its local label, else its CUDA wheels.

    ``+cu126`` -> 12, ``+cpu`` -> None; a PyPI build is read from the CUDA runtime wheel it pins
    (``nvidia-cuda-runtime-cu12``, ``nvidia-cuda-runtime==13.*`` or ``cuda-toolkit==13.*``).
    """
    version = pins.get("torch")
    if version is None:
        return None
    label = _LOCAL_CUDA.search(version)
    if label:
        digits = label.group(1)
        return int(digits[:-1]) if len(digits) > 1 else int(digits)
    if "+" in version:
        return None
    for line in (f"{name}=={ver}" for name, ver in pins.items()):
        for pattern in _WHEEL_CUDA:
            match = pattern.match(line)
            if match:
                return int(match.group(1))
    return None


def cuda_problems(spec: EnvironmentSpec, pins: dict[str, str]) -> list[str]:
    """Why the resolved torch build does not fit the base image's CUDA (empty when it does)."""
    if "torch" not in pins:
        return []
    image_major = spec.image_cuda_major
    torch_major = torch_cuda_major(pins)
    where = f"{spec.path}: torch=={pins['torch']} on image {spec.image}"
    if image_major is None and torch_major is not None:
        return [f"{where}: a CPU image gets a CUDA {torch_major} torch build (pin a +cpu build)"]
    if image_major is not None and torch_major is None:
        return [f"{where}: the image has CUDA {image_major} but torch resolves to a CPU build"]
    if image_major is not None and torch_major != image_major:
        return [f"{where}: torch brings CUDA {torch_major}, the image has CUDA {image_major}"]
    return []
