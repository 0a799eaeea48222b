"""Safe deployment: one Endpoint interface (local router + azmlinfsrv processes, or an Azure ML
managed online endpoint) and the blue/green rollout controller that drives it.

``open_endpoint(target, policy, endpoints_dir)`` builds the implementation named in
``IMPLEMENTATIONS``; each is imported only when chosen.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ctloop.rollout.endpoint import Endpoint
    from ctloop.rollout.policy import RolloutPolicy

#: target -> "module:function" building the Endpoint from (policy, endpoints folder).
IMPLEMENTATIONS: dict[str, str] = {
    "local": "ctloop.rollout.local:open_local_endpoint",
    "azure": "ctloop.rollout.azure_endpoint:open_azure_endpoint",
}


def open_endpoint(target: str, policy: RolloutPolicy, endpoints_dir: str | Path) -> Endpoint:
    """The endpoint for ``target`` (EndpointError for a target that is not in the table)."""
    from ctloop.rollout.endpoint import EndpointError

    if target not in IMPLEMENTATIONS:
        raise EndpointError(f"target '{target}': expected one of {', '.join(IMPLEMENTATIONS)}")
    module, _, factory = IMPLEMENTATIONS[target].partition(":")
    return getattr(importlib.import_module(module), factory)(policy, endpoints_dir)
