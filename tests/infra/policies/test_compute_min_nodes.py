"""Policy compute-min-nodes: compliant passes; each violation fires only this policy."""

from __future__ import annotations

from ctloop_policy import COMPUTE, info

POLICY = "compute-min-nodes"


def test_metadata(rule):
    meta = info(rule(POLICY))
    assert (meta.severity, meta.checkov) == ("high", "CKV_AZURE_150")


def test_compliant_resource_passes(compliant, fired):
    assert fired(COMPUTE, compliant(COMPUTE)) == set()


def test_min_as_float_passes(compliant, fired):
    props = compliant(COMPUTE)
    props["properties"]["properties"]["scaleSettings"]["minNodeCount"] = 0.0
    assert fired(COMPUTE, props) == set()


def test_min_one_node_fires_only_this_policy(compliant, fired):
    props = compliant(COMPUTE)
    props["properties"]["properties"]["scaleSettings"]["minNodeCount"] = 1
    assert fired(COMPUTE, props) == {POLICY}


def test_min_unset_fires_only_this_policy(compliant, fired):
    props = compliant(COMPUTE)
    del props["properties"]["properties"]["scaleSettings"]["minNodeCount"]
    assert fired(COMPUTE, props) == {POLICY}
