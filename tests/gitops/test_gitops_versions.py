"""Version discipline on a temporary copy of the repository's components, environments and src/."""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

import pytest

from ctloop.gitops import commands
from ctloop.gitops.closure import code_closure, entry_points
from ctloop.gitops.rules import load_rules
from ctloop.gitops.validate import validate
from ctloop.gitops.versions import LOCK_PATH, read_lock
from ctloop.gitops.yamldoc import Context, read_doc

REPO = Path(__file__).resolve().parents[2]
RULES = REPO / "policies" / "specs"
LOCK_RULES = {"component.version-locked", "environment.version-locked"}


def _ctloop(*argv: str) -> int:
    parser = argparse.ArgumentParser()
    commands.register(parser.add_subparsers())
    args = parser.parse_args(list(argv))
    return args.func(args)


@pytest.fixture
def repo_copy(tmp_path: Path) -> Path:
    """components/, environments/ and the ctloop package of the real tree, copied (no lock file)."""
    root = tmp_path / "repo"
    shutil.copytree(REPO / "components", root / "components", ignore=shutil.ignore_patterns("versions.lock"))
    shutil.copytree(REPO / "environments", root / "environments")
    skip = shutil.ignore_patterns("__pycache__")
    shutil.copytree(REPO / "src" / "ctloop", root / "src" / "ctloop", ignore=skip)
    return root


def _lock_problems(root: Path, full: bool = False) -> list[str]:
    """Version-lock findings: the two lock rules on every spec, or (``full``) the whole validate run."""
    if full:
        problems, _ = validate([root / "components", root / "environments"], root=root, rules_dir=RULES)
    else:
        rules = [r for r in load_rules(RULES) if r.rule_id in LOCK_RULES]
        ctx = Context(root=root)
        problems = []
        for path in sorted([*(root / "components").glob("*.yml"), *(root / "environments").glob("*.yml")]):
            doc = read_doc(path, ctx)
            problems += [p for r in rules if r.applies_to(doc.kind) for p in r.check(doc)]
    return sorted(f"{p.file}: {p.rule_id}" for p in problems if p.rule_id in LOCK_RULES)


def _train(root: Path) -> tuple[Path, Path]:
    spec = root / "components" / "train.yml"
    step = root / "src" / "ctloop" / "steps" / "train.py"
    assert spec.is_file(), f"{spec} is missing"
    assert step.is_file(), f"{step} is missing"
    return spec, step


def test_edit_without_bump_fails_and_lock_after_bump_passes(repo_copy: Path) -> None:
    spec, step = _train(repo_copy)
    assert _ctloop("lock", "--root", str(repo_copy)) == 0
    locked = read_lock(repo_copy / LOCK_PATH)
    assert any(k[1] == "ctloop_train" for k in locked)
    assert _lock_problems(repo_copy) == []

    # Edit the step's code, keep the version: validate fails for that component only.
    step.write_text(step.read_text() + "\n\ndef _added_helper() -> int:\n    return 1\n")
    assert _lock_problems(repo_copy, full=True) == ["components/train.yml: component.version-locked"]
    # `ctloop lock` refuses to overwrite the locked version and writes nothing.
    before = (repo_copy / LOCK_PATH).read_text()
    assert _ctloop("lock", "--root", str(repo_copy)) == 2
    assert (repo_copy / LOCK_PATH).read_text() == before

    # Bump the version: still failing until the new version is locked.
    text = spec.read_text()
    version = next(line.split(":", 1)[1].strip() for line in text.splitlines() if line.startswith("version:"))
    major, minor, patch = (int(x) for x in version.strip("\"'").split("."))
    bumped = f"{major}.{minor}.{patch + 1}"
    spec.write_text(text.replace(f"version: {version}", f"version: {bumped}", 1))
    assert _lock_problems(repo_copy) == ["components/train.yml: component.version-locked"]
    assert _ctloop("lock", "--root", str(repo_copy)) == 0
    assert _lock_problems(repo_copy, full=True) == []
    lock = read_lock(repo_copy / LOCK_PATH)
    assert ("component", "ctloop_train", version) in lock and ("component", "ctloop_train", bumped) in lock

    # Going back to the old version number with the new content is caught too.
    spec.write_text(spec.read_text().replace(f"version: {bumped}", f"version: {version}", 1))
    assert _lock_problems(repo_copy) == ["components/train.yml: component.version-locked"]


def test_code_outside_the_closure_does_not_count(repo_copy: Path) -> None:
    _, step = _train(repo_copy)
    assert _ctloop("lock", "--root", str(repo_copy)) == 0
    # A module no step imports (the gitops package itself) is outside every closure.
    (repo_copy / "src" / "ctloop" / "gitops" / "review.py").write_text("CHANGED = True\n")
    # Line endings are normalised (a Windows checkout hashes the same).
    step.write_bytes(step.read_bytes().replace(b"\n", b"\r\n"))
    assert _lock_problems(repo_copy) == []
    # Any other byte of the closure counts, a comment included: Azure ML's snapshot changes too.
    step.write_text(step.read_text() + "\n# a comment\n")
    assert _lock_problems(repo_copy) == ["components/train.yml: component.version-locked"]


def test_environment_change_needs_a_bump(repo_copy: Path) -> None:
    conda = repo_copy / "environments" / "train-conda.yml"
    assert conda.is_file(), f"{conda} is missing"
    assert _ctloop("lock", "--root", str(repo_copy)) == 0
    conda.write_text(conda.read_text().replace("dependencies:", "dependencies:\n  - zlib=1.3.1", 1))
    assert "environments/train.yml: environment.version-locked" in _lock_problems(repo_copy)


def test_closure_of_train_is_the_ctloop_modules_it_imports(repo_copy: Path) -> None:
    spec, _ = _train(repo_copy)
    import yaml

    data = yaml.safe_load(spec.read_text())
    assert entry_points(data["command"]) == ["ctloop.steps.train"]
    src = repo_copy / "src"
    files = {p.relative_to(src).as_posix() for p in code_closure(src, data["command"])}
    assert {"ctloop/__init__.py", "ctloop/steps/__init__.py", "ctloop/steps/train.py"} <= files
    assert not any(f.startswith(("ctloop/gitops/", "ctloop/azure/", "ctloop/engine/")) for f in files)


def test_entry_points_and_relative_imports(tmp_path: Path) -> None:
    pkg = tmp_path / "ctloop"
    (pkg / "steps").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "steps" / "__init__.py").write_text("")
    lazy = "\n\ndef f():\n    import ctloop.lazy\n"
    (pkg / "steps" / "a.py").write_text("from . import b\nfrom ..util import x\n" + lazy)
    (pkg / "steps" / "b.py").write_text("import json\n")
    (pkg / "util.py").write_text("x = 1\n")
    (pkg / "lazy.py").write_text("")
    (pkg / "unused.py").write_text("")
    command = "cd x && python3 -u -m ctloop.steps.a --in ${{inputs.a}} $[[--opt ${{inputs.o}}]]"
    assert entry_points(command) == ["ctloop.steps.a"]
    names = {p.relative_to(tmp_path).as_posix() for p in code_closure(tmp_path, command)}
    assert names == {
        "ctloop/__init__.py",
        "ctloop/steps/__init__.py",
        "ctloop/steps/a.py",
        "ctloop/steps/b.py",
        "ctloop/util.py",
        "ctloop/lazy.py",
    }
    assert entry_points("python score.py --x 1") == ["score.py"]
