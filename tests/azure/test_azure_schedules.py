"""``ctloop schedule apply`` against the recording fake MLClient, and its offline dry run."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fake_mlclient import FakeMLClient

from ctloop.azure.schedules import apply_command, apply_schedules


def test_apply_registers_components_then_creates_the_schedule(spec_repo: Path) -> None:
    client = FakeMLClient()
    names = apply_schedules(client, spec_repo)
    assert names == ["fixture-daily"]
    ops = client.ops()
    assert ops.index("components.create_or_update") < ops.index("schedules.begin_create_or_update")
    schedule = client.schedules.applied[0]
    rest = json.loads(json.dumps(schedule._to_rest_object().as_dict(), default=str))["properties"]
    assert rest["trigger"] == {"triggerType": "Cron", "expression": "0 6 * * *", "timeZone": "UTC"}
    jobs = rest["action"]["jobDefinition"]["jobs"]
    assert jobs["train"]["componentId"] == "azureml:ctloop_train:1.0.0"
    assert jobs["register"]["componentId"] == "azureml:ctloop_register:1.0.0"


def test_dry_run_needs_no_azure(spec_repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert apply_command(spec_repo, [], dry_run=True) == 0
    assert "schedule fixture-daily: 0 6 * * * (UTC): would be applied" in capsys.readouterr().out


def test_an_invalid_schedule_is_refused_before_azure(make_repo, capsys: pytest.CaptureFixture[str]) -> None:
    root = make_repo("schedule_time_zone")
    assert apply_command(root, [], dry_run=False) == 2
    err = capsys.readouterr().err
    assert "schedule.time-zone" in err and "no trigger.time_zone" in err
