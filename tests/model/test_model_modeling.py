"""Model folders: save -> load_classifier round trip, the trusted-types allow-list, trainers, pins."""

from __future__ import annotations

import operator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer

from ctloop import modeling, trainers
from ctloop.datasets import RAINFALL_FEATURES, RAINFALL_LABEL, load_rainfall

FEATURES = list(RAINFALL_FEATURES)


@pytest.fixture(scope="module")
def window(rainfall: pd.DataFrame) -> tuple[pd.DataFrame, np.ndarray, pd.DataFrame]:
    train = rainfall.iloc[14_000:15_500]
    holdout = rainfall.iloc[15_500:15_800]
    return train[FEATURES], train[RAINFALL_LABEL].to_numpy(), holdout[FEATURES]


@pytest.mark.parametrize(
    ("name", "options"), [("hgb", {"max_iter": 30, "seed": 0}), ("rf", {"n_estimators": 15, "seed": 0})]
)
def test_save_then_load_gives_identical_probabilities(
    tmp_path: Path, window, name: str, options: dict
) -> None:
    x, y, holdout = window
    fitted = trainers.get_trainer(name)(x, y, options)
    fitted.save(tmp_path / "model", x.head(5))
    loaded = modeling.load_classifier(tmp_path / "model")
    expected = fitted.predict_proba(holdout)
    np.testing.assert_array_equal(loaded.predict_proba(holdout), expected)
    assert loaded.features == FEATURES
    assert expected.shape == (len(holdout),) and ((expected >= 0) & (expected <= 1)).all()
    # column order of the input does not matter: features are selected by name
    np.testing.assert_array_equal(loaded.predict_proba(holdout[FEATURES[::-1]]), expected)


def test_mlmodel_records_skops_signature_and_pins(tmp_path: Path, window, repo_root: Path) -> None:
    x, y, _ = window
    trainers.train_hgb(x, y, {"max_iter": 10}).save(tmp_path / "m", x.head(5))
    mlmodel = modeling.read_mlmodel(tmp_path / "m")
    sk = mlmodel["flavors"]["sklearn"]
    assert sk["serialization_format"] == "skops"
    assert sk["skops_trusted_types"] == list(modeling.TRUSTED_TYPES)
    assert "temperature" in mlmodel["signature"]["inputs"]
    lock = {
        line.split("==")[0].lower(): line.strip()
        for line in (repo_root / "requirements.lock").read_text().splitlines()
        if "==" in line and not line.startswith("#")
    }
    requirements = (tmp_path / "m" / "requirements.txt").read_text().split()
    assert requirements == modeling.pip_requirements()
    for pin in requirements:
        assert lock[pin.split("==")[0].lower()] == pin, f"{pin} differs from requirements.lock"


def test_loading_refuses_a_type_outside_the_allow_list(tmp_path: Path) -> None:
    import mlflow.sklearn

    rng = np.random.default_rng(0)
    frame = pd.DataFrame(rng.normal(size=(60, 2)), columns=["a", "b"])
    pipeline = make_pipeline(FunctionTransformer(operator.neg), LogisticRegression()).fit(
        frame, np.arange(60) % 2
    )
    # The folder itself claims to trust the type: MLflow's own loader would accept it, ctloop must not.
    mlflow.sklearn.save_model(
        pipeline,
        str(tmp_path / "m"),
        serialization_format="skops",
        skops_trusted_types=["_operator.neg"],
        pip_requirements=[],
    )
    with pytest.raises(modeling.ModelLoadError, match=r"untrusted types refused: _operator\.neg"):
        modeling.load_classifier(tmp_path / "m")


def test_loading_refuses_pickle_formats(tmp_path: Path) -> None:
    import mlflow.sklearn

    frame = pd.DataFrame({"a": [0.0, 1.0, 2.0, 3.0]})
    mlflow.sklearn.save_model(
        LogisticRegression().fit(frame, [0, 0, 1, 1]),
        str(tmp_path / "m"),
        serialization_format="cloudpickle",
        pip_requirements=[],
    )
    with pytest.raises(modeling.ModelLoadError, match="'cloudpickle' refused"):
        modeling.load_classifier(tmp_path / "m")


def test_loading_a_folder_that_is_not_a_model(tmp_path: Path) -> None:
    with pytest.raises(modeling.ModelLoadError, match="no MLmodel file"):
        modeling.load_classifier(tmp_path)
    (tmp_path / "MLmodel").write_text("flavors:\n  onnx: {}\n")
    with pytest.raises(modeling.ModelLoadError, match="no loader for flavours"):
        modeling.load_classifier(tmp_path)


def test_model_file_may_not_point_outside_the_folder(tmp_path: Path) -> None:
    (tmp_path / "MLmodel").write_text(
        "flavors:\n  sklearn:\n    serialization_format: skops\n    pickled_model: ../../etc/passwd\n"
    )
    with pytest.raises(modeling.ModelLoadError, match="outside the model folder"):
        modeling.load_classifier(tmp_path)


def test_training_info_round_trip(tmp_path: Path) -> None:
    reference = pd.DataFrame({"a": [1.0, 2.0]})
    modeling.write_training_info(tmp_path, {"trainer": "hgb", "features": ["a"]}, reference)
    assert modeling.read_training_info(tmp_path) == {"features": ["a"], "trainer": "hgb"}
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "ctloop" / "reference.parquet"), reference)


def test_trainer_registry(window, monkeypatch: pytest.MonkeyPatch) -> None:
    x, y, _ = window
    with pytest.raises(KeyError, match="unknown trainer 'xgb'; known: dnn, hgb, rf"):
        trainers.get_trainer("xgb")
    # entries may be "module:function" strings, imported only when chosen (how `dnn` plugs in)
    monkeypatch.setitem(trainers.TRAINERS, "lazy", "ctloop.trainers:train_rf")
    assert trainers.get_trainer("lazy") is trainers.train_rf
    fitted = trainers.train_rf(x, y, {"n_estimators": 5, "learning_rate": 0.1, "seed": 1})
    assert fitted.ignored == ["learning_rate"]
    assert fitted.params["n_estimators"] == 5 and fitted.params["n_jobs"] == -1


@pytest.mark.torch
def test_dnn_trainer_and_flavour_plug_in_lazily() -> None:
    pytest.importorskip("torch")
    from ctloop.dnn import flavour, trainer

    assert trainers.get_trainer("dnn") is trainer.train
    assert modeling.FLAVOR_LOADERS["ctloop_torch"] == "ctloop.dnn.flavour:load"
    assert flavour.load.__name__ == "load"


def test_loading_a_tabular_model_does_not_import_torch(tmp_path):
    """skops' first import would pull PyTorch in (seconds per process); ctloop keeps it out."""
    import subprocess
    import sys

    frame = load_rainfall().iloc[:300]
    x, y = frame[list(RAINFALL_FEATURES)], frame[RAINFALL_LABEL].to_numpy()
    folder = tmp_path / "model"
    trainers.train_hgb(x, y, {"max_iter": 5}).save(folder, x.head(3))
    code = (
        "import sys, pandas as pd; from ctloop import modeling;"
        f"m = modeling.load_classifier({str(folder)!r});"
        f"p = m.predict_proba(pd.read_parquet({str(tmp_path / 'x.parquet')!r}));"
        "print(len(p), 'torch' in sys.modules)"
    )
    x.head(5).to_parquet(tmp_path / "x.parquet")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["5", "False"]
