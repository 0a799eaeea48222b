"""The local registry: MLflow's model registry on SQLite, the champion pointer an MLflow alias.

Files live under the directory of the SQLite database (``.ctloop/registry/`` by default):
``mlflow.db``, ``artifacts/`` (each version's model folder, copied there at registration, via
an experiment created with an explicit ``artifact_location``) and ``registry.lock``.

Every write (new version, tags, champion pointer) runs under an exclusive ``fcntl`` lock on
``registry.lock``, so the read-compare-write of :meth:`LocalRegistry.set_champion` is atomic
across processes, and SQLite's "database is locked" (from writers that do not take the lock,
such as MLflow tracking) is retried with backoff.
"""

from __future__ import annotations

import contextlib
import random
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import unquote

from ctloop import paths
from ctloop.fileio import exclusive_lock
from ctloop.registry.base import (
    CHAMPION_ALIAS,
    STATUS_PROMOTED,
    STATUS_REGISTERED,
    TAG_PROMOTED_AT,
    TAG_STATUS,
    TAG_SUPERSEDED_BY,
    ModelVersion,
    Registry,
    RegistryError,
    check_model_name,
    now_iso,
)
from ctloop.registry.mlflow_common import (
    REGISTRY_EXPERIMENT,
    error_code,
    is_missing,
    mlflow_client,
    to_model_version,
)

T = TypeVar("T")

LOCK_FILE = "registry.lock"
ARTIFACTS_DIR = "artifacts"

# Operational limits (not decision thresholds): how long to wait for the lock / a busy database.
_LOCK_TIMEOUT_S = 300.0
_BUSY_RETRIES = 12
_BUSY_FIRST_DELAY_S = 0.05
_BUSY_MAX_DELAY_S = 2.0


def _is_busy(exc: BaseException) -> bool:
    seen: BaseException | None = exc
    while seen is not None:
        if "database is locked" in str(seen) or "database is busy" in str(seen):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def retry_busy(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Call ``fn``; retry with jittered exponential backoff while SQLite reports it is locked."""
    delay = _BUSY_FIRST_DELAY_S
    for attempt in range(_BUSY_RETRIES):
        try:
            return fn(*args, **kwargs)
        except Exception as exc:
            if not _is_busy(exc) or attempt == _BUSY_RETRIES - 1:
                raise
            time.sleep(delay * (1 + random.random()))
            delay = min(delay * 2, _BUSY_MAX_DELAY_S)
    raise AssertionError("unreachable")


def sqlite_path(uri: str) -> Path | None:
    """The database file of a ``sqlite:///relative`` or ``sqlite:////absolute`` URI, else None."""
    prefix = "sqlite:///"
    if not uri.startswith(prefix):
        return None
    rest = unquote(uri[len(prefix) :].split("?", 1)[0])
    if not rest or rest == ":memory:":
        return None
    return Path(rest).absolute()


def state_dir_for(uri: str) -> Path:
    """Where the lock and artifacts live: beside the SQLite file, else ``.ctloop/registry``."""
    db = sqlite_path(uri)
    return db.parent if db is not None else paths.registry_dir()


def file_lock(path: Path, timeout_s: float = _LOCK_TIMEOUT_S) -> contextlib.AbstractContextManager[None]:
    """Hold an exclusive ``fcntl.flock`` on ``path`` (created if missing)."""
    return exclusive_lock(path, timeout_s, RegistryError, lambda: 0.02 + random.random() * 0.03)


class LocalRegistry(Registry):
    """MLflow model registry on a SQLite tracking URI (``ctloop.paths.tracking_uri()`` by default)."""

    def __init__(self, name: str, tracking_uri: str | None = None) -> None:
        self.name = check_model_name(name)
        self.uri = tracking_uri or paths.tracking_uri()
        self.root = state_dir_for(self.uri)
        self.lock_path = self.root / LOCK_FILE
        self.artifact_root = self.root / ARTIFACTS_DIR
        self._client = mlflow_client(self.uri)
        # The first use creates and migrates the database: do it once, under the lock.
        with file_lock(self.lock_path):
            retry_busy(self._client.search_registered_models, max_results=1)

    # --- helpers -------------------------------------------------------------------------
    @classmethod
    def model_names(cls, tracking_uri: str | None = None) -> list[str]:
        """Names of every registered model ([] when the database does not exist yet)."""
        uri = tracking_uri or paths.tracking_uri()
        db = sqlite_path(uri)
        if db is not None and not db.is_file():
            return []
        client = mlflow_client(uri)
        names: list[str] = []
        token = None
        while True:
            page = retry_busy(client.search_registered_models, max_results=100, page_token=token)
            names.extend(m.name for m in page)
            token = page.token
            if not token:
                return sorted(names)

    def _aliases(self) -> dict[str, str]:
        from mlflow.exceptions import MlflowException

        try:
            model = retry_busy(self._client.get_registered_model, self.name)
        except MlflowException as exc:
            if error_code(exc) == "RESOURCE_DOES_NOT_EXIST":
                return {}
            raise
        return {alias: str(version) for alias, version in (model.aliases or {}).items()}

    def _convert(self, mv: Any, aliases: dict[str, str]) -> ModelVersion:
        version = str(mv.version)
        return to_model_version(self.name, mv, tuple(sorted(a for a, v in aliases.items() if v == version)))

    def _experiment_id(self) -> str:
        from mlflow.exceptions import MlflowException

        found = retry_busy(self._client.get_experiment_by_name, REGISTRY_EXPERIMENT)
        if found is not None:
            return found.experiment_id
        self.artifact_root.mkdir(parents=True, exist_ok=True)
        try:
            return retry_busy(
                self._client.create_experiment,
                REGISTRY_EXPERIMENT,
                artifact_location=self.artifact_root.as_uri(),
            )
        except MlflowException as exc:
            if error_code(exc) != "RESOURCE_ALREADY_EXISTS":
                raise
            return retry_busy(self._client.get_experiment_by_name, REGISTRY_EXPERIMENT).experiment_id

    def _ensure_model(self) -> None:
        from mlflow.exceptions import MlflowException

        try:
            retry_busy(self._client.create_registered_model, self.name)
        except MlflowException as exc:
            if error_code(exc) != "RESOURCE_ALREADY_EXISTS":
                raise

    # --- Registry ------------------------------------------------------------------------
    def register(self, model_dir: str | Path, tags: dict[str, str]) -> ModelVersion:
        model_dir = Path(model_dir)
        if not (model_dir / "MLmodel").is_file():
            raise RegistryError(f"{model_dir}: not an MLflow model folder (no MLmodel file)")
        with file_lock(self.lock_path):
            experiment_id = self._experiment_id()
            self._ensure_model()
        run = retry_busy(
            self._client.create_run,
            experiment_id,
            run_name=f"register-{self.name}",
            tags={"ctloop.model": self.name},
        )
        run_id = run.info.run_id
        self._client.log_artifacts(run_id, str(model_dir), "model")
        retry_busy(self._client.set_terminated, run_id)
        all_tags = {TAG_STATUS: STATUS_REGISTERED, **{str(k): str(v) for k, v in tags.items()}}
        with file_lock(self.lock_path):
            mv = retry_busy(
                self._client.create_model_version,
                self.name,
                source=f"{run.info.artifact_uri}/model",
                run_id=run_id,
                tags=all_tags,
            )
        return self._convert(mv, self._aliases())

    def get(self, version: str) -> ModelVersion:
        from mlflow.exceptions import MlflowException

        try:
            mv = retry_busy(self._client.get_model_version, self.name, str(version))
        except MlflowException as exc:
            if is_missing(exc):
                raise RegistryError(f"model {self.name!r} has no version {version!r}") from None
            raise
        return self._convert(mv, self._aliases())

    def champion(self) -> ModelVersion | None:
        current = self._aliases().get(CHAMPION_ALIAS)
        return self.get(current) if current is not None else None

    def set_champion(self, version: str, expected: str | None) -> bool:
        version = str(version)
        expected = None if expected is None else str(expected)
        with file_lock(self.lock_path):
            self.get(version)  # must exist
            current = self._aliases().get(CHAMPION_ALIAS)
            if current != expected:
                return False
            if current != version:
                retry_busy(self._client.set_registered_model_alias, self.name, CHAMPION_ALIAS, version)
                self._tag(version, {TAG_STATUS: STATUS_PROMOTED, TAG_PROMOTED_AT: now_iso()})
                if current is not None:
                    self._tag(current, {TAG_SUPERSEDED_BY: version})
            return True

    def list_versions(self) -> list[ModelVersion]:
        aliases = self._aliases()
        found = []
        token = None
        while True:
            page = retry_busy(self._client.search_model_versions, f"name = '{self.name}'", page_token=token)
            found.extend(page)
            token = page.token
            if not token:
                break
        return sorted((self._convert(mv, aliases) for mv in found), key=lambda v: int(v.version))

    def _tag(self, version: str, tags: dict[str, str]) -> None:
        for key, value in tags.items():
            retry_busy(self._client.set_model_version_tag, self.name, str(version), str(key), str(value))

    def set_tags(self, version: str, tags: dict[str, str]) -> ModelVersion:
        with file_lock(self.lock_path):
            self.get(version)
            self._tag(version, tags)
        return self.get(version)

    def download(self, version: str, dest: str | Path) -> Path:
        import mlflow.artifacts

        mv = self.get(version)
        dest = Path(dest)
        dest.mkdir(parents=True, exist_ok=True)
        local = retry_busy(
            mlflow.artifacts.download_artifacts,
            artifact_uri=mv.source,
            dst_path=str(dest),
            tracking_uri=self.uri,
        )
        return Path(local)
