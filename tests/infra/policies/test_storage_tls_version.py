"""Policy storage-tls-version: compliant passes; each violation fires only this policy."""

from __future__ import annotations

from ctloop_policy import STORAGE, info

POLICY = "storage-tls-version"


def test_metadata(rule):
    meta = info(rule(POLICY))
    assert (meta.severity, meta.checkov) == ("high", "CKV_AZURE_44")


def test_compliant_resource_passes(compliant, fired):
    assert fired(STORAGE, compliant(STORAGE)) == set()


def test_tls_1_3_passes(compliant, fired):
    props = compliant(STORAGE)
    props["minimumTlsVersion"] = "TLS1_3"
    assert fired(STORAGE, props) == set()


def test_tls_1_0_fires_only_this_policy(compliant, fired):
    props = compliant(STORAGE)
    props["minimumTlsVersion"] = "TLS1_0"
    assert fired(STORAGE, props) == {POLICY}


def test_tls_1_1_fires_only_this_policy(compliant, fired):
    props = compliant(STORAGE)
    props["minimumTlsVersion"] = "TLS1_1"
    assert fired(STORAGE, props) == {POLICY}


def test_tls_unset_fires_only_this_policy(compliant, fired):
    props = compliant(STORAGE)
    del props["minimumTlsVersion"]
    assert fired(STORAGE, props) == {POLICY}
