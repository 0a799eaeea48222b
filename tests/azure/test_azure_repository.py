"""The repository's own environments and components, registered through the real MLClient at the
wire: every body they cause must validate against the REST schema (a copy of the specs, locked
afresh, so the test reads the specs as they are now; the lock itself is `ctloop validate`'s job)."""

from __future__ import annotations

import io
import shutil
from pathlib import Path

import yaml
from wire import WS_ID, Workspace

from ctloop.azure.assets import local_assets, register_assets
from ctloop.azure.submit import build_job, component_refs
from ctloop.gitops.versions import LOCK_PATH, update_lock


def test_the_repository_specs_register_cleanly(repo_root: Path, tmp_path: Path, workspace: Workspace) -> None:
    root = tmp_path / "repo"
    for name in ("components", "environments"):
        shutil.copytree(repo_root / name, root / name)
    # The snapshot's content does not change a body: a one-file package, and a placeholder for each
    # folder or file the components add to it (additional_includes must exist), keep uploads small.
    (root / "src" / "ctloop").mkdir(parents=True)
    (root / "src" / "ctloop" / "__init__.py").write_text("")
    for spec in (root / "components").glob("*.yml"):
        for include in yaml.safe_load(spec.read_text()).get("additional_includes") or []:
            target = (root / "components" / include).resolve()
            source = (repo_root / "components" / include).resolve()
            if target.exists() or not source.exists():
                continue
            if source.is_dir():
                target.mkdir(parents=True)
                (target / "README.md").write_text("placeholder\n")
            else:
                target.write_text(source.read_text())
    (root / LOCK_PATH).unlink(missing_ok=True)
    update_lock(root)
    out = io.StringIO()
    actions = register_assets(workspace.client(), root, out=out)
    assert workspace.violations == []
    assert {a.action for a in actions} == {"create"}
    assets = local_assets(root)
    created = {
        w
        for w in workspace.writes()
        if w.startswith("PUT /environments/") or w.startswith("PUT /components/")
    }
    assert created == {f"PUT /{a.kind}s/{a.entry.name}/versions/{a.entry.version}" for a in assets}
    # The same code snapshot goes up once (looked up by content hash); every component points at one.
    snapshots = {r.path for r in workspace.sent("POST", "/startPendingUpload")}
    assert len(snapshots) <= 2, snapshots  # src alone, and src with additional_includes
    for a in assets:
        if a.kind != "component":
            continue
        spec = workspace.assets[("components", a.entry.name, str(a.entry.version))]["properties"][
            "componentSpec"
        ]
        local = yaml.safe_load(a.path.read_text())
        assert spec["code"].startswith(f"azureml:{WS_ID}/codes/"), a.path.name
        assert spec["environment"].startswith("azureml:"), a.path.name
        assert set(spec.get("inputs", {})) == set(local.get("inputs", {})), a.path.name


def test_the_training_pipeline_submits_cleanly(repo_root: Path, tmp_path: Path, workspace: Workspace) -> None:
    """pipelines/training.yml, bound to the registered components, as the service receives it."""
    root = tmp_path / "repo"
    for name in ("components", "environments", "pipelines"):
        shutil.copytree(repo_root / name, root / name)
    (root / "src" / "ctloop").mkdir(parents=True)
    (root / "src" / "ctloop" / "__init__.py").write_text("")
    (root / LOCK_PATH).unlink(missing_ok=True)
    update_lock(root)
    # local inputs the pipeline uploads (small stand-ins: their content does not change the body)
    data = yaml.safe_load((root / "pipelines" / "training.yml").read_text())
    for value in (data.get("inputs") or {}).values():
        if isinstance(value, dict) and str(value.get("path", "")).startswith("../"):
            folder = (root / "pipelines" / value["path"]).resolve()
            folder.mkdir(parents=True, exist_ok=True)
            (folder / "README.md").write_text("placeholder\n")
    client = workspace.client()
    job = build_job(root / "pipelines" / "training.yml", {}, root)
    for ref in component_refs(root / "pipelines" / "training.yml", root).values():
        _, comp, version = ref.split(":")
        workspace.seed("components", comp, version, {"componentSpec": {"name": comp, "version": version}})
    client.jobs.create_or_update(job, experiment_name=job.experiment_name)
    assert workspace.violations == []
    (put,) = workspace.sent("PUT", "/jobs/")
    body = put.json["properties"]
    assert body["jobType"] == "Pipeline" and set(body["jobs"]) == set(data["jobs"])
    for name, node in body["jobs"].items():
        assert node["componentId"].startswith(f"{WS_ID}/components/"), name
