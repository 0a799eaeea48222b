"""Bad input is refused with file, field and reason, before any state changes; batching and RNG units."""

from __future__ import annotations

import json
import logging
import random
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

torch = pytest.importorskip("torch", reason="PyTorch is an optional extra: make setup-dnn")

from ctloop.dnn import rng  # noqa: E402
from ctloop.dnn.checkpoint import deserialise, serialise  # noqa: E402
from ctloop.dnn.errors import DnnError  # noqa: E402
from ctloop.dnn.sampler import EpochBatches  # noqa: E402
from ctloop.dnn.train import fit_from_dataset  # noqa: E402
from ctloop.steps import train_dnn  # noqa: E402


@pytest.fixture(autouse=True)
def _restore_logger():
    logger = logging.getLogger("ctloop.dnn")
    saved = logger.handlers[:], logger.propagate, logger.level
    yield
    logger.handlers[:], logger.propagate, logger.level = saved


def run_main(
    tmp_path: Path, train: Path, policies: Path, capsys: pytest.CaptureFixture
) -> tuple[int, list[str]]:
    args = ["--train", str(train), "--policies", str(policies), "--model", str(tmp_path / "model")]
    code = train_dnn.main([*args, "--checkpoints", str(tmp_path / "ckpt")])
    errors = [line for line in capsys.readouterr().err.splitlines() if line.startswith("train_dnn: /")]
    return code, errors


def assert_no_state(tmp_path: Path) -> None:
    assert not (tmp_path / "model").exists() and not (tmp_path / "ckpt").exists()


def test_policy_outside_its_schema(tmp_path, datasets, make_policies, capsys) -> None:
    code, errors = run_main(tmp_path, datasets[0], make_policies(training__precision="fp8"), capsys)
    assert code == 1 and len(errors) == 1
    assert "dnn.yml: training.precision: 'fp8' is not one of" in errors[0]
    assert_no_state(tmp_path)


def test_label_that_is_not_binary(tmp_path, rainfall, make_policies, capsys) -> None:
    from dnn_helpers import write_dataset

    frame = rainfall.iloc[:320].assign(rain=lambda f: f["rain"] * 2).reset_index(drop=True)
    train = write_dataset(tmp_path / "bad", frame, "bad")
    code, errors = run_main(tmp_path, train, make_policies(), capsys)
    assert code == 1 and errors == [
        f"train_dnn: {train / 'data.parquet'}: rain: label must be binary 0/1, found 2.0"
    ]
    assert_no_state(tmp_path)


def test_feature_named_in_manifest_but_missing(tmp_path, datasets, make_policies, capsys) -> None:
    train = datasets[0]
    manifest = json.loads((train / "manifest.json").read_text())
    manifest["features"].append("humidity")
    (train / "manifest.json").write_text(json.dumps(manifest))
    code, errors = run_main(tmp_path, train, make_policies(), capsys)
    assert code == 1 and errors == [
        f"train_dnn: {train / 'data.parquet'}: humidity: "
        "column named in the manifest is missing from the data"
    ]
    assert_no_state(tmp_path)


def test_not_a_dataset_folder(tmp_path, make_policies, capsys) -> None:
    (tmp_path / "empty").mkdir()
    code, errors = run_main(tmp_path, tmp_path / "empty", make_policies(), capsys)
    assert code == 1 and errors == [
        f"train_dnn: {tmp_path / 'empty' / 'manifest.json'}: <file>: manifest not found "
        "(expected a prepared dataset folder)"
    ]


def test_batch_larger_than_the_data(tmp_path, datasets, make_policies) -> None:
    with pytest.raises(
        DnnError, match=r"dnn\.yml: training\.batch_size: batch_size 512 is larger than the 320 training rows"
    ):
        fit_from_dataset(datasets[0], tmp_path / "model", policies=make_policies(training__batch_size=512))
    assert not (tmp_path / "model").exists()


def test_batches_are_reproducible_and_independent_of_the_process_count() -> None:
    one = EpochBatches(rows=100, batch_size=8, world_size=1, rank=0, seed=5)
    shards = [EpochBatches(rows=100, batch_size=8, world_size=2, rank=r, seed=5) for r in (0, 1)]
    assert one.steps_per_epoch == 12
    for epoch in (0, 3):
        for step in (0, 7, 11):
            both = torch.cat([s.indices(epoch, step) for s in shards])
            assert torch.equal(both, one.indices(epoch, step))
            assert len(set(both.tolist())) == 8
    again = EpochBatches(rows=100, batch_size=8, world_size=1, rank=0, seed=5)
    assert torch.equal(again.order(3), one.order(3)) and not torch.equal(one.order(3), one.order(4))


def test_global_batch_must_split_evenly() -> None:
    with pytest.raises(ValueError, match="not divisible by the 3 processes"):
        EpochBatches(rows=100, batch_size=8, world_size=3, rank=0, seed=0)


def test_rng_states_survive_a_weights_only_round_trip() -> None:
    device = torch.device("cpu")
    rng.seed_all(11)
    random.random(), np.random.rand(), torch.rand(2)  # move every stream off its seed
    saved = deserialise(serialise({"rng": rng.capture(device)}))["rng"]
    expected = (random.random(), np.random.rand(3), torch.rand(3))
    rng.seed_all(999)
    rng.restore(saved, device)
    got = (random.random(), np.random.rand(3), torch.rand(3))
    assert got[0] == expected[0]
    np.testing.assert_array_equal(got[1], expected[1])
    assert torch.equal(got[2], expected[2])


def test_missing_values_in_features_become_the_training_mean(tmp_path, datasets, make_policies) -> None:
    from ctloop.dnn.flavour import load

    fit_from_dataset(datasets[0], tmp_path / "model", policies=make_policies(training__epochs=1))
    model = load(tmp_path / "model")
    frame = pd.read_parquet(datasets[1] / "data.parquet").head(3)
    holes = frame.assign(dew_point=np.nan)
    filled = frame.assign(dew_point=model.standardizer.mean[model.features.index("dew_point")])
    np.testing.assert_allclose(model.predict_proba(holes), model.predict_proba(filled), rtol=1e-6)
