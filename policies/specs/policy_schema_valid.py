"""Every policy file (``policies/<name>.yml``) validates against ``policies/schemas/<name>.schema.json``.

Steps and services load policies with ``ctloop.policies.load_policy``, which refuses a file that
breaks its schema; this rule finds it at review time instead of in the middle of a pipeline run.
A policy file with no schema is a violation too: every threshold must be typed and bounded.
"""

from __future__ import annotations

from ctloop.gitops.problem import Problem
from ctloop.gitops.yamldoc import SpecDoc
from ctloop.policies import PolicyError, load_policy

RULE_ID = "policy.schema-valid"
KINDS = ("policy",)


def check(doc: SpecDoc) -> list[Problem]:
    try:
        load_policy(doc.path.stem, doc.path.parent)
    except PolicyError as exc:
        return [
            doc.problem(RULE_ID, exc.field if exc.field not in ("<root>", "<schema>") else "", exc.reason)
        ]
    # The rules between fields and files that a schema cannot say (ctloop run checks the same).
    from ctloop.preflight import check_policy_file

    return [
        doc.problem(RULE_ID, e.field if e.field not in ("<root>", "<schema>") else "", e.reason)
        for e in check_policy_file(doc.path, readers=False)
    ]
