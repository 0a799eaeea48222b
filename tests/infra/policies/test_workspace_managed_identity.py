"""Policy workspace-managed-identity: compliant passes; each violation fires only this policy."""

from __future__ import annotations

from ctloop_policy import WORKSPACE, info

POLICY = "workspace-managed-identity"


def test_metadata(rule):
    meta = info(rule(POLICY))
    assert (meta.severity, meta.checkov) == ("high", "none")


def test_compliant_resource_passes(compliant, fired):
    assert fired(WORKSPACE, compliant(WORKSPACE)) == set()


def test_user_assigned_passes(compliant, fired):
    props = compliant(WORKSPACE)
    props["identity"] = {"type": "UserAssigned", "userAssignedIdentities": ["/x"]}
    assert fired(WORKSPACE, props) == set()


def test_no_identity_fires_only_this_policy(compliant, fired):
    props = compliant(WORKSPACE)
    del props["identity"]
    assert fired(WORKSPACE, props) == {POLICY}


def test_identity_none_fires_only_this_policy(compliant, fired):
    props = compliant(WORKSPACE)
    props["identity"] = {"type": "None"}
    assert fired(WORKSPACE, props) == {POLICY}
