"""Policy storage-public-blob-access: compliant passes; each violation fires only this policy."""

from __future__ import annotations

from ctloop_policy import STORAGE, info

POLICY = "storage-public-blob-access"


def test_metadata(rule):
    meta = info(rule(POLICY))
    assert (meta.severity, meta.checkov) == ("high", "CKV_AZURE_190")


def test_compliant_resource_passes(compliant, fired):
    assert fired(STORAGE, compliant(STORAGE)) == set()


def test_public_blob_access_allowed_fires_only_this_policy(compliant, fired):
    props = compliant(STORAGE)
    props["allowBlobPublicAccess"] = True
    assert fired(STORAGE, props) == {POLICY}


def test_public_blob_access_unset_fires_only_this_policy(compliant, fired):
    props = compliant(STORAGE)
    del props["allowBlobPublicAccess"]
    assert fired(STORAGE, props) == {POLICY}
