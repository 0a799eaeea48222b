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

# Roles Azure ML grants the workspace's own system-assigned identity when it creates the workspace
# (on its storage account, Key Vault, container registry and Application Insights). Assigning any of
# them again from Pulumi fails the first `pulumi up` with RoleAssignmentExists, so ctloop never does.
GRANTED_BY_AZURE_ML_TO_WORKSPACE = frozenset(
    {
        STORAGE_BLOB_DATA_CONTRIBUTOR,
        "69566ab7-960f-475b-8e7c-b3118f30c6bd",  # Storage File Data Privileged Contributor
        "b24988ac-6180-42a0-ab88-20f7382dd24c",  # Contributor (storage, vault, registry, App Insights)
        "00482a5a-887f-4fb3-b363-3b7fe8e74483",  # Key Vault Administrator
        ACR_PULL,
        "8311e382-0749-4cb8-b61a-304f252e45ec",  # AcrPush
    }
)


def definition_id(subscription_id: str, role_guid: str) -> str:
    """The subscription-scoped resource id of a built-in role definition."""
    return f"/subscriptions/{subscription_id}/providers/Microsoft.Authorization/roleDefinitions/{role_guid}"
