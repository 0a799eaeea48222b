"""environments/serve.yml: loadable by azure-ai-ml, every pin equal to requirements.lock, nothing missing."""

from __future__ import annotations

import re
from importlib import metadata
from pathlib import Path

import yaml
from azure.ai.ml import load_environment


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _lock(repo_root: Path) -> dict[str, str]:
    pins = {}
    for line in (repo_root / "requirements.lock").read_text().splitlines():
        if "==" in line and not line.startswith("#"):
            name, version = line.strip().split("==", 1)
            pins[_norm(name)] = version
    return pins


def _serve_pins(repo_root: Path) -> dict[str, str]:
    conda = yaml.safe_load((repo_root / "environments" / "serve-conda.yml").read_text())
    pip = next(d["pip"] for d in conda["dependencies"] if isinstance(d, dict))
    return {_norm(p.split("==")[0]): p.split("==")[1] for p in pip}


def test_the_environment_loads(repo_root: Path) -> None:
    env = load_environment(str(repo_root / "environments" / "serve.yml"))
    assert (env.name, env.version) == ("ctloop-serve", "1")
    assert env.image and env.conda_file


def test_every_pin_matches_the_lock(repo_root: Path) -> None:
    lock, serve = _lock(repo_root), _serve_pins(repo_root)
    assert serve["azureml-inference-server-http"] == "1.5.1"
    mismatched = {k: (v, lock.get(k)) for k, v in serve.items() if lock.get(k) != v}
    assert not mismatched


def test_the_server_and_model_runtime_dependencies_are_all_pinned(repo_root: Path) -> None:
    serve = _serve_pins(repo_root)
    missing, todo, seen = (
        set(),
        ["azureml-inference-server-http", "scikit-learn", "skops", "pandas", "pyyaml"],
        set(),
    )
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        try:
            requires = metadata.requires(name) or []
        except metadata.PackageNotFoundError:
            continue  # only needed on platforms / Pythons this environment does not use
        if _norm(name) not in serve:
            missing.add(name)
        for req in requires:
            if "extra ==" in req:
                continue
            dep = re.match(r"[A-Za-z0-9_.\-]+", req).group(0)
            todo.append(dep)
    assert not missing
