"""Names: deterministic, within each Azure resource type's length and charset rules, unique per seed."""

from __future__ import annotations

from dataclasses import asdict

import pytest

from infra import naming

SEED = "00000000-0000-4000-8000-000000000001/rg-ctloop-dev"


@pytest.mark.parametrize("environment", ["dev", "staging", "prod"])
def test_every_derived_name_satisfies_its_rule(environment):
    names = naming.derive("ctloop", environment, SEED)
    for field, value in asdict(names).items():
        assert naming.RULES[naming.KINDS.get(field, field)].violation(value) is None, field


def test_key_vault_and_storage_account_fit_24_characters_with_the_longest_prefix_that_fits():
    prefix = "abcdefghij"  # 10 characters: the most the Key Vault name (the tightest) allows
    names = naming.derive(prefix, "staging", SEED)
    assert len(names.key_vault) == 24
    assert len(names.storage_account) <= 24
    assert names.storage_account.isalnum() and names.storage_account.islower()


def test_a_prefix_one_character_too_long_is_rejected_naming_the_resource_and_limit():
    with pytest.raises(naming.NameRuleError) as err:
        naming.derive("abcdefghijk", "staging", SEED)
    assert err.value.kind == "key_vault"
    assert "25 characters; allowed 3..24" in str(err.value)


def test_names_are_deterministic_and_the_suffix_depends_on_the_seed():
    a = naming.derive("ctloop", "prod", SEED)
    assert a == naming.derive("ctloop", "prod", SEED)
    b = naming.derive("ctloop", "prod", SEED.replace("0001", "0002"))
    assert a.storage_account != b.storage_account
    assert a.workspace == b.workspace  # unique within the resource group: no suffix


def test_unique_suffix_is_six_lowercase_base36_characters():
    sfx = naming.unique_suffix("anything")
    assert len(sfx) == naming.SUFFIX_LENGTH
    assert set(sfx) <= set("0123456789abcdefghijklmnopqrstuvwxyz")


@pytest.mark.parametrize(
    ("kind", "name", "reason"),
    [
        ("storage_account", "St-Upper", "character rule"),
        ("key_vault", "kv--double", "character rule"),
        ("key_vault", "1kv-starts-with-digit", "character rule"),
        ("compute", "gpu-cluster-large", "17 characters; allowed 2..16"),
        ("compute", "gpu-", "character rule"),
        ("workspace", "w" * 34, "34 characters; allowed 3..33"),
        ("endpoint", "ends-with-", "character rule"),
    ],
)
def test_check_rejects_names_azure_would_reject(kind, name, reason):
    with pytest.raises(naming.NameRuleError, match=reason):
        naming.check(kind, name)


def test_an_endpoint_name_can_be_given():
    assert naming.derive("ctloop", "dev", SEED, endpoint="ctloop-rainfall").endpoint == "ctloop-rainfall"
    with pytest.raises(naming.NameRuleError, match="online endpoint"):
        naming.derive("ctloop", "dev", SEED, endpoint="-bad")


def test_environment_codes_keep_names_short():
    names = naming.derive("ctloop", "staging", SEED)
    assert names.storage_account.startswith("stctloopstg")
    assert names.resource_group == "rg-ctloop-staging"
