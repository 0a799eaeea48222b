"""Every component carries an explicit semantic version (MAJOR.MINOR.PATCH, semver 2.0).

Azure ML component versions are immutable; semver tells a reviewer what a bump means and keeps
``components/versions.lock`` readable. A number such as ``1`` or ``1.0`` (which YAML reads as a
float) is rejected: write ``version: 1.0.0``.
"""

from __future__ import annotations

import re

from ctloop.gitops.problem import Problem
from ctloop.gitops.yamldoc import SpecDoc

RULE_ID = "component.semver-version"
KINDS = ("component",)

SEMVER = re.compile(
    r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)"
    r"(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?"
    r"(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?$"
)


def check(doc: SpecDoc) -> list[Problem]:
    version = doc.get("version")
    if version is None:
        return [doc.problem(RULE_ID, "version", "missing: every component needs an explicit semver version")]
    if not isinstance(version, str) or not SEMVER.match(version):
        return [doc.problem(RULE_ID, "version", f'{version!r} is not a semver string like "1.2.0"')]
    return []
