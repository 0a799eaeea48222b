"""Policy keyvault-soft-delete: compliant passes; each violation fires only this policy."""

from __future__ import annotations

from ctloop_policy import KEY_VAULT, info

POLICY = "keyvault-soft-delete"


def test_metadata(rule):
    meta = info(rule(POLICY))
    assert (meta.severity, meta.checkov) == ("high", "CKV_AZURE_111")


def test_compliant_resource_passes(compliant, fired):
    assert fired(KEY_VAULT, compliant(KEY_VAULT)) == set()


def test_soft_delete_off_fires_only_this_policy(compliant, fired):
    props = compliant(KEY_VAULT)
    props["properties"]["enableSoftDelete"] = False
    assert fired(KEY_VAULT, props) == {POLICY}


def test_soft_delete_unset_fires_only_this_policy(compliant, fired):
    props = compliant(KEY_VAULT)
    del props["properties"]["enableSoftDelete"]
    assert fired(KEY_VAULT, props) == {POLICY}
