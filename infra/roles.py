"""Azure built-in role definitions ctloop assigns (the GUIDs are the same in every tenant)."""

from __future__ import annotations

STORAGE_BLOB_DATA_CONTRIBUTOR = "ba92f5b4-2d11-453d-a403-e96b0029c9fe"
ACR_PULL = "7f951dda-4ed3-4680-a7ca-43fe172d538d"
KEY_VAULT_SECRETS_USER = "4633458b-17de-408a-b874-0445c86b69e6"
AZUREML_DATA_SCIENTIST = "f6c7c914-8db3-469d-8ca1-694a8f32e121"

NAMES: dict[str, str] = {
    STORAGE_BLOB_DATA_CONTRIBUTOR: "Storage Blob Data Contributor",
    ACR_PULL: "AcrPull",
    KEY_VAULT_SECRETS_USER: "Key Vault Secrets User",
    AZUREML_DATA_SCIENTIST: "AzureML Data Scientist",
}


def definition_id(subscription_id: str, role_guid: str) -> str:
    """The subscription-scoped resource id of a built-in role definition."""
    return f"/subscriptions/{subscription_id}/providers/Microsoft.Authorization/roleDefinitions/{role_guid}"
