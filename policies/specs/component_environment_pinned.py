"""A component runs in a registered environment pinned by version: ``azureml:<name>:<version>``.

``azureml:<name>@latest``, a version ``latest``, an inline environment and a docker image tagged
``latest`` (or untagged) all let the same component version run different code tomorrow. Long
registry references (``azureml://registries/<r>/environments/<name>/versions/<v>``) are accepted.
"""

from __future__ import annotations

import re

from ctloop.gitops.problem import Problem
from ctloop.gitops.yamldoc import SpecDoc

RULE_ID = "component.environment-pinned"
KINDS = ("component",)

SHORT_REF = re.compile(r"^azureml:([A-Za-z0-9][\w.-]*):([\w.-]+)$")
LONG_REF = re.compile(r"^azureml://.*/environments/[\w.-]+/versions/([\w.-]+)$")


def check(doc: SpecDoc) -> list[Problem]:
    env = doc.get("environment")
    if env is None:
        return [doc.problem(RULE_ID, "environment", "missing: pin a registered azureml:<name>:<version>")]
    if isinstance(env, dict):
        image = env.get("image")
        detail = (
            f" (its image {image!r} is not even pinned)"
            if isinstance(image, str) and (image.endswith(":latest") or ":" not in image.rsplit("/", 1)[-1])
            else ""
        )
        return [
            doc.problem(
                RULE_ID,
                "environment",
                "inline environment: register it under environments/ and reference "
                f"azureml:<name>:<version>{detail}",
            )
        ]
    text = str(env)
    if "@" in text:
        return [
            doc.problem(RULE_ID, "environment", f"{text!r} floats with a label: pin azureml:<name>:<version>")
        ]
    match = SHORT_REF.match(text) or LONG_REF.match(text)
    if match is None:
        return [doc.problem(RULE_ID, "environment", f"{text!r} is not of the form azureml:<name>:<version>")]
    if match.groups()[-1].lower() == "latest":
        return [doc.problem(RULE_ID, "environment", f"{text!r} uses version 'latest': pin a version")]
    return []
