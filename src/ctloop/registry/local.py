"""The local registry: MLflow's model registry on SQLite; the champion and serving pointers are
MLflow aliases. Everything else is :class:`~ctloop.registry.mlflow_common.MlflowRegistry`.

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
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import unquote

from ctloop import paths
from ctloop.fileio import exclusive_lock
from ctloop.registry.base import RegistryError, check_model_name
from ctloop.registry.mlflow_common import MlflowRegistry, error_code, mlflow_client

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


class LocalRegistry(MlflowRegistry):
    """MLflow model registry on a SQLite tracking URI (``ctloop.paths.tracking_uri()`` by default)."""

    def __init__(self, name: str, tracking_uri: str | None = None) -> None:
        self.name = check_model_name(name)
        self.uri = tracking_uri or paths.tracking_uri()
        self.root = state_dir_for(self.uri)
        self.lock_path = self.root / LOCK_FILE
        self.artifact_root = self.root / ARTIFACTS_DIR
        self._client = mlflow_client(self.uri)
        self._held = 0
        # The first use creates and migrates the database: do it once, under the lock.
        with file_lock(self.lock_path):
            retry_busy(self._client.search_registered_models, max_results=1)

    @classmethod
    def model_names(cls, tracking_uri: str | None = None) -> list[str]:
        """Names of every registered model ([] when the database does not exist yet)."""
        uri = tracking_uri or paths.tracking_uri()
        db = sqlite_path(uri)
        if db is not None and not db.is_file():
            return []
        return cls._names(mlflow_client(uri), retry_busy)

    # --- store adapter -------------------------------------------------------------------------
    def _call(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        return retry_busy(fn, *args, **kwargs)

    @contextlib.contextmanager
    def _lock(self) -> Iterator[None]:
        """The registry's file lock (re-entrant within this object)."""
        if self._held:
            self._held += 1
            try:
                yield
            finally:
                self._held -= 1
            return
        with file_lock(self.lock_path):
            self._held = 1
            try:
                yield
            finally:
                self._held = 0

    def _pointers(self) -> dict[str, str]:
        from mlflow.exceptions import MlflowException

        try:
            model = retry_busy(self._client.get_registered_model, self.name)
        except MlflowException as exc:
            if error_code(exc) == "RESOURCE_DOES_NOT_EXIST":
                return {}
            raise
        return {alias: str(version) for alias, version in (model.aliases or {}).items()}

    def _write_pointer(self, pointer: str, version: str | None) -> bool:
        if version is None:
            retry_busy(self._client.delete_registered_model_alias, self.name, pointer)
        else:
            retry_busy(self._client.set_registered_model_alias, self.name, pointer, str(version))
        return True

    def _artifact_location(self) -> str | None:
        self.artifact_root.mkdir(parents=True, exist_ok=True)
        return self.artifact_root.as_uri()

    def _source(self, run: Any) -> str:
        return f"{run.info.artifact_uri}/model"
