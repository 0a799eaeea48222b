"""Build an ``MLClient`` for a stack's workspace from ``.azureml/config.json`` and DefaultAzureCredential.

``.azureml/config.<stack>.json`` is used when present (one workspace per stack), else
``.azureml/config.json`` (the file the infra stack outputs produce). A missing or incomplete
file and missing credentials fail with a message that says what to do, before any call to Azure.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

CONFIG_DIR = Path(".azureml")
REQUIRED_KEYS = ("subscription_id", "resource_group", "workspace_name")
ARM_SCOPE = "https://management.azure.com/.default"


class AzureSetupError(RuntimeError):
    """Azure cannot be reached as configured: the message names the file or setting and the fix."""


def config_path(root: Path, stack: str) -> Path:
    """The workspace config for ``stack``: ``config.<stack>.json`` if present, else ``config.json``."""
    for name in (f"config.{stack}.json", "config.json"):
        path = root / CONFIG_DIR / name
        if path.is_file():
            return path
    raise AzureSetupError(
        f"{root / CONFIG_DIR / 'config.json'}: not found. Write it from the stack outputs with "
        f"`make azureml-config STACK={stack}` (after `make up STACK={stack}`), or download it from "
        "the workspace page in Azure ML studio (keys: subscription_id, resource_group, workspace_name)"
    )


def read_config(path: Path) -> dict[str, str]:
    """The workspace coordinates in ``path``, checked for the required keys."""
    try:
        data: Any = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise AzureSetupError(f"{path}: cannot read it as JSON: {exc}") from None
    if not isinstance(data, dict):
        raise AzureSetupError(f"{path}: expected a JSON object with {', '.join(REQUIRED_KEYS)}")
    missing = [k for k in REQUIRED_KEYS if not isinstance(data.get(k), str) or not data[k]]
    if missing:
        raise AzureSetupError(f"{path}: missing {', '.join(missing)}")
    return {k: str(v) for k, v in data.items() if isinstance(v, str)}


def default_credential() -> Any:
    """DefaultAzureCredential, checked by asking for a token so a missing login fails here, clearly."""
    from azure.core.exceptions import ClientAuthenticationError
    from azure.identity import CredentialUnavailableError, DefaultAzureCredential

    credential = DefaultAzureCredential()
    logger = logging.getLogger("azure.identity")
    level = logger.level
    logger.setLevel(logging.CRITICAL)  # its multi-line warning repeats what the error below says
    try:
        credential.get_token(ARM_SCOPE)
    except (CredentialUnavailableError, ClientAuthenticationError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise AzureSetupError(
            "no Azure credentials: run `az login`, or set AZURE_CLIENT_ID/AZURE_TENANT_ID with "
            "AZURE_CLIENT_SECRET or a federated token (CI: azure/login with OIDC); "
            f"DefaultAzureCredential said: {first}"
        ) from None
    finally:
        logger.setLevel(level)
    return credential


def ml_client(root: Path, stack: str, credential: Any = None) -> Any:
    """An azure-ai-ml MLClient for the stack's workspace."""
    config = read_config(config_path(root, stack))
    from azure.ai.ml import MLClient

    return MLClient(
        credential or default_credential(),
        subscription_id=config["subscription_id"],
        resource_group_name=config["resource_group"],
        workspace_name=config["workspace_name"],
    )
