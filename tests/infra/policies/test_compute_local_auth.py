"""Policy compute-local-auth: compliant passes; each violation fires only this policy."""

from __future__ import annotations

from ctloop_policy import COMPUTE, info

POLICY = "compute-local-auth"


def test_metadata(rule):
    meta = info(rule(POLICY))
    assert (meta.severity, meta.checkov) == ("high", "CKV_AZURE_142")


def test_compliant_resource_passes(compliant, fired):
    assert fired(COMPUTE, compliant(COMPUTE)) == set()


def test_local_auth_enabled_fires_only_this_policy(compliant, fired):
    props = compliant(COMPUTE)
    props["properties"]["disableLocalAuth"] = False
    assert fired(COMPUTE, props) == {POLICY}


def test_local_auth_unset_fires_only_this_policy(compliant, fired):
    props = compliant(COMPUTE)
    del props["properties"]["disableLocalAuth"]
    assert fired(COMPUTE, props) == {POLICY}
