"""The endpoint specs in ``pipelines/endpoints/`` (Azure ML YAML) as the local endpoint reads them.

``endpoint.yml`` names the endpoint; ``<slot>.yml`` (``blue.yml``, ``green.yml``) is a managed
online deployment. Locally the router honours the deployment's ``code_configuration`` (code folder
and scoring script) and ``environment_variables``; Azure ML honours the whole file.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from ctloop.rollout.endpoint import SLOTS, EndpointError

DEFAULT_ENDPOINTS_DIR = Path("pipelines") / "endpoints"


@dataclass(frozen=True)
class LocalDeploymentSettings:
    code_dir: Path
    scoring_script: Path
    environment: dict[str, str]
    #: Server worker processes: ``instance_count`` x ``WORKER_COUNT`` (per instance; default 1).
    workers: int = 1


def _read(path: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text())
    except FileNotFoundError:
        raise EndpointError(f"{path}: <file>: not found") from None
    except yaml.YAMLError as exc:
        raise EndpointError(f"{path}: <yaml>: invalid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise EndpointError(f"{path}: <root>: expected a mapping")
    return data


def endpoint_file(endpoints_dir: str | Path) -> Path:
    return Path(endpoints_dir) / "endpoint.yml"


def deployment_file(endpoints_dir: str | Path, slot: str) -> Path:
    if slot not in SLOTS:
        raise EndpointError(f"deployment '{slot}': slots are {', '.join(SLOTS)}")
    return Path(endpoints_dir) / f"{slot}.yml"


def endpoint_name(endpoints_dir: str | Path) -> str:
    path = endpoint_file(endpoints_dir)
    name = _read(path).get("name")
    if not isinstance(name, str) or not name:
        raise EndpointError(f"{path}: name: missing")
    return name


def local_settings(endpoints_dir: str | Path, slot: str) -> LocalDeploymentSettings:
    """Code folder, scoring script and environment variables of ``<slot>.yml``, paths resolved."""
    path = deployment_file(endpoints_dir, slot)
    data = _read(path)
    code = data.get("code_configuration") or {}
    if not code.get("code") or not code.get("scoring_script"):
        raise EndpointError(f"{path}: code_configuration: needs 'code' and 'scoring_script'")
    code_dir = (path.parent / str(code["code"])).resolve()
    script = (code_dir / str(code["scoring_script"])).resolve()
    if not script.is_file():
        raise EndpointError(f"{path}: code_configuration.scoring_script: {script} does not exist")
    env = {str(k): str(v) for k, v in (data.get("environment_variables") or {}).items()}
    instances = data.get("instance_count", 1)
    if isinstance(instances, bool) or not isinstance(instances, int) or not 1 <= instances <= 64:
        raise EndpointError(f"{path}: instance_count: expected an integer from 1 to 64, got {instances!r}")
    per_instance = env.get("WORKER_COUNT", "1")
    if not per_instance.isdigit() or not 1 <= int(per_instance) <= 64:
        raise EndpointError(
            f"{path}: environment_variables.WORKER_COUNT: "
            f"expected an integer from 1 to 64, got {per_instance!r}"
        )
    return LocalDeploymentSettings(
        code_dir=code_dir, scoring_script=script, environment=env, workers=instances * int(per_instance)
    )
