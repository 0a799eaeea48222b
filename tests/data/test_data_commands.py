"""``ctloop data landing`` and the data components' specs."""

from __future__ import annotations

import argparse
import re
import warnings
from pathlib import Path

import pandas as pd
import pytest
import yaml
from data_helpers import REPO

from ctloop import data_commands


def run_cli(*argv: str) -> int:
    """The ``data`` verb through its own ``register`` (as ctloop.cli wires every area's verbs)."""
    parser = argparse.ArgumentParser(prog="ctloop")
    data_commands.register(parser.add_subparsers(dest="verb"))
    args = parser.parse_args(list(argv))
    return args.func(args)


def test_landing_writes_one_parquet_per_month(tmp_path, capsys):
    out = tmp_path / "landing"
    assert run_cli("data", "landing", "--until", "1950-03-15", "--out", str(out)) == 0
    names = sorted(p.name for p in out.iterdir())
    assert (
        names[0] == "rainfall-1949-01.parquet"
        and names[-1] == "rainfall-1950-03.parquet"
        and len(names) == 15
    )
    march = pd.read_parquet(out / "rainfall-1950-03.parquet")
    assert march["date"].min() == pd.Timestamp("1950-03-01") and march["date"].max() == pd.Timestamp(
        "1950-03-15"
    )
    assert (
        "wrote 15 monthly batch(es), 439 rows (1949-01-01 .. 1950-03-15) of rainfall"
        in capsys.readouterr().out
    )


@pytest.mark.parametrize(
    ("freq", "first_name", "count"),
    [
        ("day", "rainfall-1960-01-01.parquet", 14),
        ("week", "rainfall-1959-12-28.parquet", 3),
        ("year", "rainfall-1960.parquet", 1),
    ],
)
def test_landing_frequencies_sort_in_time_order(tmp_path, freq, first_name, count):
    out = tmp_path / freq
    data_commands.write_landing("rainfall", "1960-01-14", "1960-01-01", out, freq)
    names = sorted(p.name for p in out.iterdir())
    assert names[0] == first_name and len(names) == count
    days = pd.concat(pd.read_parquet(out / n) for n in names)["date"]
    assert days.is_monotonic_increasing and len(days) == 14


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--until", "someday"], "--until: 'someday' is not a date"),
        (
            ["--until", "1950-01-01", "--since", "1951-01-01"],
            "--since: 1951-01-01 is after --until 1950-01-01",
        ),
        (["--until", "1900-01-01"], "no rows in that range (rainfall covers 1949-01-01 .. 1998-09-19)"),
        (["--until", "1950-01-01", "--dataset", "weather"], "--dataset: unknown bundled dataset 'weather'"),
    ],
)
def test_landing_usage_errors(tmp_path, capsys, argv, message):
    out = tmp_path / "landing"
    assert run_cli("data", "landing", "--out", str(out), *argv) == 2
    assert message in capsys.readouterr().err
    assert not out.exists()


# --- components ----------------------------------------------------------------------------------

COMPONENTS = {
    "ingest": ({"landing", "dataset", "policies"}, {"data"}),
    "validate_data": ({"data", "policies", "model_name", "reference"}, {"report", "verdict"}),
    "prep": ({"data", "report", "policies", "triggers"}, {"train", "eval", "recent"}),
}


def _load(name: str):
    from azure.ai.ml import load_component

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return load_component(REPO / "components" / f"{name}.yml")


@pytest.mark.parametrize("name", sorted(COMPONENTS))
def test_component_loads_validates_and_matches_its_step(name):
    component = _load(name)
    result = component._validate()
    assert result.passed, result.error_messages
    inputs, outputs = COMPONENTS[name]
    assert set(component.inputs) == inputs and set(component.outputs) == outputs
    assert re.fullmatch(r"\d+\.\d+\.\d+", str(component.version)) and component.name == f"ctloop_{name}"
    assert component.command.startswith(f"python -m ctloop.steps.{name}")
    for port in [*component.inputs.values(), *component.outputs.values()]:
        assert port.description
    raw = yaml.safe_load((REPO / "components" / f"{name}.yml").read_text())
    assert re.fullmatch(r"azureml:ctloop-train:\d+", raw["environment"])
    assert raw["code"] == "../src" and (REPO / "src" / "ctloop" / "steps" / f"{name}.py").is_file()
    # Every declared port reaches the command (optional ones through $[[...]]).
    for port in inputs:
        assert f"${{{{inputs.{port}}}}}" in component.command
    for port in outputs:
        assert f"${{{{outputs.{port}}}}}" in component.command


def test_pipeline_binds_exactly_the_declared_ports():
    spec = yaml.safe_load((REPO / "pipelines" / "training.yml").read_text())
    for name, (inputs, _) in COMPONENTS.items():
        job = spec["jobs"][name]
        assert Path(job["component"]).name == f"{name}.yml"
        bound = set(job.get("inputs", {}))
        optional = {"reference"} if name == "validate_data" else set()
        assert bound == inputs - optional
    # Downstream jobs read outputs these components declare.
    # prep depends on the status-only verdict, so it stays cached while the champion (and with it
    # the drift numbers in the full report) changes.
    assert spec["jobs"]["prep"]["inputs"]["report"] == "${{parent.jobs.validate_data.outputs.verdict}}"
    assert spec["jobs"]["train"]["inputs"]["train"] == "${{parent.jobs.prep.outputs.train}}"
    assert spec["jobs"]["evaluate"]["inputs"]["eval"] == "${{parent.jobs.prep.outputs.eval}}"
    assert _load("ingest").is_deterministic is False and _load("validate_data").is_deterministic is False
