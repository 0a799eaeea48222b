"""Policy registry-admin-user: compliant passes; each violation fires only this policy."""

from __future__ import annotations

from ctloop_policy import REGISTRY, info

POLICY = "registry-admin-user"


def test_metadata(rule):
    meta = info(rule(POLICY))
    assert (meta.severity, meta.checkov) == ("high", "CKV_AZURE_137")


def test_compliant_resource_passes(compliant, fired):
    assert fired(REGISTRY, compliant(REGISTRY)) == set()


def test_admin_enabled_fires_only_this_policy(compliant, fired):
    props = compliant(REGISTRY)
    props["adminUserEnabled"] = True
    assert fired(REGISTRY, props) == {POLICY}


def test_admin_unset_fires_only_this_policy(compliant, fired):
    props = compliant(REGISTRY)
    del props["adminUserEnabled"]
    assert fired(REGISTRY, props) == {POLICY}
