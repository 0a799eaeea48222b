"""Policy compute-public-ip: compliant passes; each violation fires only this policy."""

from __future__ import annotations

from ctloop_policy import COMPUTE, info

POLICY = "compute-public-ip"


def test_metadata(rule):
    meta = info(rule(POLICY))
    assert (meta.severity, meta.checkov) == ("medium", "none")


def test_compliant_resource_passes(compliant, fired):
    assert fired(COMPUTE, compliant(COMPUTE)) == set()


def test_public_ip_fires_only_this_policy(compliant, fired):
    props = compliant(COMPUTE)
    props["properties"]["properties"]["enableNodePublicIp"] = True
    assert fired(COMPUTE, props) == {POLICY}


def test_public_ip_unset_fires_only_this_policy(compliant, fired):
    props = compliant(COMPUTE)
    del props["properties"]["properties"]["enableNodePublicIp"]
    assert fired(COMPUTE, props) == {POLICY}
