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


def scoring_code_dir(path: Path, code: str, scoring_script: str) -> Path:
    """The deployment's code folder: ``code`` relative to the YAML, or the running package's source.

    In the repository ``code: ../../src`` names ctloop's own source. When the endpoint specs travel
    without the repository (a job input: the engine's read-only copy, or Azure ML's upload), that
    folder is not beside them; the scoring code is then the package this step runs from, which is
    the same source snapshot. A script found in neither place is an error naming the YAML.
    """
    beside = (path.parent / code).resolve()
    if (beside / scoring_script).is_file():
        return beside
    package_root = Path(__file__).resolve().parents[2]
    if (package_root / scoring_script).is_file():
        return package_root
    raise EndpointError(
        f"{path}: code_configuration.scoring_script: {beside / scoring_script} does not exist"
    )


def code_dir(path: Path) -> Path:
    """The code folder of the deployment YAML at ``path`` (see :func:`scoring_code_dir`)."""
    code = _read(path).get("code_configuration") or {}
    if not code.get("code") or not code.get("scoring_script"):
        raise EndpointError(f"{path}: code_configuration: needs 'code' and 'scoring_script'")
    return scoring_code_dir(path, str(code["code"]), str(code["scoring_script"]))


def local_settings(endpoints_dir: str | Path, slot: str) -> LocalDeploymentSettings:
    """Code folder, scoring script and environment variables of ``<slot>.yml``, paths resolved."""
    path = deployment_file(endpoints_dir, slot)
    data = _read(path)
    folder = code_dir(path)
    script = (folder / str(data["code_configuration"]["scoring_script"])).resolve()
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
        code_dir=folder, scoring_script=script, environment=env, workers=instances * int(per_instance)
    )
