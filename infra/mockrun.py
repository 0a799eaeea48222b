"""Run the real Pulumi program (infra/__main__.py) in-process with Pulumi mocks and record what it creates.

Used by the infra tests and by the Checkov scan (``python -m infra.scan``): no Pulumi CLI, no cloud.

The mocks answer like ARM would for what the tests read back: a resource's ``id`` is its ARM id,
``name`` is its Azure name, and a system-assigned identity gets a principal id. Stack config comes
from ``Pulumi.<stack>.yaml`` exactly as the Pulumi CLI passes it (strings; objects as JSON).
"""

from __future__ import annotations

import json
import runpy
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from unittest import mock

import pulumi
import yaml
from pulumi.runtime import settings as pulumi_settings

from infra import arm

SUBSCRIPTION_ID = "00000000-0000-4000-8000-000000000001"
TENANT_ID = "00000000-0000-4000-8000-0000000000aa"
_PRINCIPALS = uuid.UUID("0b9d3a52-8f3c-4c3e-9d1e-6a0f4b2c7e11")


@dataclass
class Recorded:
    """One resource the program registered: its type, Pulumi name, raw inputs and mocked ARM id."""

    type: str
    name: str
    inputs: dict[str, Any]
    id: str
    state: dict[str, Any]


def arm_id(typ: str, inputs: dict[str, Any], azure_name: str) -> str:
    return arm.resource_id(typ, inputs, azure_name, SUBSCRIPTION_ID)


class RecordingMocks(pulumi.runtime.Mocks):
    """Mocks that record every resource and answer ``getClientConfig``."""

    def __init__(self) -> None:
        self.resources: list[Recorded] = []
        self.calls: list[str] = []

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict[str, Any]]:
        azure_name = arm.azure_name(args.typ, args.inputs, args.name)
        rid = arm_id(args.typ, args.inputs, azure_name)
        state = {**args.inputs, "name": azure_name}
        identity = args.inputs.get("identity")
        if isinstance(identity, dict) and "SystemAssigned" in str(identity.get("type")):
            state["identity"] = {
                **identity,
                "principalId": str(uuid.uuid5(_PRINCIPALS, rid)),
                "tenantId": TENANT_ID,
            }
        self.resources.append(Recorded(args.typ, args.name, dict(args.inputs), rid, state))
        return rid, state

    def call(self, args: pulumi.runtime.MockCallArgs) -> dict[str, Any]:
        self.calls.append(args.token)
        if args.token == "azure-native:authorization:getClientConfig":
            return {
                "subscriptionId": SUBSCRIPTION_ID,
                "tenantId": TENANT_ID,
                "clientId": "00000000-0000-4000-8000-0000000000c1",
                "objectId": "00000000-0000-4000-8000-0000000000d1",
            }
        raise NotImplementedError(f"unexpected invoke {args.token}")


@dataclass
class StackRun:
    """The outcome of running the program for one stack."""

    stack: str
    resources: list[Recorded]
    outputs: dict[str, Any]
    calls: list[str] = field(default_factory=list)

    def of_type(self, typ: str) -> list[Recorded]:
        return [r for r in self.resources if r.type == typ]

    def one(self, typ: str) -> Recorded:
        found = self.of_type(typ)
        assert len(found) == 1, f"expected one {typ}, found {len(found)}"
        return found[0]

    def by_id(self, rid: str) -> Recorded:
        return next(r for r in self.resources if r.id == rid)


def pulumi_config(stack: str, root: Path) -> dict[str, str]:
    """The stack file's config as the Pulumi CLI hands it to a program: every value a string."""
    document = yaml.safe_load((root / f"Pulumi.{stack}.yaml").read_text())
    config: dict[str, str] = {}
    for key, value in document["config"].items():
        if isinstance(value, str):
            config[key] = value
        else:
            config[key] = json.dumps(value)
    return config


def run_stack(stack: str, root: Path, config: dict[str, str] | None = None) -> StackRun:
    """Run ``infra/__main__.py`` for ``stack`` under mocks; return what it registered and exported.

    Resets Pulumi's global runtime state first, so several stacks can run in one process.
    """
    pulumi.runtime.set_all_config(config if config is not None else pulumi_config(stack, root))
    pulumi_settings.set_root_resource(None)  # type: ignore[arg-type]
    mocks = RecordingMocks()
    pulumi.runtime.set_mocks(mocks, project="ctloop", stack=stack, preview=False)
    exported: dict[str, Any] = {}
    resolved: dict[str, Any] = {}

    @pulumi.runtime.test
    def program() -> pulumi.Output[Any]:
        with mock.patch.object(pulumi, "export", side_effect=lambda k, v: exported.__setitem__(k, v)):
            runpy.run_path(str(root / "infra"), run_name="__main__")
        return pulumi.Output.all(**exported).apply(resolved.update)

    program()
    return StackRun(stack=stack, resources=mocks.resources, outputs=resolved, calls=mocks.calls)
