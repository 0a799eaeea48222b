"""Policy storage-public-network: compliant passes; each violation fires only this policy."""

from __future__ import annotations

from ctloop_policy import STORAGE, info

POLICY = "storage-public-network"


def test_metadata(rule):
    meta = info(rule(POLICY))
    assert (meta.severity, meta.checkov) == ("medium", "CKV_AZURE_59")


def test_compliant_resource_passes(compliant, fired):
    assert fired(STORAGE, compliant(STORAGE)) == set()


def test_public_network_enabled_fires_only_this_policy(compliant, fired):
    props = compliant(STORAGE)
    props["publicNetworkAccess"] = "Enabled"
    assert fired(STORAGE, props) == {POLICY}


def test_public_network_unset_fires_only_this_policy(compliant, fired):
    props = compliant(STORAGE)
    del props["publicNetworkAccess"]
    assert fired(STORAGE, props) == {POLICY}
