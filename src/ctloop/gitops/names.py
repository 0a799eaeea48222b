"""One source of names: what a stack and the pipelines create, and the names every YAML uses.

:func:`inventory` lists, per stack, what exists on Azure after ``make up`` and the pipelines ran:

- clusters and the endpoint from infra (``Pulumi.<stack>.yaml`` read through ``infra.config``
  when present, as :mod:`ctloop.gitops.stack` does; never Pulumi itself);
- environments declared under ``environments/`` (name -> versions);
- data assets the pipelines register (a job output with ``name:``) and those a deployment's
  data collector registers (``<endpoint>-<deployment>-<collection>``);
- models the pipelines register (the ``model_name`` input of a pipeline with a register job).

The endpoint name has one home, infra naming: its derived name carries a subscription-seeded
suffix, so YAML never spells it. YAML uses the *logical* endpoint name, the ``name`` of
``pipelines/endpoints/endpoint.yml``; the tooling replaces it with the stack's endpoint
(:func:`stack_endpoint`, :func:`bind_schedule`). :func:`references` lists every name a spec uses,
with its field path, for the ``spec.names-in-stack`` rule.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ctloop.gitops.graph import jobs_of, load_yaml

ENDPOINTS_DIR = Path("pipelines") / "endpoints"
ENDPOINT_FILE = ENDPOINTS_DIR / "endpoint.yml"
_ASSET = re.compile(r"^azureml:(?!//)([A-Za-z0-9][\w.-]*?)(?::([\w.-]+)|@(\w+))?$")


class NamesError(ValueError):
    """A stack config or spec that cannot be read for names: names the file and the reason."""


@dataclass(frozen=True)
class Ref:
    """One name a spec uses: what kind of thing, its name, and the field that says it."""

    kind: str  # cluster | endpoint | deployment | environment | data | model
    name: str
    path: tuple[str | int, ...]
    version: str | None = None


@dataclass
class Inventory:
    """What exists for one stack (see the module docstring)."""

    stack: str
    clusters: set[str] = field(default_factory=set)
    endpoint: str | None = None  # the stack's explicit endpoint name, when its config pins one
    logical_endpoint: str | None = None
    deployments: set[str] = field(default_factory=set)
    environments: dict[str, set[str]] = field(default_factory=dict)
    data: dict[str, str] = field(default_factory=dict)  # asset name -> where it is produced
    models: dict[str, str] = field(default_factory=dict)  # model name -> where it is registered

    def endpoint_names(self) -> set[str]:
        return {n for n in (self.logical_endpoint, self.endpoint) if n}


def _yaml_files(folder: Path) -> list[Path]:
    return sorted([*folder.glob("*.yml"), *folder.glob("*.yaml")]) if folder.is_dir() else []


def _rel(root: Path, path: Path) -> str:
    try:
        return path.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return str(path)


def _stack_endpoint_config(root: Path, stack: str) -> tuple[str | None, str | None]:
    """(explicit endpoint name, location) of a stack: infra's loader when present, else raw YAML."""
    from ctloop.gitops import stack as stacks

    path = stacks.stack_file(root, stack)
    if path is None:
        raise NamesError(f"no Pulumi.{stack}.yaml at {root}")
    module = stacks._infra_config(root) if path.parent == root else None
    if module is not None and hasattr(module, "load_stack_config"):
        try:
            cfg = module.load_stack_config(stack, root)
        except Exception as exc:
            raise NamesError(str(exc)) from None
        return getattr(cfg, "endpoint_name", None), getattr(cfg, "location", None)
    try:
        data: Any = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise NamesError(f"{path}: cannot read: {exc}") from None
    config = data.get("config") if isinstance(data, dict) else None
    config = config if isinstance(config, dict) else {}
    endpoint = next((v for k, v in config.items() if str(k).endswith(":endpoint")), None)
    name = endpoint.get("name") if isinstance(endpoint, dict) else None
    location = next((v for k, v in config.items() if str(k).endswith(":location")), None)
    return (str(name) if name else None), (str(location) if location else None)


def stacks_of(root: Path) -> list[str]:
    """Every stack with a ``Pulumi.<stack>.yaml`` at the root."""
    return sorted(p.name[len("Pulumi.") : -len(".yaml")] for p in root.glob("Pulumi.*.yaml"))


def endpoint_collisions(root: Path, stack: str) -> list[str]:
    """Other stacks in the same region that pin the same endpoint name (names are regional)."""
    name, location = _stack_endpoint_config(root, stack)
    if not name:
        return []
    clashes = []
    for other in stacks_of(root):
        if other == stack:
            continue
        try:
            other_name, other_location = _stack_endpoint_config(root, other)
        except NamesError:
            continue
        if other_name == name and other_location == location:
            clashes.append(other)
    return clashes


def logical_endpoint(root: Path) -> str | None:
    """The endpoint's logical name: ``name`` in ``pipelines/endpoints/endpoint.yml``."""
    data = load_yaml(root / ENDPOINT_FILE) if (root / ENDPOINT_FILE).is_file() else None
    name = data.get("name") if isinstance(data, dict) else None
    return name if isinstance(name, str) and name else None


def _environments(root: Path) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for path in _yaml_files(root / "environments"):
        data = load_yaml(path)
        if isinstance(data, dict) and isinstance(data.get("name"), str) and "version" in data:
            found.setdefault(data["name"], set()).add(str(data["version"]))
    return found


def _pipelines(root: Path) -> Iterator[tuple[Path, dict[str, Any]]]:
    for folder in (root / "pipelines", root / "pipelines" / "schedules" / "jobs"):
        for path in _yaml_files(folder):
            data = load_yaml(path)
            if isinstance(data, dict) and data.get("type") == "pipeline":
                yield path, data


def inventory(root: Path, stack: str) -> Inventory:
    """What exists for ``stack`` (raises NamesError or StackConfigError on an unreadable config)."""
    from ctloop.gitops.stack import clusters

    inv = Inventory(stack, clusters=set(clusters(root, stack)))
    inv.endpoint, _ = _stack_endpoint_config(root, stack)
    inv.logical_endpoint = logical_endpoint(root)
    inv.environments = _environments(root)
    for path in _yaml_files(root / ENDPOINTS_DIR):
        data = load_yaml(path)
        if not isinstance(data, dict) or "endpoint_name" not in data:
            continue
        inv.deployments.add(str(data.get("name")))
        collections = (data.get("data_collector") or {}).get("collections") or {}
        for collection in collections if isinstance(collections, dict) else {}:
            for endpoint in inv.endpoint_names():
                inv.data[f"{endpoint}-{data.get('name')}-{collection}"] = _rel(root, path)
    for path, data in _pipelines(root):
        where = _rel(root, path)
        for job_name, job in jobs_of(data).items():
            for port in (job.get("outputs") or {}).values():
                if isinstance(port, dict) and isinstance(port.get("name"), str):
                    inv.data[port["name"]] = f"{where} (jobs.{job_name})"
        model = (data.get("inputs") or {}).get("model_name")
        registers = any("register" in str(j.get("component", "")) for j in jobs_of(data).values())
        if isinstance(model, str) and registers:
            inv.models[model] = where
    return inv


def _asset(value: Any) -> tuple[str, str | None] | None:
    if not isinstance(value, str):
        return None
    match = _ASSET.match(value.strip())
    if not match:
        return None
    return match.group(1), match.group(2) or match.group(3)


def _walk(node: Any, path: tuple[str | int, ...] = ()) -> Iterator[tuple[tuple[str | int, ...], Any]]:
    yield path, node
    if isinstance(node, Mapping):
        for key, value in node.items():
            yield from _walk(value, (*path, str(key)))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _walk(value, (*path, i))


def references(kind: str, data: Mapping[str, Any]) -> list[Ref]:
    """Every cluster, endpoint, deployment, environment, data asset and model name ``data`` uses."""
    refs: list[Ref] = []
    if kind == "endpoint" and isinstance(data.get("name"), str):
        refs.append(Ref("endpoint", data["name"], ("name",)))
    if kind == "deployment":
        if isinstance(data.get("endpoint_name"), str):
            refs.append(Ref("endpoint", data["endpoint_name"], ("endpoint_name",)))
        model = _asset(data.get("model"))
        if model:
            refs.append(Ref("model", model[0], ("model",), model[1]))
    if kind == "pipeline":
        inputs = data.get("inputs") or {}
        if isinstance(inputs.get("endpoint_name"), str):
            refs.append(Ref("endpoint", inputs["endpoint_name"], ("inputs", "endpoint_name")))
    target = data.get("create_monitor", {}) if isinstance(data.get("create_monitor"), dict) else {}
    deployment_id = (target.get("monitoring_target") or {}).get("endpoint_deployment_id")
    if isinstance(deployment_id, str):
        parts = deployment_id.removeprefix("azureml:").split(":")
        where = ("create_monitor", "monitoring_target", "endpoint_deployment_id")
        refs.append(Ref("endpoint", parts[0], where))
        if len(parts) > 1:
            refs.append(Ref("deployment", parts[1], where))
    for path, value in _walk(data):
        key = path[-1] if path else None
        if key == "compute" and kind != "pipeline":  # pipelines: pipeline.compute-in-stack
            cluster = _asset(value)
            if cluster:
                refs.append(Ref("cluster", cluster[0], path))
        elif key == "environment" and kind != "environment":
            env = _asset(value)
            if env and env[1] and not env[0].startswith("AzureML-"):
                refs.append(Ref("environment", env[0], path, env[1]))
        elif key == "path" and len(path) >= 2:
            asset = _asset(value)
            if asset:
                refs.append(Ref("data", asset[0], path, asset[1]))
    return refs


def problems(refs: list[Ref], inv: Inventory) -> list[tuple[tuple[str | int, ...], str]]:
    """(field path, reason) for every reference ``inv`` does not have."""
    found = []
    for ref in refs:
        reason = _missing(ref, inv)
        if reason:
            found.append((ref.path, reason))
    return found


def _missing(ref: Ref, inv: Inventory) -> str | None:
    stack = inv.stack
    if ref.kind == "endpoint":
        if ref.name in inv.endpoint_names():
            return None
        home = f"the logical name {inv.logical_endpoint!r} (pipelines/endpoints/endpoint.yml)"
        if inv.logical_endpoint is None:
            home = "a name: pipelines/endpoints/endpoint.yml is missing"
        pinned = f" or stack {stack!r}'s endpoint.name {inv.endpoint!r}" if inv.endpoint else ""
        return (
            f"endpoint {ref.name!r} is not the stack's endpoint: use {home}{pinned}; "
            "the tooling replaces it with the stack's endpoint (infra naming)"
        )
    if ref.kind == "cluster" and ref.name not in inv.clusters:
        have = ", ".join(sorted(inv.clusters)) or "none"
        return f"compute {ref.name!r} is not in stack {stack!r} (it has: {have})"
    if ref.kind == "deployment" and ref.name not in inv.deployments:
        have = ", ".join(sorted(inv.deployments)) or "none"
        return f"deployment {ref.name!r} is not declared in pipelines/endpoints/ (it has: {have})"
    if ref.kind == "environment":
        versions = inv.environments.get(ref.name)
        if versions is None:
            return f"environment {ref.name!r} is not declared under environments/"
        if ref.version not in versions and ref.version not in ("latest",):
            return (
                f"environment {ref.name}:{ref.version} is not declared (environments/ has {sorted(versions)})"
            )
    if ref.kind == "data" and ref.name not in inv.data:
        return (
            f"data asset {ref.name!r} is produced by nothing in this repository: register it as a "
            "pipeline job output (outputs.<port>.name) or a deployment's data collector collection"
        )
    if ref.kind == "model" and ref.name not in inv.models:
        have = ", ".join(sorted(inv.models)) or "none"
        return f"model {ref.name!r} is registered by no pipeline (model_name inputs: {have})"
    return None


def stack_endpoint(root: Path, stack: str) -> str | None:
    """The stack's endpoint: ``endpoint_name`` in ``.azureml/config.<stack>.json`` (written from the
    stack outputs by ``make azureml-config``), else ``config.json`` of that stack, else the name
    the stack config pins, else None."""
    for name in (f"config.{stack}.json", "config.json"):
        path = root / ".azureml" / name
        if not path.is_file():
            continue
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise NamesError(f"{path}: cannot read it as JSON: {exc}") from None
        if not isinstance(data, dict):
            continue
        if name == "config.json" and data.get("stack") not in (None, stack):
            continue
        if isinstance(data.get("endpoint_name"), str) and data["endpoint_name"]:
            return data["endpoint_name"]
    try:
        return _stack_endpoint_config(root, stack)[0]
    except NamesError:
        return None


def bind_schedule(
    schedule: Any, root: Path, stack: str, endpoint: str | None, live_deployment: str | None = None
) -> Any:
    """Fill a loaded schedule for ``stack``: the job's ``stack`` input; in a monitor, the logical
    endpoint name replaced by ``endpoint`` and, when given, the declared deployment by the one
    that serves now (``live_deployment``: blue and green take turns), in the target and in the
    collection assets (``<endpoint>-<deployment>-<collection>``)."""
    job = schedule.create_job if type(schedule).__name__ == "JobSchedule" else None
    inputs = getattr(job, "inputs", None)
    if inputs is not None and "stack" in inputs:
        job.inputs.stack = stack  # the SDK wraps the value as the input's data
    monitor = vars(schedule).get("create_monitor")
    target = getattr(monitor, "monitoring_target", None)
    deployment_id = getattr(target, "endpoint_deployment_id", None)
    if not isinstance(deployment_id, str):
        return schedule
    old_endpoint, _, old_deployment = deployment_id.removeprefix("azureml:").partition(":")
    new_endpoint = endpoint or old_endpoint
    new_deployment = live_deployment or old_deployment
    target.endpoint_deployment_id = f"azureml:{new_endpoint}:{new_deployment}"
    old_prefix = f"{old_endpoint}-{old_deployment}-"
    for signal in (monitor.monitoring_signals or {}).values():
        for attr in ("production_data", "reference_data"):
            data = getattr(signal, attr, None)
            for item in data if isinstance(data, list) else [data]:
                input_data = getattr(item, "input_data", None)
                path = getattr(input_data, "path", None)
                bare = path.removeprefix("azureml:") if isinstance(path, str) else ""
                if bare.startswith(old_prefix):  # the loader may keep or drop "azureml:"
                    scheme = path[: len(path) - len(bare)]
                    input_data.path = f"{scheme}{new_endpoint}-{new_deployment}-{bare[len(old_prefix) :]}"
    return schedule


def live_deployment(client: Any, endpoint: str) -> str | None:
    """The deployment that takes the most traffic on ``endpoint`` now (None when none does)."""
    traffic = getattr(client.online_endpoints.get(endpoint), "traffic", None) or {}
    serving = {name: int(share) for name, share in traffic.items() if int(share) > 0}
    return max(serving, key=lambda name: serving[name]) if serving else None


def stack_environment(root: Path, stack: str) -> dict[str, str]:
    """The variables the Azure clients read for ``stack``'s workspace and endpoint, from
    ``.azureml/config.<stack>.json`` (or ``config.json``) and :func:`stack_endpoint`."""
    env: dict[str, str] = {"CTLOOP_STACK": stack}
    keys = {
        "subscription_id": "AZURE_SUBSCRIPTION_ID",
        "resource_group": "AZURE_RESOURCE_GROUP",
        "workspace_name": "AZUREML_WORKSPACE_NAME",
    }
    for name in (f"config.{stack}.json", "config.json"):
        path = root / ".azureml" / name
        if path.is_file():
            try:
                data = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError) as exc:
                raise NamesError(f"{path}: cannot read it as JSON: {exc}") from None
            if isinstance(data, dict) and data.get("stack") in (None, stack):
                env.update({var: str(data[key]) for key, var in keys.items() if data.get(key)})
                break
    endpoint = stack_endpoint(root, stack)
    if endpoint:
        env["AZUREML_ENDPOINT_NAME"] = endpoint
    return env
