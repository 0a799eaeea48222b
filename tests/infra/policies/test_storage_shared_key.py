"""Policy storage-shared-key: compliant passes; each violation fires only this policy."""

from __future__ import annotations

from ctloop_policy import STORAGE, info

POLICY = "storage-shared-key"


def test_metadata(rule):
    meta = info(rule(POLICY))
    assert (meta.severity, meta.checkov) == ("medium", "CKV2_AZURE_40")


def test_compliant_resource_passes(compliant, fired):
    assert fired(STORAGE, compliant(STORAGE)) == set()


def test_shared_key_allowed_fires_only_this_policy(compliant, fired):
    props = compliant(STORAGE)
    props["allowSharedKeyAccess"] = True
    assert fired(STORAGE, props) == {POLICY}


def test_shared_key_unset_fires_only_this_policy(compliant, fired):
    props = compliant(STORAGE)
    del props["allowSharedKeyAccess"]
    assert fired(STORAGE, props) == {POLICY}
