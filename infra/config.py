"""The stack configuration (``ctloop:`` keys of ``Pulumi.<stack>.yaml``) as a typed, validated object.

Validation happens in two passes, both before any resource is declared:
1. the JSON Schema ``policies/infra/schemas/stack.schema.json`` (types, enums, platform ranges);
2. the guardrails ``policies/infra/guardrails.yml`` shared with the CrossGuard pack (allowed
   regions and VM sizes, node counts, idle time) plus cross-field rules and Azure naming rules.
Every failure raises ``StackConfigError`` naming the file, the key (``ctloop:gpu_cluster.max_nodes``)
and the reason, with the allowed range where there is one.

``load_stack_config(stack, root)`` reads the YAML file directly (no Pulumi runtime), so other code
(e.g. a GitOps check of pipeline compute names) can use it; ``from_pulumi()`` reads the same keys
through ``pulumi.Config`` inside a Pulumi program and applies the same validation.
"""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import jsonschema

from ctloop.policies import PolicyError, load_policy, read_yaml

from . import naming

NAMESPACE = "ctloop"
POLICY_DIR = Path("policies") / "infra"
SCHEMA_FILE = POLICY_DIR / "schemas" / "stack.schema.json"
GUARDRAILS_NAME = "guardrails"
REPO_ROOT = Path(__file__).resolve().parent.parent


class StackConfigError(PolicyError):
    """A stack config value that cannot be used: names the file, the ``ctloop:`` key and the reason."""


@dataclass(frozen=True)
class ClusterConfig:
    """One AmlCompute cluster."""

    kind: str  # "gpu" or "cpu"
    name: str
    vm_size: str
    min_nodes: int
    max_nodes: int
    priority: str  # "Dedicated" or "LowPriority"
    idle_seconds: int

    @property
    def idle_time(self) -> str:
        """Idle time before scale-down as the ISO 8601 duration Azure expects."""
        return f"PT{self.idle_seconds}S"


@dataclass(frozen=True)
class KeyVaultConfig:
    purge_protection: bool
    soft_delete_retention_days: int


@dataclass(frozen=True)
class AlertsConfig:
    p99_latency_ms: float
    error_rate_percent: float
    error_rate_min_requests: int
    window_minutes: int
    frequency_minutes: int
    severity: int
    emails: tuple[str, ...]


@dataclass(frozen=True)
class BudgetNotification:
    percent: float
    type: str  # "Actual" or "Forecasted"


@dataclass(frozen=True)
class BudgetConfig:
    amount: float
    start_date: date | None
    notifications: tuple[BudgetNotification, ...]
    emails: tuple[str, ...]


@dataclass(frozen=True)
class IpRange:
    """A named address range allowed through the firewalls in ``public`` network mode."""

    name: str
    cidr: str


@dataclass(frozen=True)
class VnetConfig:
    """The VNet of ``private`` network mode: private endpoints in one subnet, the CI runner in another."""

    address_space: str
    private_endpoints_subnet: str
    runner_subnet: str


@dataclass(frozen=True)
class NetworkConfig:
    """``public``: firewalls deny by default and allow ``allowed_ip_ranges``; ``private``: no public
    access, private endpoints and DNS zones in ``vnet``."""

    mode: str
    allowed_ip_ranges: tuple[IpRange, ...]
    vnet: VnetConfig | None

    @property
    def private(self) -> bool:
        return self.mode == "private"


@dataclass(frozen=True)
class Principal:
    object_id: str
    principal_type: str


@dataclass(frozen=True)
class StackConfig:
    """Everything that differs between dev, staging and prod."""

    stack: str
    environment: str
    location: str
    prefix: str
    owner: str
    cost_center: str
    extra_tags: Mapping[str, str]
    network: NetworkConfig
    managed_network: str
    high_business_impact: bool
    log_retention_days: int
    storage_sku: str
    storage_soft_delete_days: int
    registry_sku: str
    registry_retention_days: int
    key_vault: KeyVaultConfig
    gpu_cluster: ClusterConfig
    cpu_cluster: ClusterConfig
    endpoint_auth_mode: str
    endpoint_name: str | None
    alerts: AlertsConfig
    budget: BudgetConfig
    data_access_principals: tuple[Principal, ...]
    ci_principal: str | None = None

    @property
    def public_network_access(self) -> str:
        """``Enabled`` in public network mode, ``Disabled`` in private mode."""
        return "Disabled" if self.network.private else "Enabled"

    @property
    def tags(self) -> dict[str, str]:
        """Tags on every tracked resource: the required env/owner/cost-center plus extras."""
        return {
            **dict(self.extra_tags),
            "env": self.environment,
            "owner": self.owner,
            "cost-center": self.cost_center,
            "project": "ctloop",
            "managed-by": "pulumi",
        }

    @property
    def clusters(self) -> tuple[ClusterConfig, ClusterConfig]:
        return (self.gpu_cluster, self.cpu_cluster)

    @property
    def compute_names(self) -> dict[str, str]:
        """Compute names by kind, e.g. ``{"gpu": "gpu-cluster", "cpu": "cpu-cluster"}``."""
        return {c.kind: c.name for c in self.clusters}

    @property
    def public(self) -> bool:
        return self.public_network_access == "Enabled"

    @property
    def isolated(self) -> bool:
        """True when the workspace uses a managed virtual network (nodes get no public IP)."""
        return self.managed_network != "Disabled"

    @property
    def resource_group_name(self) -> str:
        return naming.resource_group_name(self.prefix, self.environment)


# --------------------------------------------------------------------------- loading


def stack_file(stack: str, root: str | Path = ".") -> Path:
    return Path(root) / f"Pulumi.{stack}.yaml"


def load_schema(root: str | Path = REPO_ROOT) -> dict[str, Any]:
    return json.loads((Path(root) / SCHEMA_FILE).read_text())


def load_guardrails(root: str | Path = REPO_ROOT) -> dict[str, Any]:
    """``policies/infra/guardrails.yml``, validated against its schema (raises PolicyError)."""
    return load_policy(GUARDRAILS_NAME, Path(root) / POLICY_DIR)


def load_stack_config(stack: str, root: str | Path = ".") -> StackConfig:
    """Read and validate ``<root>/Pulumi.<stack>.yaml`` without the Pulumi runtime."""
    path = stack_file(stack, root)
    document = read_yaml(path)
    if not isinstance(document, dict) or not isinstance(document.get("config"), dict):
        raise StackConfigError(path, "config", "the file must hold a `config:` mapping")
    prefix = f"{NAMESPACE}:"
    raw = {k[len(prefix) :]: v for k, v in document["config"].items() if str(k).startswith(prefix)}
    schema = load_schema(_policy_root(root))
    for key, value in raw.items():
        # Pulumi hands a program every scalar as text: read `owner: 1234` as "1234" here too.
        spec = schema["properties"].get(key)
        if spec and _is_string(spec, schema) and isinstance(value, bool | int | float):
            raw[key] = str(value).lower() if isinstance(value, bool) else str(value)
    return parse(raw, stack=stack, source=path, root=root)


def from_pulumi(root: str | Path = REPO_ROOT) -> StackConfig:
    """Read the ``ctloop:`` keys through ``pulumi.Config`` (inside a Pulumi program) and validate them."""
    import pulumi

    cfg = pulumi.Config(NAMESPACE)
    schema = load_schema(root)
    source = f"Pulumi.{pulumi.get_stack()}.yaml"
    raw: dict[str, Any] = {}
    for key, spec in schema["properties"].items():
        text = cfg.get(key)
        if text is None:
            continue
        if _is_string(spec, schema):
            raw[key] = text
            continue
        try:
            raw[key] = json.loads(text)
        except json.JSONDecodeError:
            raise StackConfigError(source, f"{NAMESPACE}:{key}", f"not valid JSON: {text!r}") from None
    return parse(raw, stack=pulumi.get_stack(), source=source, root=root)


def _is_string(spec: Mapping[str, Any], schema: Mapping[str, Any]) -> bool:
    """Whether a top-level key holds a plain string (Pulumi passes everything else as JSON text)."""
    ref = spec.get("$ref", "")
    if ref.startswith("#/$defs/"):
        spec = schema["$defs"][ref.rsplit("/", 1)[1]]
    if spec.get("type") == "string":
        return True
    return bool(spec.get("enum")) and all(isinstance(v, str) for v in spec["enum"])


# --------------------------------------------------------------------------- validation


def _key(path: list[Any] | tuple[Any, ...]) -> str:
    parts = []
    for p in path:
        parts.append(f"[{p}]" if isinstance(p, int) else f".{p}")
    return f"{NAMESPACE}:" + "".join(parts).lstrip(".")


def _bounds(schema: Mapping[str, Any]) -> str:
    lo = schema.get("minimum", schema.get("exclusiveMinimum"))
    hi = schema.get("maximum", schema.get("exclusiveMaximum"))
    return f"{'' if lo is None else lo}..{'' if hi is None else hi}"


def _schema_message(error: jsonschema.ValidationError) -> tuple[list[Any], str]:
    path = list(error.absolute_path)
    v = error.validator
    if v in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"):
        return path, f"{error.instance!r} is outside the allowed range {_bounds(error.schema)}"
    if v == "enum":
        return path, f"{error.instance!r} is not one of {error.validator_value}"
    if v == "required":
        missing = error.message.split("'")[1]
        return [*path, missing], "required key is missing"
    if v == "additionalProperties":
        extra = sorted(set(error.instance) - set(error.schema.get("properties", {})))
        return [*path, extra[0] if extra else "?"], "unknown key"
    if v == "pattern":
        return path, f"{error.instance!r} does not match the pattern {error.validator_value}"
    if v in ("minItems", "maxItems"):
        return path, f"has {len(error.instance)} items; allowed {error.schema.get('minItems', 0)}.." + str(
            error.schema.get("maxItems", "")
        )
    return path, error.message


def _validate_schema(raw: Mapping[str, Any], schema: Mapping[str, Any], source: str | Path) -> None:
    validator = jsonschema.Draft202012Validator(schema)
    errors = sorted(
        validator.iter_errors(dict(raw)), key=lambda e: (list(map(str, e.absolute_path)), e.message)
    )
    if errors:
        best = jsonschema.exceptions.best_match(errors)
        path, reason = _schema_message(best)
        raise StackConfigError(source, _key(path), reason)


def _check_cluster(kind: str, c: Mapping[str, Any], guard: Mapping[str, Any], source: str | Path) -> None:
    key = f"{NAMESPACE}:{kind}_cluster"
    compute = guard["compute"]
    reason = naming.RULES["compute"].violation(c["name"])
    if reason:
        raise StackConfigError(source, f"{key}.name", reason)
    allowed = guard["allowed_vm_sizes"][kind]
    if c["vm_size"] not in allowed:
        raise StackConfigError(
            source, f"{key}.vm_size", f"{c['vm_size']!r} is not an allowed {kind} size {allowed}"
        )
    lo = compute["min_nodes"]
    if c["min_nodes"] != lo:
        raise StackConfigError(
            source,
            f"{key}.min_nodes",
            f"{c['min_nodes']} is outside the allowed range {lo}..{lo} "
            "(clusters must scale to zero when idle)",
        )
    hi = compute["max_nodes"][kind]
    if not max(1, lo) <= c["max_nodes"] <= hi:
        raise StackConfigError(
            source, f"{key}.max_nodes", f"{c['max_nodes']} is outside the allowed range {max(1, lo)}..{hi}"
        )
    idle = compute["idle_seconds"]
    if not idle["min"] <= c["idle_seconds"] <= idle["max"]:
        raise StackConfigError(
            source,
            f"{key}.idle_seconds",
            f"{c['idle_seconds']} is outside the allowed range {idle['min']}..{idle['max']}",
        )


def _check_guardrails(raw: Mapping[str, Any], guard: Mapping[str, Any], source: str | Path) -> None:
    if raw["location"] not in guard["allowed_locations"]:
        raise StackConfigError(
            source, f"{NAMESPACE}:location", f"{raw['location']!r} is not one of {guard['allowed_locations']}"
        )
    for kind in ("gpu", "cpu"):
        _check_cluster(kind, raw[f"{kind}_cluster"], guard, source)
    if raw["gpu_cluster"]["name"] == raw["cpu_cluster"]["name"]:
        raise StackConfigError(
            source, f"{NAMESPACE}:cpu_cluster.name", "must differ from ctloop:gpu_cluster.name"
        )


def _check_network(raw: Mapping[str, Any], source: str | Path) -> None:
    network = raw["network"]
    if raw["managed_network"] == "Disabled":
        raise StackConfigError(
            source,
            f"{NAMESPACE}:managed_network",
            "must not be 'Disabled': the storage, vault and registry firewalls deny by default, so compute "
            "reaches them through the managed network's private endpoints",
        )
    if raw["registry_sku"] != "Premium":
        raise StackConfigError(
            source,
            f"{NAMESPACE}:registry_sku",
            f"{raw['registry_sku']!r} has no firewall or private endpoints; 'Premium' is required "
            "with a managed network",
        )
    if network["mode"] == "private" and "vnet" not in network:
        raise StackConfigError(
            source, f"{NAMESPACE}:network.vnet", "required key is missing (network.mode is 'private')"
        )
    if "vnet" in network:
        vnet = network["vnet"]
        try:
            space = ipaddress.ip_network(vnet["address_space"])
            for key in ("private_endpoints_subnet", "runner_subnet"):
                if not ipaddress.ip_network(vnet[key]).subnet_of(space):  # type: ignore[arg-type]
                    raise StackConfigError(
                        source,
                        f"{NAMESPACE}:network.vnet.{key}",
                        f"{vnet[key]} is not inside address_space {vnet['address_space']}",
                    )
        except ValueError as exc:
            raise StackConfigError(source, f"{NAMESPACE}:network.vnet", str(exc)) from None
        a = ipaddress.ip_network(vnet["private_endpoints_subnet"])
        if a.overlaps(ipaddress.ip_network(vnet["runner_subnet"])):
            raise StackConfigError(
                source, f"{NAMESPACE}:network.vnet.runner_subnet", "overlaps private_endpoints_subnet"
            )


def _check_cross_fields(raw: Mapping[str, Any], source: str | Path) -> None:
    _check_network(raw, source)
    seen: dict[tuple[float, str], int] = {}
    for i, n in enumerate(raw["budget"]["notifications"]):
        key = (float(n["percent"]), n["type"])
        if key in seen:
            raise StackConfigError(
                source, f"{NAMESPACE}:budget.notifications[{i}]", f"duplicates notifications[{seen[key]}]"
            )
        seen[key] = i
    alerts = raw["alerts"]
    if alerts["frequency_minutes"] > alerts["window_minutes"]:
        raise StackConfigError(
            source,
            f"{NAMESPACE}:alerts.frequency_minutes",
            f"{alerts['frequency_minutes']} must not exceed "
            f"ctloop:alerts.window_minutes ({alerts['window_minutes']})",
        )


def _check_names(raw: Mapping[str, Any], source: str | Path) -> None:
    endpoint = raw["endpoint"].get("name")
    if endpoint is not None:
        reason = naming.RULES["endpoint"].violation(endpoint)
        if reason:
            raise StackConfigError(source, f"{NAMESPACE}:endpoint.name", reason)
    try:
        naming.derive(raw["prefix"], raw["environment"], seed="validation")
    except naming.NameRuleError as exc:
        raise StackConfigError(
            source, f"{NAMESPACE}:prefix", f"{raw['prefix']!r} makes a name Azure rejects: {exc}"
        ) from None


def _policy_root(root: str | Path) -> Path:
    """Where ``policies/infra`` is: under ``root`` when it has one, else this repository's."""
    return Path(root) if (Path(root) / SCHEMA_FILE).is_file() else REPO_ROOT


def parse(
    raw: Mapping[str, Any], *, stack: str, source: str | Path, root: str | Path = REPO_ROOT
) -> StackConfig:
    """Validate the ``ctloop:`` keys (namespace stripped) and build a StackConfig."""
    policy_root = _policy_root(root)
    if "network" not in raw and isinstance(raw.get("environment"), str):
        # prod is private unless its stack file says otherwise; the others are public behind firewalls
        raw = {**raw, "network": {"mode": "private" if raw["environment"] == "prod" else "public"}}
    _validate_schema(raw, load_schema(policy_root), source)
    guard = load_guardrails(policy_root)
    _check_guardrails(raw, guard, source)
    _check_cross_fields(raw, source)
    _check_names(raw, source)
    return _build(raw, stack)


def _cluster(kind: str, c: Mapping[str, Any]) -> ClusterConfig:
    return ClusterConfig(
        kind=kind,
        name=c["name"],
        vm_size=c["vm_size"],
        min_nodes=int(c["min_nodes"]),
        max_nodes=int(c["max_nodes"]),
        priority=c["priority"],
        idle_seconds=int(c["idle_seconds"]),
    )


def _build(raw: Mapping[str, Any], stack: str) -> StackConfig:
    a, b = raw["alerts"], raw["budget"]
    start = b.get("start_date")
    return StackConfig(
        stack=stack,
        environment=raw["environment"],
        location=raw["location"],
        prefix=raw["prefix"],
        owner=raw["owner"],
        cost_center=raw["cost_center"],
        extra_tags=dict(raw.get("tags", {})),
        network=_network(raw["network"]),
        managed_network=raw["managed_network"],
        high_business_impact=bool(raw["high_business_impact"]),
        log_retention_days=int(raw["log_retention_days"]),
        storage_sku=raw["storage_sku"],
        storage_soft_delete_days=int(raw["storage_soft_delete_days"]),
        registry_sku=raw["registry_sku"],
        registry_retention_days=int(raw["registry_retention_days"]),
        key_vault=KeyVaultConfig(
            purge_protection=bool(raw["key_vault"]["purge_protection"]),
            soft_delete_retention_days=int(raw["key_vault"]["soft_delete_retention_days"]),
        ),
        gpu_cluster=_cluster("gpu", raw["gpu_cluster"]),
        cpu_cluster=_cluster("cpu", raw["cpu_cluster"]),
        endpoint_auth_mode=raw["endpoint"]["auth_mode"],
        endpoint_name=raw["endpoint"].get("name"),
        alerts=AlertsConfig(
            p99_latency_ms=float(a["p99_latency_ms"]),
            error_rate_percent=float(a["error_rate_percent"]),
            error_rate_min_requests=int(a["error_rate_min_requests"]),
            window_minutes=int(a["window_minutes"]),
            frequency_minutes=int(a["frequency_minutes"]),
            severity=int(a["severity"]),
            emails=tuple(a["emails"]),
        ),
        budget=BudgetConfig(
            amount=float(b["amount"]),
            start_date=date.fromisoformat(start) if start else None,
            notifications=tuple(
                BudgetNotification(float(n["percent"]), n["type"]) for n in b["notifications"]
            ),
            emails=tuple(b["emails"]),
        ),
        data_access_principals=tuple(
            Principal(p["object_id"], p["principal_type"]) for p in raw.get("data_access_principals", [])
        ),
        ci_principal=raw.get("ci_principal"),
    )


def _network(n: Mapping[str, Any]) -> NetworkConfig:
    vnet = n.get("vnet")
    return NetworkConfig(
        mode=n["mode"],
        allowed_ip_ranges=tuple(IpRange(r["name"], r["cidr"]) for r in n.get("allowed_ip_ranges", [])),
        vnet=VnetConfig(vnet["address_space"], vnet["private_endpoints_subnet"], vnet["runner_subnet"])
        if vnet
        else None,
    )
