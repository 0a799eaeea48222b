"""An environment's base image is pinned: a fixed tag other than ``latest``, or a digest.

``image: repo/name`` (no tag) and ``:latest`` move under the environment without a version bump.
For a docker build context, every ``FROM`` line of its Dockerfile must be pinned the same way.
"""

from __future__ import annotations

import re

from ctloop.gitops.problem import Problem
from ctloop.gitops.yamldoc import SpecDoc

RULE_ID = "environment.base-image-pinned"
KINDS = ("environment",)

FROM_LINE = re.compile(r"^\s*FROM\s+(?:--platform=\S+\s+)?(\S+)", re.IGNORECASE | re.MULTILINE)


def image_problem(image: str) -> str | None:
    """Why ``image`` is not pinned, or None."""
    if "@sha256:" in image:
        return None
    last = image.rsplit("/", 1)[-1]
    if ":" not in last:
        return f"image {image!r} has no tag (means latest): pin a tag or a digest"
    tag = last.rsplit(":", 1)[1]
    if tag.lower() == "latest" or not tag or "$" in tag:
        return f"image {image!r} is not pinned: use a fixed tag or a digest"
    return None


def check(doc: SpecDoc) -> list[Problem]:
    image = doc.get("image")
    build = doc.get("build")
    if image is None and not isinstance(build, dict):
        return [doc.problem(RULE_ID, "image", "no base image and no build context")]
    problems = []
    if image is not None:
        reason = image_problem(str(image))
        if reason:
            problems.append(doc.problem(RULE_ID, "image", reason))
    if isinstance(build, dict) and isinstance(build.get("path"), str):
        context = (doc.path.parent / build["path"]).resolve()
        dockerfile = context / str(build.get("dockerfile_path", "Dockerfile"))
        if not dockerfile.is_file():
            problems.append(doc.problem(RULE_ID, "build", f"no Dockerfile at {dockerfile}"))
        else:
            stages = set()
            for match in FROM_LINE.finditer(dockerfile.read_text(encoding="utf-8")):
                ref = match.group(1)
                tail = match.string[match.end() :].split("\n", 1)[0].split()
                if ref in stages:
                    continue  # FROM an earlier build stage
                if len(tail) >= 2 and tail[0].lower() == "as":
                    stages.add(tail[1])
                reason = image_problem(ref)
                if reason:
                    problems.append(doc.problem(RULE_ID, "build", f"Dockerfile: {reason}"))
    return problems
