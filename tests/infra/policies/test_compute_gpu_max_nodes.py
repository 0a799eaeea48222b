"""Policy compute-gpu-max-nodes: compliant passes; each violation fires only this policy."""

from __future__ import annotations

from ctloop_policy import COMPUTE, info

POLICY = "compute-gpu-max-nodes"


def test_metadata(rule):
    meta = info(rule(POLICY))
    assert (meta.severity, meta.checkov) == ("high", "none")


def test_compliant_resource_passes(compliant, fired):
    assert fired(COMPUTE, compliant(COMPUTE)) == set()


def test_cpu_cluster_with_12_nodes_passes(compliant, fired):
    props = compliant(COMPUTE)
    props["properties"]["properties"]["vmSize"] = "Standard_DS3_v2"
    props["properties"]["properties"]["scaleSettings"]["maxNodeCount"] = 12
    assert fired(COMPUTE, props) == set()


def test_twelve_gpu_nodes_fires_only_this_policy(compliant, fired):
    props = compliant(COMPUTE)
    props["properties"]["properties"]["scaleSettings"]["maxNodeCount"] = 12
    assert fired(COMPUTE, props) == {POLICY}


def test_nine_gpu_nodes_fires_only_this_policy(compliant, fired):
    props = compliant(COMPUTE)
    props["properties"]["properties"]["scaleSettings"]["maxNodeCount"] = 9
    assert fired(COMPUTE, props) == {POLICY}
