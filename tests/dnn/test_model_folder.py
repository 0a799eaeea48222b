"""The model folder: ctloop_torch flavour, lineage files, load/predict_proba round trip, safe loading."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

torch = pytest.importorskip("torch", reason="PyTorch is an optional extra: make setup-dnn")

from ctloop import modeling  # noqa: E402
from ctloop.dnn import flavour  # noqa: E402
from ctloop.dnn.errors import DnnError  # noqa: E402
from ctloop.dnn.train import fit_from_dataset  # noqa: E402


@pytest.fixture
def trained(tmp_path: Path, datasets: tuple[Path, Path], make_policies) -> tuple[Path, object, pd.DataFrame]:
    train, ev = datasets
    out = tmp_path / "model"
    result = fit_from_dataset(train, out, policies=make_policies(), eval_dir=ev)
    return out, result, pd.read_parquet(ev / "data.parquet")


def test_folder_layout_and_training_info(trained) -> None:
    out, _, _ = trained
    spec = yaml.safe_load((out / "MLmodel").read_text())
    conf = spec["flavors"]["ctloop_torch"]
    assert conf["weights"] == "data/weights.pt" and conf["format"] == 1
    assert spec["flavors"]["python_function"]["loader_module"] == "ctloop.dnn.flavour"
    arch = json.loads((out / "data" / "architecture.json").read_text())
    assert arch == {
        "type": "mlp",
        "input_dim": 8,
        "hidden_units": [16, 8],
        "dropout": 0.1,
        "activation": "relu",
        "output": "logit",
    }
    pre = json.loads((out / "data" / "preprocessing.json").read_text())
    assert pre["label"] == "rain" and len(pre["features"]) == len(pre["mean"]) == len(pre["std"]) == 8
    info = json.loads((out / "ctloop" / "training.json").read_text())
    assert info["trainer"] == "dnn" and info["label"] == "rain" and info["features"] == pre["features"]
    assert info["training_window"] == ["1949-01-01", "1949-11-16"] and info["rows"] == 320
    assert info["params"]["model"]["hidden_units"] == [16, 8]
    assert {"train_roc_auc", "train_loss", "eval_loss", "eval_roc_auc"} <= set(info["metrics"])
    assert [h["epoch"] for h in info["history"]] == [0, 1, 2, 3]
    ref = pd.read_parquet(out / "ctloop" / "reference.parquet")
    assert len(ref) == 100 and list(ref.columns) == ["date", *pre["features"], "rain"]
    assert ref["date"].is_monotonic_increasing
    assert "torch==" in (out / "requirements.txt").read_text()


def test_load_predict_proba_round_trip(trained) -> None:
    out, result, frame = trained
    model = flavour.load(out)
    proba = model.predict_proba(frame)
    assert proba.shape == (len(frame),) and proba.dtype == np.float64
    assert ((proba > 0) & (proba < 1)).all()
    # the same network in memory gives the same numbers
    x = torch.from_numpy(result.standardizer.transform(frame[model.features].to_numpy(float)))
    with torch.inference_mode():
        expected = torch.sigmoid(result.net.eval()(x)).numpy()
    np.testing.assert_array_equal(proba, expected)
    # column order and extra columns do not matter
    shuffled = frame[list(reversed(frame.columns))].assign(extra=1.0)
    np.testing.assert_array_equal(model.predict_proba(shuffled), proba)


def test_load_classifier_dispatches_to_the_flavour(trained, monkeypatch: pytest.MonkeyPatch) -> None:
    """The one-line hook in ctloop.modeling: FLAVOR_LOADERS["ctloop_torch"] = "ctloop.dnn.flavour:load"."""
    out, _, frame = trained
    monkeypatch.setitem(modeling.FLAVOR_LOADERS, "ctloop_torch", "ctloop.dnn.flavour:load")
    clf = modeling.load_classifier(out)
    np.testing.assert_array_equal(clf.predict_proba(frame), flavour.load(out).predict_proba(frame))


def test_mlflow_pyfunc_loads_it(trained) -> None:
    import mlflow.pyfunc

    out, _, frame = trained
    model = mlflow.pyfunc.load_model(str(out))
    np.testing.assert_allclose(
        model.predict(frame[flavour.load(out).features]), flavour.load(out).predict_proba(frame)
    )


def test_missing_feature_is_named(trained) -> None:
    out, _, frame = trained
    with pytest.raises(DnnError, match="dew_point"):
        flavour.load(out).predict_proba(frame.drop(columns=["dew_point"]))


def test_weights_needing_pickle_are_refused(trained) -> None:
    out, _, _ = trained
    torch.save({"net.0.weight": Path("/etc/passwd")}, out / "data" / "weights.pt")  # not allowlisted
    with pytest.raises(DnnError, match=r"weights\.pt: <weights>: cannot be loaded with weights_only=True"):
        flavour.load(out)


def test_weights_that_do_not_match_the_architecture(trained) -> None:
    out, _, _ = trained
    arch = json.loads((out / "data" / "architecture.json").read_text())
    (out / "data" / "architecture.json").write_text(json.dumps(arch | {"hidden_units": [4]}))
    with pytest.raises(DnnError, match="state_dict: does not match the architecture"):
        flavour.load(out)


def test_other_flavours_are_not_mistaken_for_it(tmp_path: Path) -> None:
    (tmp_path / "MLmodel").write_text(yaml.safe_dump({"flavors": {"sklearn": {}}}))
    with pytest.raises(DnnError, match=r"flavors\.ctloop_torch: not a ctloop_torch model"):
        flavour.load(tmp_path)


def test_trainer_registry_entry(tmp_path: Path, rainfall: pd.DataFrame, make_policies) -> None:
    """``ctloop.dnn.trainer:train`` speaks ctloop.trainers' interface (features, labels, options)."""
    from ctloop.dnn.trainer import train

    frame = rainfall.iloc[:320]
    features = frame.drop(columns=["date", "rain"])
    fitted = train(
        features, frame["rain"].to_numpy(), {"seed": 3, "max_iter": 100, "policies": make_policies()}
    )
    assert fitted.ignored == ["max_iter"] and fitted.params["training"]["seed"] == 3
    fitted.save(tmp_path / "m", features.head(5))
    np.testing.assert_array_equal(
        flavour.load(tmp_path / "m").predict_proba(frame), fitted.predict_proba(frame)
    )
