"""``ctloop models list | show | champion`` on a real local registry."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest

from ctloop.registry import commands
from ctloop.registry.local import LocalRegistry


def run(*argv: str) -> int:
    parser = argparse.ArgumentParser(prog="ctloop")
    commands.register(parser.add_subparsers(dest="verb"))
    args = parser.parse_args(list(argv))
    return args.func(args)


def test_empty_registry(ctloop_home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run("models", "list") == 1
    assert "no models registered yet" in capsys.readouterr().err
    assert not (ctloop_home / "registry" / "mlflow.db").exists()  # reading created nothing


def test_list_show_champion(
    registry: LocalRegistry,
    model_dir: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    registry.register(
        model_dir, {"ctloop.gate.challenger_metric": "0.888458", "ctloop.data.asset": "rainfall:3"}
    )
    registry.register(model_dir, {"ctloop.status": "not_promoted", "ctloop.gate.difference": "-0.0120"})
    registry.set_champion("1", expected=None)

    assert run("models", "list") == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "model rainfall-classifier"
    header = ["VERSION", "CHAMPION", "SERVING", "STATUS", "CREATED", "METRIC", "VS", "CHAMPION", "DATA"]
    assert out[1].split() == header
    assert out[2].split()[:3] == ["1", "*", "promoted"] and "rainfall:3" in out[2]
    assert out[3].split()[:2] == ["2", "not_promoted"] and "-0.0120" in out[3]
    assert out[4] == "champion 1, serving none"

    assert run("models", "list", "--json") == 0
    listed = json.loads(capsys.readouterr().out)
    assert [v["version"] for v in listed] == ["1", "2"] and listed[0]["aliases"] == ["champion"]

    assert run("models", "show", "2") == 0
    shown = capsys.readouterr().out
    assert "status   not_promoted" in shown and "ctloop.gate.difference = -0.0120" in shown

    assert run("models", "champion", "--json") == 0
    assert json.loads(capsys.readouterr().out) | {"serving": None} == json.loads(
        json.dumps(registry.champion().to_dict() | {"serving": None})
    )

    registry.record_deployed("2")  # a rollout of version 2 promoted: it serves, and is champion
    assert run("models", "list") == 0
    out = capsys.readouterr().out.splitlines()
    assert out[3].split()[:4] == ["2", "*", "*", "deployed"] and out[4] == "champion 2, serving 2"
    assert run("models", "champion") == 0
    shown = capsys.readouterr().out
    assert "version  2" in shown and "serving  2" in shown

    assert run("models", "show", "9") == 1
    assert "has no version '9'" in capsys.readouterr().err
    assert run("models", "list", "--name", "other") == 1
    assert "model 'other' is not registered (registered: rainfall-classifier)" in capsys.readouterr().err


def test_champion_missing_and_several_models(
    registry: LocalRegistry, model_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    registry.register(model_dir, {})
    assert run("models", "champion") == 1
    assert "has no champion yet" in capsys.readouterr().err
    LocalRegistry("another-model").register(model_dir, {})
    assert run("models", "list") == 2
    assert "several models registered: another-model, rainfall-classifier" in capsys.readouterr().err
    assert run("models", "list", "--name", "another-model") == 0
