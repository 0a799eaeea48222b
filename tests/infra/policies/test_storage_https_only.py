"""Policy storage-https-only: compliant passes; each violation fires only this policy."""

from __future__ import annotations

from ctloop_policy import STORAGE, info

POLICY = "storage-https-only"


def test_metadata(rule):
    meta = info(rule(POLICY))
    assert (meta.severity, meta.checkov) == ("high", "CKV_AZURE_3")


def test_compliant_resource_passes(compliant, fired):
    assert fired(STORAGE, compliant(STORAGE)) == set()


def test_http_allowed_fires_only_this_policy(compliant, fired):
    props = compliant(STORAGE)
    props["enableHttpsTrafficOnly"] = False
    assert fired(STORAGE, props) == {POLICY}


def test_https_only_unset_fires_only_this_policy(compliant, fired):
    props = compliant(STORAGE)
    del props["enableHttpsTrafficOnly"]
    assert fired(STORAGE, props) == {POLICY}
