"""Support code for the ctloop CrossGuard pack: one policy per ``<resource>-<rule>.py`` file beside
this package, each built with :func:`policy`. Importing this never starts the pack's gRPC server;
only ``policies/infra/__main__.py`` builds the ``PolicyPack``.
"""

from __future__ import annotations

from .core import (
    COMPUTE,
    KEY_VAULT,
    REGISTRY,
    STORAGE,
    WORKSPACE,
    Check,
    PolicyError,
    PolicyInfo,
    aml_compute,
    guardrails,
    info,
    is_gpu_size,
    iso_seconds,
    load_yaml,
    policy,
    prop,
)

__all__ = [
    "COMPUTE",
    "KEY_VAULT",
    "REGISTRY",
    "STORAGE",
    "WORKSPACE",
    "Check",
    "PolicyError",
    "PolicyInfo",
    "aml_compute",
    "guardrails",
    "info",
    "is_gpu_size",
    "iso_seconds",
    "load_yaml",
    "policy",
    "prop",
]
