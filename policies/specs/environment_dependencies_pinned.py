"""Every conda and pip dependency of an environment is pinned to one exact version.

A range (``>=``), a wildcard or a bare name resolves differently next month, so the same
environment version would build a different image. Conda pins are ``name=X`` or ``name==X``
(no ``*``); pip pins are ``name==X`` (extras and markers allowed). ``-r file`` lines are followed;
index options are allowed; editable installs and URLs without a pinned hash are not.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from ctloop.gitops.problem import Problem
from ctloop.gitops.yamldoc import FieldPath, SpecDoc, YamlSyntaxError, parse

RULE_ID = "environment.dependencies-pinned"
KINDS = ("environment", "conda")

CONDA_PIN = re.compile(r"^(?:[\w.-]+::)?[A-Za-z0-9_.-]+\s*={1,2}\s*[A-Za-z0-9_.+!-]+(?:=[\w.*-]+)?$")
PIP_PIN = re.compile(r"^[A-Za-z0-9_.-]+(?:\[[\w,.\s-]+\])?\s*===?\s*[A-Za-z0-9_.+!-]+\s*(?:;.*)?$")
PIP_OPTIONS = (
    "--index-url",
    "--extra-index-url",
    "-i ",
    "--find-links",
    "-f ",
    "--trusted-host",
    "--no-index",
    "--pre",
)
HASHED_URL = re.compile(r"(#sha256=[0-9a-f]{64}|@[0-9a-f]{40}\b)")


def _pip_line_problem(line: str) -> str | None:
    text = line.split(" #", 1)[0].strip()
    if not text or text.startswith("#") or text.startswith(PIP_OPTIONS):
        return None
    if text.startswith(("-e", "--editable")):
        return f"editable install {text!r} is not a pinned release"
    if "://" in text or " @ " in text:
        return None if HASHED_URL.search(text) else f"{text!r} installs from a URL without a pinned hash"
    if not PIP_PIN.match(text):
        return f"pip dependency {text!r} is not pinned with =="
    return None


def _requirements_file(rel: str, ref: str, base: Path, root: Path) -> list[Problem]:
    path = (base / ref).resolve()
    shown = _rel(path, root)
    if not path.is_file():
        return [Problem(rel, None, RULE_ID, "dependencies", f"-r {ref}: file not found")]
    problems = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        reason = _pip_line_problem(line)
        if reason:
            problems.append(Problem(shown, n, RULE_ID, "requirements", reason))
    return problems


def _rel(path: Path, root: Path) -> str:
    try:
        return str(path.relative_to(root.resolve()))
    except ValueError:
        return str(path)


def conda_problems(data: Any, lines: dict[FieldPath, int], rel: str, base: Path, root: Path) -> list[Problem]:
    """Unpinned dependencies in conda-file data (``rel``/``lines`` locate them)."""
    deps = data.get("dependencies") if isinstance(data, dict) else None
    if not isinstance(deps, list):
        return [Problem(rel, lines.get(()), RULE_ID, "dependencies", "no dependencies list")]
    problems: list[Problem] = []
    for i, dep in enumerate(deps):
        where = ("dependencies", i)
        if isinstance(dep, dict) and isinstance(dep.get("pip"), list):
            for j, item in enumerate(dep["pip"]):
                text = str(item).strip()
                pwhere = (*where, "pip", j)
                if text.startswith("-r ") or text.startswith("--requirement"):
                    ref = text.split(None, 1)[1].strip() if " " in text else ""
                    problems.extend(_requirements_file(rel, ref, base, root))
                    continue
                reason = _pip_line_problem(text)
                if reason:
                    problems.append(
                        Problem(rel, lines.get(pwhere), RULE_ID, ".".join(map(str, pwhere)), reason)
                    )
        elif isinstance(dep, str):
            if not CONDA_PIN.match(dep.strip()) or "*" in dep:
                problems.append(
                    Problem(
                        rel,
                        lines.get(where),
                        RULE_ID,
                        f"dependencies.{i}",
                        f"conda dependency {dep!r} is not pinned to one version",
                    )
                )
        else:
            problems.append(
                Problem(rel, lines.get(where), RULE_ID, f"dependencies.{i}", f"unexpected entry {dep!r}")
            )
    return problems


def check(doc: SpecDoc) -> list[Problem]:
    if doc.kind == "conda":
        return conda_problems(doc.data, doc.lines, doc.rel, doc.path.parent, doc.root)
    conda = doc.get("conda_file")
    if isinstance(conda, dict):
        sub = {k[1:]: v for k, v in doc.lines.items() if k[:1] == ("conda_file",)}
        return conda_problems(conda, sub, doc.rel, doc.path.parent, doc.root)
    if not isinstance(conda, str):
        return []
    path = (doc.path.parent / conda).resolve()
    if not path.is_file():
        return [doc.problem(RULE_ID, "conda_file", f"{conda!r} does not exist")]
    try:
        data, lines = parse(path.read_text(encoding="utf-8"))
    except (YamlSyntaxError, OSError, UnicodeDecodeError) as exc:
        return [doc.problem(RULE_ID, "conda_file", f"{conda!r} cannot be read: {exc}")]
    return conda_problems(data, lines, _rel(path, doc.root), path.parent, doc.root)
