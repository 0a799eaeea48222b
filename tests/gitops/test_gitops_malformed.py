"""No malformed YAML produces a traceback: each becomes a Problem with file, rule and reason."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from ctloop.gitops import commands
from ctloop.gitops.validate import validate

REPO = Path(__file__).resolve().parents[2]
RULES = REPO / "policies" / "specs"

MALFORMED: dict[str, bytes] = {
    "unclosed-flow": b"name: x\ninputs: [a, b\n",
    "tab-indent": b"name: x\n\tversion: 1\n",
    "list-document": b"- a\n- b\n",
    "scalar-document": b"just a string\n",
    "empty": b"",
    "only-comment": b"# nothing here\n",
    "two-documents": b"a: 1\n---\nb: 2\n",
    "bad-alias": b"a: *nowhere\n",
    "recursive-anchor": b"a: &x [*x]\n",
    "python-tag": b"a: !!python/object/apply:os.system ['true']\n",
    "not-utf8": b"name: \xff\xfe\n",
    "duplicate-colon": b"a: b: c\n",
    "wrong-port-type": (
        b"$schema: https://azuremlschemas.azureedge.net/latest/commandComponent.schema.json\n"
        b"type: command\nname: c\nversion: 1.0.0\ninputs: [not, a, mapping]\ncommand: echo\n"
    ),
    "pipeline-jobs-list": b"type: pipeline\njobs:\n  - train\n",
    "schedule-no-trigger": (
        b"$schema: https://azuremlschemas.azureedge.net/latest/schedule.schema.json\n"
        b"name: s\ncreate_job: x.yml\n"
    ),
    "env-version-map": b"name: e\nversion: {a: 1}\nimage: repo/img\n",
    "deployment-garbage": b"name: blue\nendpoint_name: [1, 2]\nmodel: {{}}\n",
}
FOLDERS = (
    "components",
    "environments",
    "pipelines",
    "pipelines/schedules",
    "pipelines/endpoints",
    "policies",
)


@pytest.fixture
def broken_repo(spec_repo: Path) -> Path:
    for folder in FOLDERS:
        for name, content in MALFORMED.items():
            (spec_repo / folder / f"zz-{name}.yml").parent.mkdir(parents=True, exist_ok=True)
            (spec_repo / folder / f"zz-{name}.yml").write_bytes(content)
    return spec_repo


def test_malformed_files_are_problems_not_tracebacks(broken_repo: Path) -> None:
    problems, checked = validate([], root=broken_repo, rules_dir=RULES)
    assert checked >= len(MALFORMED) * len(FOLDERS)
    crashed = [p.format() for p in problems if "crashed" in p.reason or "Traceback" in p.reason]
    assert crashed == []
    by_file = {p.file for p in problems}
    for folder in ("components", "pipelines", "environments", "policies"):
        for name in ("unclosed-flow", "tab-indent", "two-documents", "bad-alias", "python-tag", "not-utf8"):
            assert f"{folder}/zz-{name}.yml" in by_file, (folder, name)
    syntax = {p.file for p in problems if p.rule_id == "yaml.syntax"}
    assert "components/zz-unclosed-flow.yml" in syntax
    # A list in components/ or an empty pipeline does not slip through as "not a spec".
    kinds = {p.file for p in problems if p.rule_id == "spec.kind"}
    assert {"components/zz-list-document.yml", "pipelines/zz-empty.yml"} <= kinds
    # The SDK's TypeError on a non-mapping port list is reported by the engine, readably.
    wrong = [p for p in problems if p.file == "components/zz-wrong-port-type.yml"]
    assert wrong and all(p.rule_id.startswith("component.") for p in wrong)


def test_cli_reports_malformed_files_with_exit_2(
    broken_repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    parser = argparse.ArgumentParser()
    commands.register(parser.add_subparsers())
    args = parser.parse_args(["validate", "--root", str(broken_repo)])
    assert args.func(args) == 2
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    assert "components/zz-tab-indent.yml:2: yaml.syntax:" in out


def test_missing_path_is_reported(spec_repo: Path) -> None:
    problems, _ = validate([spec_repo / "components" / "nope.yml"], root=spec_repo, rules_dir=RULES)
    assert [(p.rule_id, p.file) for p in problems] == [("yaml.file-exists", "components/nope.yml")]
