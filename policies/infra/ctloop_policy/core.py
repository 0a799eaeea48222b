"""Building blocks of a ctloop policy: resource type tokens, property access, guardrails, metadata.

The pack stands alone (its own ``requirements.txt``, no import from the ctloop package), so that the
Pulumi CLI can run it from its own virtualenv.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import yaml
from pulumi_policy import (
    PolicyComplianceFramework,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    Severity,
)

PACK_DIR = Path(__file__).resolve().parent.parent

STORAGE = "azure-native:storage:StorageAccount"
KEY_VAULT = "azure-native:keyvault:Vault"
REGISTRY = "azure-native:containerregistry:Registry"
WORKSPACE = "azure-native:machinelearningservices:Workspace"
COMPUTE = "azure-native:machinelearningservices:Compute"

# A check receives the resource's properties (engine camelCase form) and returns the reason for a
# violation, or None when the resource complies.
Check = Callable[[Mapping[str, Any]], "str | None"]

_MISSING = object()


@dataclass(frozen=True)
class PolicyInfo:
    """What the docs table shows for one policy."""

    name: str
    description: str
    severity: str
    checkov: str
    resource: str


class PolicyError(ValueError):
    """A pack file that cannot be used: names the file, the field and the reason."""

    def __init__(self, file: str | Path, field: str, reason: str) -> None:
        self.file, self.field, self.reason = str(file), field, reason
        super().__init__(f"{self.file}: {field}: {reason}")


def load_yaml(name: str, pack_dir: Path = PACK_DIR) -> dict[str, Any]:
    """``<pack>/<name>.yml`` validated against ``<pack>/schemas/<name>.schema.json`` (raises PolicyError)."""
    path = pack_dir / f"{name}.yml"
    try:
        data = yaml.safe_load(path.read_text())
        schema = json.loads((pack_dir / "schemas" / f"{name}.schema.json").read_text())
    except (OSError, yaml.YAMLError, json.JSONDecodeError) as exc:
        raise PolicyError(path, "<file>", str(exc).splitlines()[0]) from None
    errors = list(jsonschema.Draft202012Validator(schema).iter_errors(data))
    if errors:
        best = jsonschema.exceptions.best_match(errors)
        field = ".".join(str(p) for p in best.absolute_path) or "<root>"
        raise PolicyError(path, field, best.message)
    return data


@cache
def guardrails() -> dict[str, Any]:
    """``policies/infra/guardrails.yml``, validated against its schema."""
    return load_yaml("guardrails")


def prop(props: Mapping[str, Any], path: str, default: Any = _MISSING) -> Any:
    """A nested property by dotted path (``properties.networkAcls.defaultAction``), or ``default``."""
    value: Any = props
    for part in path.split("."):
        if not isinstance(value, Mapping) or part not in value:
            return None if default is _MISSING else default
        value = value[part]
    return value


_ISO = re.compile(r"P(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?)?")


def iso_seconds(duration: str) -> int | None:
    """Seconds in an ISO 8601 duration such as ``PT300S``, ``PT5M`` or ``PT1H30M``; None if unparsable."""
    m = _ISO.fullmatch(duration or "")
    if not m or not any(m.groups()) or duration.endswith("T"):
        return None
    d, h, mi, s = (int(g or 0) for g in m.groups())
    return ((d * 24 + h) * 60 + mi) * 60 + s


def info(rule: ResourceValidationPolicy) -> PolicyInfo:
    """The docs metadata :func:`policy` attached to a policy."""
    return rule.ctloop_info  # type: ignore[attr-defined]


def policy(
    *,
    name: str,
    description: str,
    severity: Severity,
    checkov: str,
    resource: str,
    check: Check,
    types: tuple[str, ...] | None = None,
    remediation: str = "",
) -> ResourceValidationPolicy:
    """A resource policy that runs ``check`` on resources of ``types`` (all azure-native ones if None).

    ``checkov`` is the Checkov check that covers the same rule for Terraform only (Checkov's ARM
    framework, which ``make checkov`` runs, has no such check), or "none"; it is recorded as the
    policy's compliance framework reference and in its description. Rules Checkov checks on ARM are
    left to Checkov (``infra/scan.py``), not mirrored here.
    """

    def validate(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
        if types is not None and args.resource_type not in types:
            return
        if types is None and not args.resource_type.startswith("azure-native:"):
            return
        reason = check(args.props)
        if reason:
            report_violation(f"{args.name}: {reason}", None)

    mirror = (
        f" (Checkov {checkov} covers Terraform only; no Checkov ARM check)"
        if checkov != "none"
        else " (no Checkov equivalent)"
    )
    rule = ResourceValidationPolicy(
        name=name,
        description=description + mirror,
        validate=validate,
        severity=severity,
        framework=PolicyComplianceFramework(name="Checkov", reference=checkov) if checkov != "none" else None,
        tags=[resource],
        remediation_steps=remediation or None,
    )
    rule.ctloop_info = PolicyInfo(name, description, severity.value, checkov, resource)  # type: ignore[attr-defined]
    return rule


def aml_compute(props: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The inner properties of an AmlCompute cluster, or None for any other compute type."""
    if prop(props, "properties.computeType") != "AmlCompute":
        return None
    inner = prop(props, "properties.properties")
    return inner if isinstance(inner, Mapping) else {}


def is_gpu_size(vm_size: str) -> bool:
    """N-series sizes (and any size guardrails lists as GPU) are GPU sizes."""
    return vm_size in guardrails()["allowed_vm_sizes"]["gpu"] or vm_size.lower().startswith("standard_n")
