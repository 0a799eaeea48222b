"""Build an ``MLClient`` for a stack's workspace.

Inside an Azure ML job there is no ``.azureml/config.json``: the service sets
``AZUREML_ARM_SUBSCRIPTION``, ``AZUREML_ARM_RESOURCEGROUP`` and ``AZUREML_ARM_WORKSPACE_NAME``,
and the compute's managed identity signs the calls (``DEFAULT_IDENTITY_CLIENT_ID`` names the
user-assigned identity when there is one). Those variables win when set.

Elsewhere (a laptop, CI): ``.azureml/config.<stack>.json`` when present (one workspace per stack),
else ``.azureml/config.json`` (the file the infra stack outputs produce), with
DefaultAzureCredential. A missing or incomplete file or environment and missing credentials fail
with a message that says what to do, before any call to Azure.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

CONFIG_DIR = Path(".azureml")
REQUIRED_KEYS = ("subscription_id", "resource_group", "workspace_name")
ARM_SCOPE = "https://management.azure.com/.default"
# Set by Azure ML in every job: the workspace the job runs in.
JOB_ENV = {
    "subscription_id": "AZUREML_ARM_SUBSCRIPTION",
    "resource_group": "AZUREML_ARM_RESOURCEGROUP",
    "workspace_name": "AZUREML_ARM_WORKSPACE_NAME",
}
# The client id of the compute's user-assigned managed identity (absent: system-assigned).
IDENTITY_ENV = "DEFAULT_IDENTITY_CLIENT_ID"


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


def job_workspace(environ: Mapping[str, str] | None = None) -> dict[str, str] | None:
    """The workspace coordinates Azure ML sets in a job; None outside a job."""
    environ = os.environ if environ is None else environ
    values = {key: environ.get(var, "").strip() for key, var in JOB_ENV.items()}
    if not any(values.values()):
        return None
    missing = [JOB_ENV[key] for key, value in values.items() if not value]
    if missing:
        raise AzureSetupError(
            f"environment: {', '.join(missing)} not set while "
            f"{', '.join(v for k, v in JOB_ENV.items() if values[k])} is: inside an Azure ML job the "
            "service sets all three; elsewhere unset them and use .azureml/config.json"
        )
    return values


def job_credential(environ: Mapping[str, str] | None = None) -> Any:
    """The compute's managed identity (user-assigned when ``DEFAULT_IDENTITY_CLIENT_ID`` is set)."""
    from azure.identity import ManagedIdentityCredential

    environ = os.environ if environ is None else environ
    client_id = environ.get(IDENTITY_ENV, "").strip()
    return ManagedIdentityCredential(client_id=client_id) if client_id else ManagedIdentityCredential()


def ml_client(
    root: Path, stack: str, credential: Any = None, environ: Mapping[str, str] | None = None, **kwargs: Any
) -> Any:
    """An azure-ai-ml MLClient: the job's own workspace and identity inside a job, else the stack's
    config file and DefaultAzureCredential. ``kwargs`` go to MLClient (e.g. ``transport``)."""
    from azure.ai.ml import MLClient

    in_job = job_workspace(environ)
    if in_job is not None:
        config, credential = in_job, credential or job_credential(environ)
    else:
        config = read_config(config_path(root, stack))
        credential = credential or default_credential()
    return MLClient(
        credential,
        subscription_id=config["subscription_id"],
        resource_group_name=config["resource_group"],
        workspace_name=config["workspace_name"],
        **kwargs,
    )
