"""One MLflow model registry for both targets; a small store adapter says how each differs.

:class:`MlflowRegistry` holds every operation (register, versions, tags, download, the champion
and serving pointers and how a rollout moves them). A subclass supplies the store's differences:
how pointers are kept (local: MLflow aliases; Azure: registered-model tags), how writes are
serialised (local: a file lock; Azure: none, promotions are serialised by the workflow), how calls
are retried (local: SQLite "database is locked"), and where the artifacts go.

One truth about what serves: ``serving`` names the version the endpoint serves. When a rollout
promotes a version (:meth:`MlflowRegistry.record_deployed`) it becomes both serving and champion;
when a rollout rejects the champion (:meth:`MlflowRegistry.mark_rejected`) the champion returns to
the serving version (or is cleared when nothing serves).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

from ctloop.registry.base import (
    CHAMPION_ALIAS,
    SERVING_ALIAS,
    STATUS_DEPLOYED,
    STATUS_PROMOTED,
    STATUS_REGISTERED,
    STATUS_REJECTED,
    TAG_DEPLOYED_AT,
    TAG_PROMOTED_AT,
    TAG_REJECTED_AT,
    TAG_REJECTED_REASON,
    TAG_STATUS,
    TAG_SUPERSEDED_BY,
    ModelVersion,
    Registry,
    RegistryError,
    now_iso,
)

T = TypeVar("T")

#: MLflow experiment whose runs hold the registered model files.
REGISTRY_EXPERIMENT = "ctloop-registry"
#: Tag recording why the champion pointer last moved back (a rejected rollout).
TAG_CHAMPION_RESTORED = "ctloop.champion_restored_from"


def mlflow_client(uri: str) -> Any:
    """An ``MlflowClient`` for tracking and registry at ``uri`` (no telemetry, no progress bars)."""
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")  # no bars in step logs
    from mlflow.tracking import MlflowClient

    return MlflowClient(tracking_uri=uri, registry_uri=uri)


def error_code(exc: BaseException) -> str:
    """The MLflow error code of ``exc`` ("" when it has none)."""
    return str(getattr(exc, "error_code", ""))


def is_missing(exc: BaseException) -> bool:
    """Whether ``exc`` says the model or version does not exist."""
    return error_code(exc) in ("RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE")


def to_model_version(name: str, mv: Any, aliases: tuple[str, ...]) -> ModelVersion:
    """The :class:`ModelVersion` of MLflow's model version ``mv`` of model ``name``."""
    tags = {str(k): str(v) for k, v in (mv.tags or {}).items()}
    created = datetime.fromtimestamp((mv.creation_timestamp or 0) / 1000, UTC).isoformat(timespec="seconds")
    return ModelVersion(
        name=name,
        version=str(mv.version),
        source=str(mv.source),
        tags=tags,
        aliases=aliases,
        created=created,
        status=tags.get(TAG_STATUS, STATUS_REGISTERED),
    )


class MlflowRegistry(Registry):
    """Versions of one model in an MLflow registry; subclasses adapt the store (see module doc)."""

    name: str
    uri: str
    _client: Any

    # --- store adapter (override) --------------------------------------------------------------
    def _call(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Call the MLflow client (a subclass may retry)."""
        return fn(*args, **kwargs)

    def _lock(self) -> contextlib.AbstractContextManager[None]:
        """Serialise a read-compare-write of the pointers (none by default)."""
        return contextlib.nullcontext()

    def _pointers(self) -> dict[str, str]:
        """Pointer name (``champion``, ``serving``) -> version."""
        raise NotImplementedError

    def _write_pointer(self, pointer: str, version: str | None) -> bool:
        """Point ``pointer`` at ``version`` (None: remove it); False when another writer won."""
        raise NotImplementedError

    def _artifact_location(self) -> str | None:
        """Where the registry experiment keeps model files (None: the store's default)."""
        return None

    def _source(self, run: Any) -> str:
        """The model version's ``source`` for the registration run ``run``."""
        return f"runs:/{run.info.run_id}/model"

    @classmethod
    def _names(cls, client: Any, call: Callable[..., Any] = lambda fn, *a, **k: fn(*a, **k)) -> list[str]:
        names: list[str] = []
        token = None
        while True:
            page = call(client.search_registered_models, max_results=100, page_token=token)
            names.extend(m.name for m in page)
            token = getattr(page, "token", None)
            if not token:
                return sorted(names)

    # --- helpers -------------------------------------------------------------------------------
    def _convert(self, mv: Any, pointers: dict[str, str]) -> ModelVersion:
        version = str(mv.version)
        aliases = tuple(sorted(a for a, v in pointers.items() if v == version))
        return to_model_version(self.name, mv, aliases)

    def _experiment_id(self) -> str:
        from mlflow.exceptions import MlflowException

        found = self._call(self._client.get_experiment_by_name, REGISTRY_EXPERIMENT)
        if found is not None:
            return found.experiment_id
        location = self._artifact_location()
        try:
            if location is None:
                return self._call(self._client.create_experiment, REGISTRY_EXPERIMENT)
            return self._call(self._client.create_experiment, REGISTRY_EXPERIMENT, artifact_location=location)
        except MlflowException as exc:
            if error_code(exc) != "RESOURCE_ALREADY_EXISTS":
                raise
            return self._call(self._client.get_experiment_by_name, REGISTRY_EXPERIMENT).experiment_id

    def _ensure_model(self) -> None:
        from mlflow.exceptions import MlflowException

        try:
            self._call(self._client.create_registered_model, self.name)
        except MlflowException as exc:
            if error_code(exc) != "RESOURCE_ALREADY_EXISTS":
                raise

    def _tag(self, version: str, tags: dict[str, str]) -> None:
        for key, value in tags.items():
            self._call(self._client.set_model_version_tag, self.name, str(version), str(key), str(value))

    def _get(self, version: str) -> Any:
        from mlflow.exceptions import MlflowException

        try:
            return self._call(self._client.get_model_version, self.name, str(version))
        except MlflowException as exc:
            if is_missing(exc):
                raise RegistryError(f"model {self.name!r} has no version {version!r}") from None
            raise

    # --- Registry ------------------------------------------------------------------------------
    def register(self, model_dir: str | Path, tags: dict[str, str]) -> ModelVersion:
        model_dir = Path(model_dir)
        if not (model_dir / "MLmodel").is_file():
            raise RegistryError(f"{model_dir}: not an MLflow model folder (no MLmodel file)")
        with self._lock():
            experiment_id = self._experiment_id()
            self._ensure_model()
        run = self._call(
            self._client.create_run,
            experiment_id,
            run_name=f"register-{self.name}",
            tags={"ctloop.model": self.name},
        )
        self._client.log_artifacts(run.info.run_id, str(model_dir), "model")
        self._call(self._client.set_terminated, run.info.run_id)
        all_tags = {TAG_STATUS: STATUS_REGISTERED, **{str(k): str(v) for k, v in tags.items()}}
        with self._lock():
            mv = self._call(
                self._client.create_model_version,
                self.name,
                source=self._source(run),
                run_id=run.info.run_id,
                tags=all_tags,
            )
        return self._convert(mv, self._pointers())

    def get(self, version: str) -> ModelVersion:
        return self._convert(self._get(version), self._pointers())

    def champion(self) -> ModelVersion | None:
        current = self._pointers().get(CHAMPION_ALIAS)
        return self.get(current) if current is not None else None

    def serving(self) -> ModelVersion | None:
        current = self._pointers().get(SERVING_ALIAS)
        return self.get(current) if current is not None else None

    def set_champion(self, version: str, expected: str | None) -> bool:
        version = str(version)
        expected = None if expected is None else str(expected)
        with self._lock():
            self._get(version)  # must exist
            current = self._pointers().get(CHAMPION_ALIAS)
            if current != expected:
                return False
            if current == version:
                return True
            if not self._write_pointer(CHAMPION_ALIAS, version):
                return False
            self._tag(version, {TAG_STATUS: STATUS_PROMOTED, TAG_PROMOTED_AT: now_iso()})
            if current is not None:
                self._tag(current, {TAG_SUPERSEDED_BY: version})
            return True

    def list_versions(self) -> list[ModelVersion]:
        pointers = self._pointers()
        found = []
        token = None
        while True:
            page = self._call(self._client.search_model_versions, f"name = '{self.name}'", page_token=token)
            found.extend(page)
            token = getattr(page, "token", None)
            if not token:
                break
        return sorted((self._convert(mv, pointers) for mv in found), key=lambda v: int(v.version))

    def set_tags(self, version: str, tags: dict[str, str]) -> ModelVersion:
        with self._lock():
            self._get(version)
            self._tag(version, tags)
        return self.get(version)

    def download(self, version: str, dest: str | Path) -> Path:
        import mlflow.artifacts

        mv = self.get(version)
        dest = Path(dest)
        dest.mkdir(parents=True, exist_ok=True)
        local = self._call(
            mlflow.artifacts.download_artifacts,
            artifact_uri=mv.source,
            dst_path=str(dest),
            tracking_uri=self.uri,
        )
        return Path(local)

    # --- what serves ---------------------------------------------------------------------------
    def record_deployed(self, version: str) -> ModelVersion:
        """``version`` now serves: it becomes the serving version and the champion."""
        version = str(version)
        with self._lock():
            self._get(version)
            pointers = self._pointers()
            self._tag(version, {TAG_STATUS: STATUS_DEPLOYED, TAG_DEPLOYED_AT: now_iso()})
            self._write_pointer(SERVING_ALIAS, version)
            current = pointers.get(CHAMPION_ALIAS)
            if current != version and self._write_pointer(CHAMPION_ALIAS, version):
                self._tag(version, {TAG_PROMOTED_AT: now_iso()})
                if current is not None:
                    self._tag(current, {TAG_SUPERSEDED_BY: version})
        return self.get(version)

    def mark_rejected(self, version: str, reason: str) -> ModelVersion:
        """``version`` was rolled back or refused; a champion pointer on it returns to what serves."""
        version = str(version)
        with self._lock():
            self._get(version)
            tags = {TAG_STATUS: STATUS_REJECTED, TAG_REJECTED_REASON: reason, TAG_REJECTED_AT: now_iso()}
            self._tag(version, tags)
            pointers = self._pointers()
            serving = pointers.get(SERVING_ALIAS)
            if pointers.get(CHAMPION_ALIAS) == version and serving != version:
                self._write_pointer(CHAMPION_ALIAS, serving)
                self._tag(version, {TAG_CHAMPION_RESTORED: serving or "none"})
        return self.get(version)
