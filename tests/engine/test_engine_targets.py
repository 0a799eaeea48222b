"""``--target azure`` hands the pipeline to ctloop.azure.submit, or says clearly that it is missing."""

from __future__ import annotations

import sys
import types


def test_azure_target_missing_is_a_clear_usage_error(toy, cli, monkeypatch):
    monkeypatch.setitem(sys.modules, "ctloop.azure.submit", None)  # as if the module did not exist
    result = cli("run", toy.pipeline("diamond"), "--target", "azure", "--stack", "dev")
    assert result.code == 2
    assert "the azure target is not installed in this build" in result.err
    assert "Traceback" not in result.err
    assert not (toy.home / "runs").exists()


def test_azure_target_dispatches_path_overrides_and_stack(toy, cli, monkeypatch):
    calls = []
    fake = types.ModuleType("ctloop.azure.submit")
    fake.submit_pipeline = lambda path, overrides, stack: calls.append((path, overrides, stack)) or 0
    monkeypatch.setitem(sys.modules, "ctloop.azure.submit", fake)
    result = cli("run", toy.pipeline("diamond"), "--target", "azure", "--stack", "staging", "--set", "n=4")
    assert result.code == 0
    assert calls == [(str(toy.pipeline("diamond")), {"n": "4"}, "staging")]
    assert not (toy.home / "runs").exists()  # nothing ran locally
