"""The mock runner of the Pulumi program lives in infra/mockrun.py (the Checkov scan uses it too)."""

from infra.mockrun import (
    SUBSCRIPTION_ID,
    TENANT_ID,
    Recorded,
    RecordingMocks,
    StackRun,
    pulumi_config,
    run_stack,
)

__all__ = [
    "SUBSCRIPTION_ID",
    "TENANT_ID",
    "Recorded",
    "RecordingMocks",
    "StackRun",
    "pulumi_config",
    "run_stack",
]
