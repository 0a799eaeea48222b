"""The command line explains itself: every verb has a one-line description and a working example;
``ctloop models`` alone lists; ``runs show`` prints metrics as a table of plain numbers."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from ctloop import cli
from ctloop.engine.report import run_details


@pytest.fixture(scope="module")
def verbs() -> list[tuple[str, str, object]]:
    return list(cli.subcommands(cli.build_parser()))


def test_every_verb_has_a_one_line_description_and_an_example(verbs: list) -> None:
    assert len(verbs) >= 30
    problems = []
    for path, _, parser in verbs:
        description = (parser.description or "").strip()
        if not description or "\n" in description:
            problems.append(f"ctloop {path}: description must be one line, got {description!r}")
        if path not in cli.EXAMPLES:
            problems.append(f"ctloop {path}: no example in ctloop.cli.EXAMPLES")
    assert not problems, "\n".join(problems)
    assert set(cli.EXAMPLES) == {path for path, _, _ in verbs}, "examples for verbs that do not exist"


def test_every_example_parses_and_help_shows_it(verbs: list) -> None:
    parser = cli.build_parser()
    for path, _, sub in verbs:
        example = cli.EXAMPLES[path]
        assert f"example:\n  {example}" in sub.format_help()
        words = shlex.split(re.sub(r"<[^>]*>", "x", example))[1:]  # a placeholder stands for one word
        args = parser.parse_args(words)  # argparse exits (SystemExit) on an example that does not parse
        assert callable(getattr(args, "func", None)), f"`{example}` selects no handler"


def test_models_alone_lists_like_models_list(ctloop_home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    alone = cli.main(["models"])
    first = capsys.readouterr()
    listed = cli.main(["models", "list"])
    second = capsys.readouterr()
    assert alone == listed == 1
    assert first.err == second.err == "no models registered yet (run the training pipeline first)\n"
    assert "usage:" not in first.out


def test_runs_show_prints_metrics_as_a_table_with_plain_integers() -> None:
    record = {
        "run_id": "r1",
        "status": "completed",
        "pipeline": "pipelines/training.yml",
        "steps": {
            "prep": {"status": "completed", "duration_s": 2.0, "output_metrics": {"train": {"rows": 3650.0}}},
            "evaluate": {
                "status": "completed",
                "duration_s": 1.5,
                "metrics": {"challenger_roc_auc": 0.823456, "promote": 1.0, "rows": 18159.0, "ms": 1234.5678},
            },
            "register": {"status": "completed", "duration_s": 0.5},
        },
    }
    lines = run_details(record).splitlines()
    start = lines.index(next(line for line in lines if line.split() == ["STEP", "METRIC", "VALUE"]))
    table = [line.split() for line in lines[start + 1 :]]
    assert table == [
        ["prep", "train.rows", "3650"],
        ["evaluate", "challenger_roc_auc", "0.8235"],
        ["evaluate", "promote", "1"],
        ["evaluate", "rows", "18159"],
        ["evaluate", "ms", "1234.6"],
    ]
    values = lines[start + 1 : start + 6]
    assert len({len(line) for line in values}) == 1  # right-aligned: one column edge
    assert all("=" not in line for line in lines)
