"""The ctloop CrossGuard policy pack: ``pulumi preview|up --policy-pack policies/infra``.

This is the only place that builds the ``PolicyPack`` (which starts a gRPC server and blocks).
Which policies are mandatory depends on the stack's environment (guardrails.yml ``enforcement``):
``CTLOOP_POLICY_ENV`` if set, else the environment of the stack in ``CTLOOP_STACK`` / ``PULUMI_STACK``
(the Makefile sets ``CTLOOP_STACK``), else prod, the strictest.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

PACK_DIR = Path(__file__).resolve().parent
ROOT = PACK_DIR.parent.parent  # where Pulumi.<stack>.yaml are (read for the stack's environment)
if str(PACK_DIR) not in sys.path:
    sys.path.insert(0, str(PACK_DIR))

from ctloop_policy import catalog  # noqa: E402
from pulumi_policy import EnforcementLevel, PolicyPack  # noqa: E402

environment, reason = catalog.environment_from(os.environ, ROOT)
print(f"ctloop-infra policy pack: enforcement for {environment} ({reason})", file=sys.stderr)

PolicyPack(
    name="ctloop-infra",
    policies=catalog.configured(environment),
    enforcement_level=EnforcementLevel.MANDATORY,
    description="ctloop guardrails for Azure ML infrastructure that Checkov's ARM checks do not cover: "
    "GPU nodes, idle time, VM sizes, tags, regions, compute and identity settings.",
)
