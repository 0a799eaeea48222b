"""Policy keyvault-rbac-authorization: compliant passes; each violation fires only this policy."""

from __future__ import annotations

from ctloop_policy import KEY_VAULT, info

POLICY = "keyvault-rbac-authorization"


def test_metadata(rule):
    meta = info(rule(POLICY))
    assert (meta.severity, meta.checkov) == ("high", "none")


def test_compliant_resource_passes(compliant, fired):
    assert fired(KEY_VAULT, compliant(KEY_VAULT)) == set()


def test_access_policies_fires_only_this_policy(compliant, fired):
    props = compliant(KEY_VAULT)
    props["properties"]["enableRbacAuthorization"] = False
    assert fired(KEY_VAULT, props) == {POLICY}


def test_rbac_unset_fires_only_this_policy(compliant, fired):
    props = compliant(KEY_VAULT)
    del props["properties"]["enableRbacAuthorization"]
    assert fired(KEY_VAULT, props) == {POLICY}
