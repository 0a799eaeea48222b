"""``ctloop review`` on a temporary git repository with a real base commit and a change."""

from __future__ import annotations

import argparse
import subprocess
from pathlib import Path

import pytest
import yaml

from ctloop.gitops import commands, strictness
from ctloop.gitops.review import flatten, review_markdown

REPO = Path(__file__).resolve().parents[2]


def _git(root: Path, *args: str) -> str:
    env = {
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@example.com",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@example.com",
        "HOME": str(root),
        "PATH": "/usr/bin:/bin",
    }
    return subprocess.run(
        ["git", "-C", str(root), *args], check=True, capture_output=True, text=True, env=env
    ).stdout


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, (path, old)
    path.write_text(text.replace(old, new, 1))


@pytest.fixture
def git_repo(spec_repo: Path) -> Path:
    (spec_repo / "policies" / "rollout.yml").write_text(
        "health:\n  max_error_rate: 0.02\n  max_p99_latency_ms: 1000\ncanary:\n  steps:\n"
        "    - {weight: 10, bake_s: 120}\n    - {weight: 100, bake_s: 120}\n"
    )
    _git(spec_repo, "init", "-q", "-b", "main")
    _git(spec_repo, "add", "-A")
    _git(spec_repo, "commit", "-q", "-m", "base")
    return spec_repo


def _change(root: Path) -> None:
    _edit(root / "components" / "train.yml", "version: 1.0.0", "version: 1.1.0")
    _edit(root / "components" / "evaluate.yml", "Compares the challenger", "Compares the new challenger")
    (root / "components" / "deploy.yml").write_text(
        (root / "components" / "register.yml").read_text().replace("ctloop_register", "ctloop_deploy")
    )
    (root / "components" / "register.yml").unlink()
    _edit(root / "environments" / "train-conda.yml", "numpy==2.4.6", "numpy==2.4.7\n      - scipy==1.17.1")
    _edit(
        root / "pipelines" / "training.yml",
        "      decision: ${{parent.jobs.evaluate.outputs.decision}}\n",
        "",
    )
    _edit(root / "policies" / "promotion.yml", "floor: 0.7", "floor: 0.6")
    _edit(root / "policies" / "promotion.yml", "min_improvement: 0.01", "min_improvement: 0.02")
    _edit(root / "policies" / "rollout.yml", "max_error_rate: 0.02", "max_error_rate: 0.05")
    _edit(root / "policies" / "rollout.yml", "{weight: 10, bake_s: 120}", "{weight: 10, bake_s: 60}")
    _edit(root / "pipelines" / "schedules" / "daily.yml", '"0 6 * * *"', '"0 7 * * *"')
    _edit(root / "Pulumi.dev.yaml", "vm_size: Standard_NC4as_T4_v3", "vm_size: Standard_NC8as_T4_v3")
    _edit(root / "Pulumi.dev.yaml", "v1:AAABBBCCCdddEEEfff==", "v1:ZZZZZZ==")


def test_review_describes_every_kind_of_change(git_repo: Path) -> None:
    _change(git_repo)
    text = review_markdown(git_repo, "main")
    assert text.startswith("## ctloop spec review")
    # Components: added, removed, bumped (with the semver level), changed without a bump.
    assert "- added `ctloop_deploy` `1.0.0`" in text
    assert "- removed `ctloop_register` (was `1.0.0`)" in text
    assert "- bumped `ctloop_train` `1.0.0` → `1.1.0` (minor)" in text
    assert "`ctloop_evaluate` changed **without a version bump**" in text
    # Environment packages.
    assert "`pip:numpy` `==2.4.6` → `==2.4.7`" in text
    assert "`pip:scipy` added → `==1.17.1`" in text
    # Pipeline edges.
    assert "edge removed `evaluate.decision -> register.decision`" in text
    # Thresholds: loosened gates are flagged loudly, tightened ones are labelled.
    assert "| `floor` | `0.7` | `0.6` | ⚠️ **LOOSER** |" in text
    assert "| `min_improvement` | `0.01` | `0.02` | stricter |" in text
    assert "| `health.max_error_rate` | `0.02` | `0.05` | ⚠️ **LOOSER** |" in text
    assert "| `canary.steps.0.bake_s` | `120` | `60` | ⚠️ **LOOSER** |" in text
    warning = text.split("### ")[0]
    assert "> [!WARNING]" in warning and "gate(s) loosened" in warning
    assert "`policies/promotion.yml` `floor`: `0.7` → `0.6`" in warning
    assert "gate edge `evaluate.decision -> register.decision` removed" in warning
    # Schedules and stack config; encrypted values are never shown.
    assert "| `trigger.expression` | `0 6 * * *` | `0 7 * * *` |" in text
    assert "| `config.ctloop:gpu_cluster.vm_size` | `Standard_NC4as_T4_v3` | `Standard_NC8as_T4_v3` |" in text
    assert "(encrypted, changed)" in text and "ZZZZZZ" not in text


def test_review_of_an_unchanged_tree_and_a_committed_change(git_repo: Path) -> None:
    assert "No changes to components" in review_markdown(git_repo, "HEAD")
    _edit(git_repo / "policies" / "promotion.yml", "floor: 0.7", "floor: 0.8")
    _git(git_repo, "commit", "-q", "-am", "raise the floor")
    text = review_markdown(git_repo, "HEAD~1")
    assert "| `floor` | `0.7` | `0.8` | stricter |" in text
    assert "[!WARNING]" not in text


def test_cli_review_output_file_and_bad_ref(git_repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    parser = argparse.ArgumentParser()
    commands.register(parser.add_subparsers())
    _change(git_repo)
    out = git_repo.parent / "review.md"
    args = parser.parse_args(["review", "--root", str(git_repo), "--base", "main", "--output", str(out)])
    assert args.func(args) == 0
    assert "⚠️ **LOOSER**" in out.read_text()
    args = parser.parse_args(["review", "--root", str(git_repo), "--base", "no-such-branch"])
    assert args.func(args) == 2
    assert "'no-such-branch' is not a commit" in capsys.readouterr().err


def test_strictness_verdicts() -> None:
    assert strictness.verdict(strictness.HIGHER, 0.7, 0.6) == "looser"
    assert strictness.verdict(strictness.LOWER, 0.1, 0.2) == "looser"
    assert strictness.verdict(strictness.LOWER, 0.2, 0.1) == "stricter"
    assert strictness.verdict(strictness.HIGHER, True, False) == "looser"
    assert strictness.verdict(strictness.ALLOW_LIST, ["a"], ["a", "b"]) == "looser"
    assert strictness.verdict(strictness.REQUIRE_LIST, ["a", "b"], ["a"]) == "looser"
    assert strictness.verdict(strictness.REQUIRE_LIST, ["a"], ["a", "b"]) == "stricter"
    assert strictness.verdict(None, 1, 2) is None
    assert strictness.verdict(strictness.HIGHER, "x", "y") is None


def test_every_strictness_row_matches_a_key_in_the_repository() -> None:
    """The table must not rot: each row names a key that exists in a reviewed file of this repo."""
    missing = []
    for file_glob, key_glob, _how in strictness.STRICTER:
        files = sorted(REPO.glob(file_glob))
        if not files:
            continue  # the file is optional (e.g. not every stack or policy exists yet)
        keys = {
            k
            for f in files
            for k in flatten(
                yaml.safe_load(f.read_text()) or {}, whole=tuple(strictness.list_keys(file_glob))
            )
        }
        # An empty mapping (``fail: {}``) is a key of its own: a row for its future children matches it.
        if not any(
            strictness.fnmatchcase(k, key_glob) or strictness.fnmatchcase(f"{k}.x", key_glob) for k in keys
        ):
            missing.append(f"{file_glob}: {key_glob}")
    assert missing == []
