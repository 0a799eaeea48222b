"""Policy registry-public-network: compliant passes; each violation fires only this policy."""

from __future__ import annotations

from ctloop_policy import REGISTRY, info

POLICY = "registry-public-network"


def test_metadata(rule):
    meta = info(rule(POLICY))
    assert (meta.severity, meta.checkov) == ("medium", "CKV_AZURE_139")


def test_compliant_resource_passes(compliant, fired):
    assert fired(REGISTRY, compliant(REGISTRY)) == set()


def test_public_network_enabled_fires_only_this_policy(compliant, fired):
    props = compliant(REGISTRY)
    props["publicNetworkAccess"] = "Enabled"
    assert fired(REGISTRY, props) == {POLICY}


def test_public_network_unset_fires_only_this_policy(compliant, fired):
    props = compliant(REGISTRY)
    del props["publicNetworkAccess"]
    assert fired(REGISTRY, props) == {POLICY}
