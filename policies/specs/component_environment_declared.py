"""A component's ``azureml:<name>:<version>`` environment is declared in ``environments/``.

``ctloop components register`` registers the environments of this repository at their declared
versions before the components; a reference to a version nobody declares would fail on Azure ML
(or, worse, pick up an old registration). Azure ML curated environments (``AzureML-*``) and
registry references (``azureml://registries/...``) are not in this repository and are accepted.
"""

from __future__ import annotations

from pathlib import Path

from ctloop.gitops.graph import load_yaml
from ctloop.gitops.problem import Problem
from ctloop.gitops.yamldoc import SpecDoc

RULE_ID = "component.environment-declared"
KINDS = ("component",)


def _declared(root: Path) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for path in sorted((root / "environments").glob("*.y*ml")):
        data = load_yaml(path)
        if isinstance(data, dict) and isinstance(data.get("name"), str) and "version" in data:
            found.setdefault(data["name"], set()).add(str(data["version"]))
    return found


def check(doc: SpecDoc) -> list[Problem]:
    env = doc.get("environment")
    if not isinstance(env, str) or not env.startswith("azureml:") or env.startswith("azureml://"):
        return []
    name, _, version = env.removeprefix("azureml:").partition(":")
    if not version or "@" in name or name.startswith("AzureML-"):
        return []  # unpinned forms are component.environment-pinned's finding
    declared = doc.ctx.cached("environments-declared", lambda: _declared(doc.root))
    if name not in declared:
        return [doc.problem(RULE_ID, "environment", f"no environment named {name!r} under environments/")]
    if version not in declared[name]:
        have = ", ".join(sorted(declared[name]))
        return [
            doc.problem(
                RULE_ID, "environment", f"{name} has version(s) {have} under environments/, not {version}"
            )
        ]
    return []
