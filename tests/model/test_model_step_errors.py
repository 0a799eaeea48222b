"""Step failures: one ``<step>: <file or field>: <reason>`` line, a non-zero exit, no state changed."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml

from ctloop.registry.local import LocalRegistry
from ctloop.steps import evaluate, register, train

MODEL_NAME = "rainfall-classifier"


@pytest.fixture(scope="module")
def trained(datasets_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A model folder from the train step (run in-process)."""
    out = tmp_path_factory.mktemp("trained") / "model"
    code = train.main(
        [
            "--train",
            str(datasets_dir / "train"),
            "--model",
            str(out),
            "--reference_rows",
            "100",
            "--max_iter",
            "20",
        ]
    )
    assert code == 0
    return out


def _evaluate_argv(model: Path, datasets_dir: Path, policies: Path, out: Path) -> list[str]:
    """The evaluate step's arguments for ``model`` on the eval split, writing to ``out``."""
    return [
        "--model",
        str(model),
        "--eval",
        str(datasets_dir / "eval"),
        "--policies",
        str(policies),
        "--model_name",
        MODEL_NAME,
        "--decision",
        str(out),
    ]


def _register(model: Path, datasets_dir: Path, tmp_path: Path) -> int:
    """Run the register step on ``model`` with the decision in ``tmp_path/d``, writing ``tmp_path/r``."""
    return register.main(
        [
            "--model",
            str(model),
            "--decision",
            str(tmp_path / "d"),
            "--data",
            str(datasets_dir / "data"),
            "--model_name",
            MODEL_NAME,
            "--registration",
            str(tmp_path / "r"),
        ]
    )


def test_train_rejects_unknown_trainer_and_non_empty_output(
    datasets_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["--train", str(datasets_dir / "train"), "--reference_rows", "10"]
    assert train.main([*args, "--trainer", "xgb", "--model", str(tmp_path / "m")]) == 1
    assert "train: --trainer: unknown trainer 'xgb'; known: dnn, hgb, rf" in capsys.readouterr().err
    assert not (tmp_path / "m").exists()
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "x").write_text("x")
    assert train.main([*args, "--model", str(tmp_path / "full")]) == 1
    assert "output folder is not empty" in capsys.readouterr().err


def test_train_rejects_a_dataset_without_labels(
    datasets_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "nolabel"
    shutil.copytree(datasets_dir / "train", folder)
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest["label"] = None
    (folder / "manifest.json").write_text(json.dumps(manifest))
    assert train.main(["--train", str(folder), "--model", str(tmp_path / "m"), "--reference_rows", "10"]) == 1
    assert "manifest.json: label: the manifest names no label" in capsys.readouterr().err


def test_evaluate_rejects_a_bad_policy_and_writes_nothing(
    model_home: Path,
    trained: Path,
    datasets_dir: Path,
    repo_root: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    policies = tmp_path / "policies"
    shutil.copytree(repo_root / "policies" / "schemas", policies / "schemas")
    policy = yaml.safe_load((repo_root / "policies" / "promotion.yml").read_text())
    policy["bootstrap"]["confidence"] = 1.5
    (policies / "promotion.yml").write_text(yaml.safe_dump(policy))
    code = evaluate.main(_evaluate_argv(trained, datasets_dir, policies, tmp_path / "d"))
    assert code == 1
    err = capsys.readouterr().err
    assert f"evaluate: {policies / 'promotion.yml'}: bootstrap.confidence:" in err
    assert not (tmp_path / "d").exists()


def _evaluate(trained: Path, datasets_dir: Path, repo_root: Path, out: Path) -> dict:
    code = evaluate.main(_evaluate_argv(trained, datasets_dir, repo_root / "policies", out))
    assert code == 0
    return json.loads((out / "decision.json").read_text())


def test_register_refuses_a_decision_about_another_model(
    model_home: Path,
    trained: Path,
    datasets_dir: Path,
    repo_root: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    _evaluate(trained, datasets_dir, repo_root, tmp_path / "d")
    other = tmp_path / "other"
    shutil.copytree(trained, other)
    (other / "ctloop" / "training.json").write_text("{}")
    args = [
        "--decision",
        str(tmp_path / "d"),
        "--data",
        str(datasets_dir / "data"),
        "--registration",
        str(tmp_path / "r"),
    ]
    assert register.main(["--model", str(other), "--model_name", MODEL_NAME, *args]) == 1
    assert (
        "register: model: this model folder is not the one the decision evaluated" in capsys.readouterr().err
    )
    assert register.main(["--model", str(trained), "--model_name", "another-name", *args]) == 1
    assert "register: model_name: 'another-name' but the decision is about" in capsys.readouterr().err
    assert LocalRegistry.model_names() == []  # nothing was registered


def test_register_refuses_a_decision_whose_promote_contradicts_its_checks(
    model_home: Path,
    trained: Path,
    datasets_dir: Path,
    repo_root: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    decision = _evaluate(trained, datasets_dir, repo_root, tmp_path / "d")
    decision["gate"]["checks"][1]["passed"] = False  # a failed floor, yet "promote": true
    (tmp_path / "d" / "decision.json").write_text(json.dumps(decision))
    code = _register(trained, datasets_dir, tmp_path)
    assert code == 1
    assert "promote: does not agree with the gate's checks" in capsys.readouterr().err
    assert LocalRegistry.model_names() == []


def test_register_records_a_champion_that_moved_meanwhile(
    model_home: Path,
    trained: Path,
    datasets_dir: Path,
    repo_root: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    _evaluate(trained, datasets_dir, repo_root, tmp_path / "d")  # compared with: no champion
    other_run = LocalRegistry(MODEL_NAME)  # another pipeline run finishes first and takes the pointer
    winner = other_run.register(trained, {"ctloop.pipeline_run_id": "other-run"}).version
    assert other_run.set_champion(winner, expected=None)
    code = _register(trained, datasets_dir, tmp_path)
    assert code == 0
    result = json.loads((tmp_path / "r" / "registration.json").read_text())
    assert result["outcome"] == "champion_moved_concurrently" and result["gate_promote"] is True
    assert result["champion_before"] is None and result["champion_after"] == winner
    assert other_run.champion().version == winner
    assert other_run.get(result["version"]).status == "champion_moved_concurrently"
    assert "left in place" in capsys.readouterr().out
