"""Policy workspace-high-business-impact: compliant passes; each violation fires only this policy."""

from __future__ import annotations

from ctloop_policy import WORKSPACE, info

POLICY = "workspace-high-business-impact"


def test_metadata(rule):
    meta = info(rule(POLICY))
    assert (meta.severity, meta.checkov) == ("low", "CKV2_AZURE_50")


def test_compliant_resource_passes(compliant, fired):
    assert fired(WORKSPACE, compliant(WORKSPACE)) == set()


def test_not_hbi_fires_only_this_policy(compliant, fired):
    props = compliant(WORKSPACE)
    props["hbiWorkspace"] = False
    assert fired(WORKSPACE, props) == {POLICY}


def test_hbi_unset_fires_only_this_policy(compliant, fired):
    props = compliant(WORKSPACE)
    del props["hbiWorkspace"]
    assert fired(WORKSPACE, props) == {POLICY}
