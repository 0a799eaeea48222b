"""Policy keyvault-purge-protection: compliant passes; each violation fires only this policy."""

from __future__ import annotations

from ctloop_policy import KEY_VAULT, info

POLICY = "keyvault-purge-protection"


def test_metadata(rule):
    meta = info(rule(POLICY))
    assert (meta.severity, meta.checkov) == ("medium", "CKV_AZURE_110")


def test_compliant_resource_passes(compliant, fired):
    assert fired(KEY_VAULT, compliant(KEY_VAULT)) == set()


def test_purge_protection_off_fires_only_this_policy(compliant, fired):
    props = compliant(KEY_VAULT)
    props["properties"]["enablePurgeProtection"] = False
    assert fired(KEY_VAULT, props) == {POLICY}


def test_purge_protection_unset_fires_only_this_policy(compliant, fired):
    props = compliant(KEY_VAULT)
    del props["properties"]["enablePurgeProtection"]
    assert fired(KEY_VAULT, props) == {POLICY}
