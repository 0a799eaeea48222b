"""Policy compute-ssh: compliant passes; each violation fires only this policy."""

from __future__ import annotations

from ctloop_policy import COMPUTE, info

POLICY = "compute-ssh"


def test_metadata(rule):
    meta = info(rule(POLICY))
    assert (meta.severity, meta.checkov) == ("high", "none")


def test_compliant_resource_passes(compliant, fired):
    assert fired(COMPUTE, compliant(COMPUTE)) == set()


def test_ssh_enabled_fires_only_this_policy(compliant, fired):
    props = compliant(COMPUTE)
    props["properties"]["properties"]["remoteLoginPortPublicAccess"] = "Enabled"
    assert fired(COMPUTE, props) == {POLICY}


def test_ssh_not_specified_fires_only_this_policy(compliant, fired):
    props = compliant(COMPUTE)
    props["properties"]["properties"]["remoteLoginPortPublicAccess"] = "NotSpecified"
    assert fired(COMPUTE, props) == {POLICY}
