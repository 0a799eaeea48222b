"""The step cache: reuse when nothing that determines a step changed, rerun exactly what did."""

from __future__ import annotations


def _statuses(toy) -> dict[str, str]:
    return {name: step["status"] for name, step in toy.record()["steps"].items()}


def test_second_run_is_all_cached_and_runs_nothing(toy, cli):
    assert cli("run", toy.pipeline("diamond"), "--no-mlflow").code == 0
    first = toy.record()
    toy.clear_trace()
    result = cli("run", toy.pipeline("diamond"), "--no-mlflow")
    assert result.code == 0
    assert set(_statuses(toy).values()) == {"cached"}
    assert toy.executed() == set()
    second = toy.record()
    assert second["cache_hits"] == 4
    for name, step in second["steps"].items():
        assert step["reused_from"] == first["run_id"]
        assert step["outputs"] == first["steps"][name]["outputs"]  # points at the producing run's outputs
        assert step["cache_key"] == first["steps"][name]["cache_key"]
    assert result.out.count("cached (from run") == 4


def test_changed_input_file_reruns_only_what_it_reaches(toy, cli):
    assert cli("run", toy.pipeline("diamond"), "--no-mlflow").code == 0
    seed = toy.root / "data" / "seed" / "a.txt"
    seed.write_text("2 1\n")  # new bytes, same sum: source reruns, its output is unchanged
    toy.clear_trace()
    assert cli("run", toy.pipeline("diamond"), "--no-mlflow").code == 0
    assert _statuses(toy) == {"source": "completed", "left": "cached", "right": "cached", "merge": "cached"}
    seed.write_text("5\n")  # a different sum: everything downstream reruns
    assert cli("run", toy.pipeline("diamond"), "--no-mlflow").code == 0
    assert set(_statuses(toy).values()) == {"completed"}


def test_changed_code_reruns_the_steps_that_use_it(toy, cli):
    assert cli("run", toy.pipeline("diamond"), "--no-mlflow").code == 0
    scale = toy.root / "src_other" / "scale.py"
    scale.write_text(scale.read_text() + "# a comment changes the code snapshot\n")
    assert cli("run", toy.pipeline("diamond"), "--no-mlflow").code == 0
    # right reran; its output is byte-identical, so merge is still reused
    assert _statuses(toy) == {"source": "cached", "left": "cached", "right": "completed", "merge": "cached"}
    pycache = toy.root / "src" / "__pycache__"
    pycache.mkdir()
    (pycache / "toy.cpython-311.pyc").write_bytes(b"\0compiled")
    assert cli("run", toy.pipeline("diamond"), "--no-mlflow").code == 0
    assert set(_statuses(toy).values()) == {"cached"}  # __pycache__/.pyc are not part of the snapshot
    toy_py = toy.root / "src" / "toy.py"
    toy_py.write_text(toy_py.read_text() + "\n# edited\n")
    assert cli("run", toy.pipeline("diamond"), "--no-mlflow").code == 0
    assert _statuses(toy) == {
        "source": "completed",
        "left": "completed",
        "right": "cached",
        "merge": "completed",
    }


def test_force_reruns_everything(toy, cli):
    assert cli("run", toy.pipeline("diamond"), "--no-mlflow").code == 0
    toy.clear_trace()
    assert cli("run", toy.pipeline("diamond"), "--no-mlflow", "--force").code == 0
    record = toy.record()
    assert set(_statuses(toy).values()) == {"completed"}
    assert {s["cache"] for s in record["steps"].values()} == {"forced"}
    assert toy.executed() == {"source", "left", "merge"}  # the steps that write traces all ran
    assert cli("run", toy.pipeline("diamond"), "--no-mlflow").code == 0
    assert (
        toy.record()["steps"]["merge"]["reused_from"] == record["run_id"]
    )  # forced results refresh the cache


def test_non_deterministic_component_always_reruns(toy, cli):
    assert cli("run", toy.pipeline("noise"), "--no-mlflow").code == 0
    first = toy.record()["steps"]
    assert cli("run", toy.pipeline("noise"), "--no-mlflow").code == 0
    second = toy.record()["steps"]
    assert second["noise"]["status"] == "completed" and second["noise"]["cache"] == "off"
    assert first["noise"]["output_metrics"] != second["noise"]["output_metrics"]  # a fresh random number
    assert second["double"]["status"] == "completed"  # its input changed
