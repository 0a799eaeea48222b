"""The repository's own specs pass ``ctloop validate`` (the acceptance check of ``make validate``)."""

from __future__ import annotations

from pathlib import Path

from ctloop.gitops.validate import validate

REPO = Path(__file__).resolve().parents[2]


def test_repository_specs_pass_validate() -> None:
    problems, checked = validate([], root=REPO, stack="dev")
    assert checked >= 20
    assert [p.format() for p in problems] == []
