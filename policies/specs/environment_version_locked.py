"""An environment's name:version is recorded in ``components/versions.lock`` with its content hash.

Azure ML environment versions are immutable too: the hash covers the environment YAML, its conda
file and any docker build context. Change one and bump ``version``, then run ``ctloop lock``.
"""

from __future__ import annotations

from ctloop.gitops import versions
from ctloop.gitops.problem import Problem
from ctloop.gitops.yamldoc import SpecDoc

RULE_ID = "environment.version-locked"
KINDS = ("environment",)


def check(doc: SpecDoc) -> list[Problem]:
    return versions.check_locked(doc, "environment", RULE_ID)
