"""MLflow: a parent run for the pipeline, a nested child run per step, the step's metrics in run.json."""

from __future__ import annotations

from mlflow.tracking import MlflowClient

from ctloop import paths


def test_pipeline_and_steps_get_mlflow_runs(toy, cli):
    result = cli("run", toy.pipeline("tracked"))
    assert result.code == 0, result.err
    record = toy.record()
    step = record["steps"]["tracked"]
    assert step["metrics"] == {"accuracy": 0.75}  # logged by the step through mlflow.start_run()
    assert step["output_metrics"] == {"out": {"value": 0.75}}
    client = MlflowClient(paths.tracking_uri())
    parent = client.get_run(record["mlflow"]["parent_run_id"])
    child = client.get_run(step["mlflow_run_id"])
    assert child.data.tags["mlflow.parentRunId"] == parent.info.run_id
    assert child.data.tags["ctloop.step"] == "tracked"
    assert (child.info.status, parent.info.status) == ("FINISHED", "FINISHED")
    assert child.data.metrics == {"accuracy": 0.75}
    experiment = client.get_experiment(parent.info.experiment_id)
    assert experiment.name == "toy-tracked"
    assert experiment.artifact_location.startswith((toy.home / "registry" / "artifacts").as_uri())
    traces = toy.traces()
    assert traces[0]["env"]["MLFLOW_RUN_ID"] == child.info.run_id
    assert traces[0]["env"]["MLFLOW_EXPERIMENT_ID"] == parent.info.experiment_id
    # a fully cached rerun starts no MLflow run: the step points at the run that logged its metrics
    assert cli("run", toy.pipeline("tracked")).code == 0
    again = toy.record()
    assert again["mlflow"] is None
    assert again["steps"]["tracked"]["status"] == "cached"
    assert again["steps"]["tracked"]["mlflow_run_id"] == child.info.run_id
    assert again["steps"]["tracked"]["metrics"] == {"accuracy": 0.75}
