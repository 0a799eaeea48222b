"""Policy compute-vm-size: compliant passes; each violation fires only this policy."""

from __future__ import annotations

from ctloop_policy import COMPUTE, info

POLICY = "compute-vm-size"


def test_metadata(rule):
    meta = info(rule(POLICY))
    assert (meta.severity, meta.checkov) == ("high", "none")


def test_compliant_resource_passes(compliant, fired):
    assert fired(COMPUTE, compliant(COMPUTE)) == set()


def test_allowed_cpu_size_passes(compliant, fired):
    props = compliant(COMPUTE)
    props["properties"]["properties"]["vmSize"] = "Standard_D4s_v3"
    assert fired(COMPUTE, props) == set()


def test_unknown_size_fires_only_this_policy(compliant, fired):
    props = compliant(COMPUTE)
    props["properties"]["properties"]["vmSize"] = "Standard_M416ms_v2"
    assert fired(COMPUTE, props) == {POLICY}


def test_size_unset_fires_only_this_policy(compliant, fired):
    props = compliant(COMPUTE)
    del props["properties"]["properties"]["vmSize"]
    assert fired(COMPUTE, props) == {POLICY}
