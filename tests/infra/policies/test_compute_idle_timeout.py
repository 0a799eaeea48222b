"""Policy compute-idle-timeout: compliant passes; each violation fires only this policy."""

from __future__ import annotations

from ctloop_policy import COMPUTE, info

POLICY = "compute-idle-timeout"


def test_metadata(rule):
    meta = info(rule(POLICY))
    assert (meta.severity, meta.checkov) == ("medium", "none")


def test_compliant_resource_passes(compliant, fired):
    assert fired(COMPUTE, compliant(COMPUTE)) == set()


def test_idle_in_minutes_passes(compliant, fired):
    props = compliant(COMPUTE)
    props["properties"]["properties"]["scaleSettings"]["nodeIdleTimeBeforeScaleDown"] = "PT15M"
    assert fired(COMPUTE, props) == set()


def test_idle_too_long_fires_only_this_policy(compliant, fired):
    props = compliant(COMPUTE)
    props["properties"]["properties"]["scaleSettings"]["nodeIdleTimeBeforeScaleDown"] = "PT2H"
    assert fired(COMPUTE, props) == {POLICY}


def test_idle_too_short_fires_only_this_policy(compliant, fired):
    props = compliant(COMPUTE)
    props["properties"]["properties"]["scaleSettings"]["nodeIdleTimeBeforeScaleDown"] = "PT30S"
    assert fired(COMPUTE, props) == {POLICY}


def test_idle_unparsable_fires_only_this_policy(compliant, fired):
    props = compliant(COMPUTE)
    props["properties"]["properties"]["scaleSettings"]["nodeIdleTimeBeforeScaleDown"] = "300"
    assert fired(COMPUTE, props) == {POLICY}


def test_idle_unset_fires_only_this_policy(compliant, fired):
    props = compliant(COMPUTE)
    del props["properties"]["properties"]["scaleSettings"]["nodeIdleTimeBeforeScaleDown"]
    assert fired(COMPUTE, props) == {POLICY}
