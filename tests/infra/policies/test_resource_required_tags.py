"""Policy resource-required-tags: compliant passes; each violation fires only this policy."""

from __future__ import annotations

from ctloop_policy import STORAGE, info

POLICY = "resource-required-tags"


def test_metadata(rule):
    meta = info(rule(POLICY))
    assert (meta.severity, meta.checkov) == ("medium", "none")


def test_compliant_resource_passes(compliant, fired):
    assert fired(STORAGE, compliant(STORAGE)) == set()


def test_no_tags_fires_only_this_policy(compliant, fired):
    props = compliant(STORAGE)
    del props["tags"]
    assert fired(STORAGE, props) == {POLICY}


def test_missing_cost_center_fires_only_this_policy(compliant, fired):
    props = compliant(STORAGE)
    props["tags"] = {"env": "prod", "owner": "ml-platform"}
    assert fired(STORAGE, props) == {POLICY}


def test_empty_owner_fires_only_this_policy(compliant, fired):
    props = compliant(STORAGE)
    props["tags"] = {"env": "prod", "owner": " ", "cost-center": "cc-1"}
    assert fired(STORAGE, props) == {POLICY}
