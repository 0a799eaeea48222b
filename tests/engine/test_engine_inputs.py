"""``--set`` overrides and optional ``$[[...]]`` arguments."""

from __future__ import annotations

from pathlib import Path


def _value(path: str) -> float:
    return float(Path(path, "value.txt").read_text())


def test_set_overrides_literals_and_paths(toy, cli, tmp_path):
    result = cli("run", toy.pipeline("diamond"), "--no-mlflow", "--set", "n=5", "--set", "factor=1")
    assert result.code == 0, result.err
    record = toy.record()
    assert record["overrides"] == {"n": 5, "factor": 1.0}
    assert record["inputs"]["n"] == 5
    assert _value(record["steps"]["source"]["outputs"]["out"]) == 12  # 5 + (1 + 2 + 4)
    assert _value(record["steps"]["left"]["outputs"]["out"]) == 12
    other = tmp_path / "other-seed"
    other.mkdir()
    (other / "x.txt").write_text("100\n")
    assert cli("run", toy.pipeline("diamond"), "--no-mlflow", "--set", f"seed={other}").code == 0
    record = toy.record()
    assert record["inputs"]["seed"] == str(other)
    assert _value(record["steps"]["source"]["outputs"]["out"]) == 103


def test_set_rejects_bad_values_before_running(toy, cli):
    bad = [
        (
            ["--set", "n=many"],
            "inputs.n: --set n=many: 'many' is not an integer (jobs.source.inputs.n is integer)",
        ),
        (["--set", "nope=1"], "inputs.nope: --set nope: no such pipeline input"),
        (["--set", "seed=does/not/exist"], "inputs.seed: --set seed=does/not/exist:"),
        (["--set", "n"], "--set: n: expected NAME=VALUE"),
    ]
    for args, message in bad:
        result = cli("run", toy.pipeline("diamond"), "--no-mlflow", *args)
        assert result.code == 2, args
        assert message in result.err, result.err
        assert "Traceback" not in result.err
    assert not (toy.home / "runs").exists()


def test_optional_arguments_are_kept_only_when_given(toy, cli):
    assert cli("run", toy.pipeline("parallel"), "--no-mlflow").code == 0
    steps = toy.record()["steps"]
    assert "--label hello" in steps["labelled"]["command"]
    assert "--label" not in steps["unlabelled"]["command"]
    assert Path(steps["labelled"]["outputs"]["out"], "label.txt").read_text() == "hello"
    assert not Path(steps["unlabelled"]["outputs"]["out"], "label.txt").exists()
    # produce's optional seed is unset in this pipeline: the block is dropped, n is a literal
    assert steps["one"]["command"].startswith("python toy.py produce --n 1 --out ")
    assert "--seed" not in steps["one"]["command"]
    assert cli("run", toy.pipeline("parallel"), "--no-mlflow", "--set", "label=bye").code == 0
    steps = toy.record()["steps"]
    assert steps["labelled"]["status"] == "completed" and steps["unlabelled"]["status"] == "cached"
    assert Path(steps["labelled"]["outputs"]["out"], "label.txt").read_text() == "bye"
