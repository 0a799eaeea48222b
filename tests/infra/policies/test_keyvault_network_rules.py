"""Policy keyvault-network-rules: compliant passes; each violation fires only this policy."""

from __future__ import annotations

from ctloop_policy import KEY_VAULT, info

POLICY = "keyvault-network-rules"


def test_metadata(rule):
    meta = info(rule(POLICY))
    assert (meta.severity, meta.checkov) == ("medium", "CKV_AZURE_109")


def test_compliant_resource_passes(compliant, fired):
    assert fired(KEY_VAULT, compliant(KEY_VAULT)) == set()


def test_firewall_allows_fires_only_this_policy(compliant, fired):
    props = compliant(KEY_VAULT)
    props["properties"]["networkAcls"]["defaultAction"] = "Allow"
    assert fired(KEY_VAULT, props) == {POLICY}


def test_no_network_rules_fires_only_this_policy(compliant, fired):
    props = compliant(KEY_VAULT)
    del props["properties"]["networkAcls"]
    assert fired(KEY_VAULT, props) == {POLICY}
