"""Discover the spec rules: one module per file in ``policies/specs/``.

A rule module defines ``RULE_ID`` (``<kind>.<rule-name>``), a docstring saying what it enforces
and why, ``KINDS`` (the spec kinds it looks at; ``("*",)`` for every YAML file) and
``check(doc: SpecDoc) -> list[Problem]``. The file name is the rule id made mechanical:
``component.semver-version`` lives in ``component_semver_version.py``.
"""

from __future__ import annotations

import importlib.util
import sys
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

RULES_SUBDIR = Path("policies") / "specs"


class RuleError(RuntimeError):
    """A rule module that does not follow the contract above."""


@dataclass(frozen=True)
class Rule:
    rule_id: str
    kinds: tuple[str, ...]
    doc: str
    path: Path
    check: Any

    def applies_to(self, kind: str) -> bool:
        return "*" in self.kinds or kind in self.kinds


def module_name_for(rule_id: str) -> str:
    """``component.semver-version`` -> ``component_semver_version``."""
    return rule_id.replace(".", "_").replace("-", "_")


def _import(path: Path) -> ModuleType:
    name = f"ctloop_spec_rules.{path.stem}"
    if name in sys.modules and getattr(sys.modules[name], "__file__", None) == str(path):
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise RuleError(f"{path}: cannot be imported")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def load_rules(rules_dir: Path) -> list[Rule]:
    """Import every ``*.py`` rule in ``rules_dir`` (sorted by file name) and check its contract."""
    rules: list[Rule] = []
    for path in sorted(rules_dir.glob("*.py")):
        if path.name.startswith("_"):
            continue
        module = _import(path.resolve())
        rule_id = getattr(module, "RULE_ID", None)
        check = getattr(module, "check", None)
        kinds = tuple(getattr(module, "KINDS", ()))
        if not isinstance(rule_id, str) or not callable(check) or not kinds:
            raise RuleError(f"{path}: a rule needs RULE_ID, KINDS and check(doc)")
        if module_name_for(rule_id) != path.stem:
            raise RuleError(f"{path}: RULE_ID {rule_id!r} must live in {module_name_for(rule_id)}.py")
        if not (module.__doc__ or "").strip():
            raise RuleError(f"{path}: a rule needs a docstring saying what it enforces")
        rules.append(Rule(rule_id, kinds, module.__doc__.strip(), path, check))
    return rules
