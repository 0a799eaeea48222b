"""A component's name:version is recorded in ``components/versions.lock`` with its current content hash.

Azure ML component versions are immutable. The hash covers the component YAML and the ctloop
modules its entry point imports (``ctloop.gitops.versions``); changing either without bumping
``version`` (or reusing a locked version for new content) fails here. After a bump, ``ctloop lock``
records the new version.
"""

from __future__ import annotations

from ctloop.gitops import versions
from ctloop.gitops.problem import Problem
from ctloop.gitops.yamldoc import SpecDoc

RULE_ID = "component.version-locked"
KINDS = ("component",)


def check(doc: SpecDoc) -> list[Problem]:
    return versions.check_locked(doc, "component", RULE_ID)
