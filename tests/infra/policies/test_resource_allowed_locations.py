"""Policy resource-allowed-locations: compliant passes; each violation fires only this policy."""

from __future__ import annotations

from ctloop_policy import WORKSPACE, info

POLICY = "resource-allowed-locations"


def test_metadata(rule):
    meta = info(rule(POLICY))
    assert (meta.severity, meta.checkov) == ("high", "none")


def test_compliant_resource_passes(compliant, fired):
    assert fired(WORKSPACE, compliant(WORKSPACE)) == set()


def test_display_name_allowed_passes(compliant, fired):
    props = compliant(WORKSPACE)
    props["location"] = "West Europe"
    assert fired(WORKSPACE, props) == set()


def test_region_not_allowed_fires_only_this_policy(compliant, fired):
    props = compliant(WORKSPACE)
    props["location"] = "brazilsouth"
    assert fired(WORKSPACE, props) == {POLICY}


def test_display_name_not_allowed_fires_only_this_policy(compliant, fired):
    props = compliant(WORKSPACE)
    props["location"] = "Brazil South"
    assert fired(WORKSPACE, props) == {POLICY}
