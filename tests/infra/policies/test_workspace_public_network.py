"""Policy workspace-public-network: compliant passes; each violation fires only this policy."""

from __future__ import annotations

from ctloop_policy import WORKSPACE, info

POLICY = "workspace-public-network"


def test_metadata(rule):
    meta = info(rule(POLICY))
    assert (meta.severity, meta.checkov) == ("high", "CKV_AZURE_144")


def test_compliant_resource_passes(compliant, fired):
    assert fired(WORKSPACE, compliant(WORKSPACE)) == set()


def test_public_network_enabled_fires_only_this_policy(compliant, fired):
    props = compliant(WORKSPACE)
    props["publicNetworkAccess"] = "Enabled"
    assert fired(WORKSPACE, props) == {POLICY}


def test_public_network_unset_fires_only_this_policy(compliant, fired):
    props = compliant(WORKSPACE)
    del props["publicNetworkAccess"]
    assert fired(WORKSPACE, props) == {POLICY}
