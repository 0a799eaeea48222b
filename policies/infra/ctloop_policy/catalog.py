"""Find the pack's policies, decide where each is mandatory, and evaluate resources against them.

Policy files are named ``<resource>-<rule>.py`` (not importable with ``import``), so they are loaded
by path with importlib; each must define ``POLICY`` whose name equals the file's stem.
"""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pulumi_policy import (
    EnforcementLevel,
    PolicyCustomTimeouts,
    PolicyResourceOptions,
    ResourceValidationArgs,
    ResourceValidationPolicy,
)
from pulumi_policy.proxy import unknown_checking_proxy

from .core import PACK_DIR, PolicyError, guardrails

ENVIRONMENTS = ("dev", "staging", "prod")
STRICTEST = "prod"
ENV_VARS = ("CTLOOP_POLICY_ENV",)
STACK_VARS = ("CTLOOP_STACK", "PULUMI_STACK")


def policy_files(pack_dir: Path = PACK_DIR) -> list[Path]:
    """Every ``<resource>-<rule>.py`` in the pack, sorted."""
    return sorted(p for p in pack_dir.glob("*-*.py") if p.is_file())


def load_policy_file(path: Path) -> ResourceValidationPolicy:
    module_name = "ctloop_policy.rules." + path.stem.replace("-", "_")
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load policy file {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    spec.loader.exec_module(module)
    rule = getattr(module, "POLICY", None)
    if not isinstance(rule, ResourceValidationPolicy):
        raise PolicyError(path, "POLICY", "the file must define POLICY = ctloop_policy.policy(...)")
    if rule.name != path.stem:
        raise PolicyError(path, "POLICY.name", f"{rule.name!r} must equal the file name {path.stem!r}")
    return rule


def load_policies(pack_dir: Path = PACK_DIR) -> list[ResourceValidationPolicy]:
    return [load_policy_file(p) for p in policy_files(pack_dir)]


def enforcement(environment: str, names: Iterable[str]) -> dict[str, EnforcementLevel]:
    """Each policy's level in ``environment``: mandatory unless guardrails.yml lists it as advisory there."""
    if environment not in ENVIRONMENTS:
        raise PolicyError(PACK_DIR / "guardrails.yml", "enforcement", f"unknown environment {environment!r}")
    names = list(names)
    advisory = guardrails()["enforcement"][environment]["advisory"]
    unknown = sorted(set(advisory) - set(names))
    if unknown:
        raise PolicyError(
            PACK_DIR / "guardrails.yml",
            f"enforcement.{environment}.advisory",
            f"unknown policy {unknown[0]!r}",
        )
    return {n: EnforcementLevel.ADVISORY if n in advisory else EnforcementLevel.MANDATORY for n in names}


def configured(environment: str, pack_dir: Path = PACK_DIR) -> list[ResourceValidationPolicy]:
    """The pack's policies with their enforcement level set for ``environment``."""
    rules = load_policies(pack_dir)
    levels = enforcement(environment, [r.name for r in rules])
    for rule in rules:
        rule.enforcement_level = levels[rule.name]
    return rules


def environment_from(environ: Mapping[str, str], root: Path) -> tuple[str, str]:
    """Which environment's enforcement applies, and why.

    ``CTLOOP_POLICY_ENV`` wins; else the stack named by ``CTLOOP_STACK`` / ``PULUMI_STACK`` is read
    (its ``ctloop:environment``); else the strictest (prod), so an unknown stack is never let off.
    """
    for var in ENV_VARS:
        if environ.get(var):
            return environ[var], f"{var}={environ[var]}"
    for var in STACK_VARS:
        stack = environ.get(var, "").rsplit("/", 1)[-1]
        if stack:
            path = root / f"Pulumi.{stack}.yaml"
            try:
                environment = (yaml.safe_load(path.read_text()) or {})["config"]["ctloop:environment"]
            except (OSError, yaml.YAMLError, KeyError, TypeError) as exc:
                return STRICTEST, f"stack {stack} unreadable ({exc!r}); using {STRICTEST}"
            if environment not in ENVIRONMENTS:
                return STRICTEST, f"stack {stack}: unknown environment {environment!r}; using {STRICTEST}"
            return environment, f"stack {stack} ({var})"
    return STRICTEST, f"no stack given; using {STRICTEST}"


@dataclass(frozen=True)
class Violation:
    policy: str
    enforcement: str
    resource_type: str
    resource_name: str
    message: str


def _args(resource_type: str, name: str, props: Mapping[str, Any]) -> ResourceValidationArgs:
    opts = PolicyResourceOptions(False, [], None, [], PolicyCustomTimeouts(0, 0, 0), [], None)
    urn = f"urn:pulumi:stack::ctloop::{resource_type}::{name}"
    # The analyzer hands validators its proxy (a Mapping, not a dict); so does this.
    return ResourceValidationArgs(resource_type, unknown_checking_proxy(dict(props)), urn, name, opts, None)


def evaluate(
    resources: Iterable[tuple[str, str, Mapping[str, Any]]],
    rules: Iterable[ResourceValidationPolicy],
    levels: Mapping[str, EnforcementLevel],
) -> list[Violation]:
    """Run every policy's validator on every (type, name, props) resource, as the pack's analyzer would."""
    rules = list(rules)
    found: list[Violation] = []
    for resource_type, name, props in resources:
        args = _args(resource_type, name, props)
        for rule in rules:
            messages: list[str] = []
            rule.validate(args, lambda message, urn=None, sink=messages: sink.append(message))
            found.extend(
                Violation(rule.name, levels[rule.name].value, resource_type, name, m) for m in messages
            )
    return found
