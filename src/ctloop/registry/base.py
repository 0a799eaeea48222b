"""The registry interface: versions of one named model, and the ``champion`` pointer between them.

A :class:`Registry` is bound to one model name (``open_registry(name)``), so every method takes a
version, never a name. Versions are strings ("1", "2", ...). The champion pointer moves only
through :meth:`Registry.set_champion`, a compare-and-set that is atomic across processes.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

CHAMPION_ALIAS = "champion"
#: The version the endpoint serves (set when a rollout promotes). The champion pointer follows it:
#: a promoted rollout makes its version champion, a rejected one returns the champion to it.
SERVING_ALIAS = "serving"

#: Version tags ctloop writes (all values are strings).
TAG_STATUS = "ctloop.status"
TAG_PROMOTED_AT = "ctloop.promoted_at"
TAG_SUPERSEDED_BY = "ctloop.superseded_by"
TAG_DEPLOYED_AT = "ctloop.deployed_at"
TAG_REJECTED_AT = "ctloop.rejected_at"
TAG_REJECTED_REASON = "ctloop.rejected_reason"
TAG_MODEL_HASH = "ctloop.model_hash"

#: Lifecycle states held in the ``ctloop.status`` tag (the latest event wins).
STATUS_REGISTERED = "registered"  # stored, no gate outcome recorded
STATUS_PROMOTED = "promoted"  # passed the gate and became champion
STATUS_NOT_PROMOTED = "not_promoted"  # the gate said no
STATUS_MOVED = "champion_moved_concurrently"  # passed, but another run moved the champion first
STATUS_DEPLOYED = "deployed"  # serving traffic
STATUS_REJECTED = "rejected"  # rolled back or refused after deployment

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,254}$")


class RegistryError(RuntimeError):
    """A registry operation that cannot be done; the message says which model/version and why."""


def check_model_name(name: str) -> str:
    """Validate a model name (letters, digits, ``.``, ``_``, ``-``; at most 255; as Azure ML allows)."""
    if not isinstance(name, str) or not _NAME.match(name):
        raise RegistryError(
            f"model_name: {name!r} is not a valid model name "
            "(start with a letter or digit; then letters, digits, '.', '_' or '-'; at most 255)"
        )
    return name


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


@dataclass(frozen=True)
class ModelVersion:
    """One registered version."""

    name: str
    version: str
    source: str  # where its files live (URI)
    tags: dict[str, str] = field(default_factory=dict)
    aliases: tuple[str, ...] = ()
    created: str = ""  # ISO-8601, UTC
    status: str = STATUS_REGISTERED  # the ctloop.status tag

    @property
    def is_champion(self) -> bool:
        return CHAMPION_ALIAS in self.aliases

    @property
    def is_serving(self) -> bool:
        return SERVING_ALIAS in self.aliases

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["aliases"] = list(self.aliases)
        return out


class Registry(ABC):
    """Versions of the model ``name`` and its champion pointer."""

    name: str

    @classmethod
    @abstractmethod
    def model_names(cls) -> list[str]:
        """Every model name in this registry (without creating anything)."""

    @abstractmethod
    def register(self, model_dir: str | Path, tags: dict[str, str]) -> ModelVersion:
        """Store a copy of the MLflow model folder as a new version with ``tags``."""

    @abstractmethod
    def get(self, version: str) -> ModelVersion:
        """One version; RegistryError when it does not exist."""

    @abstractmethod
    def champion(self) -> ModelVersion | None:
        """The version the ``champion`` pointer names, or None."""

    @abstractmethod
    def set_champion(self, version: str, expected: str | None) -> bool:
        """Point ``champion`` at ``version`` only if it still points at ``expected`` (None: no champion).

        Atomic across processes. Returns False, changing nothing, when the pointer moved meanwhile.
        """

    @abstractmethod
    def list_versions(self) -> list[ModelVersion]:
        """Every version, oldest first."""

    @abstractmethod
    def set_tags(self, version: str, tags: dict[str, str]) -> ModelVersion:
        """Add or overwrite tags on a version."""

    @abstractmethod
    def download(self, version: str, dest: str | Path) -> Path:
        """Copy a version's model folder under ``dest``; return the folder's path."""

    def serving(self) -> ModelVersion | None:
        """The version the endpoint serves (None before any rollout promoted one)."""
        return None

    def find_model_hash(self, model_hash: str) -> ModelVersion | None:
        """The oldest version whose ``ctloop.model_hash`` tag is ``model_hash``, or None."""
        return next((v for v in self.list_versions() if v.tags.get(TAG_MODEL_HASH) == model_hash), None)

    def mark_rejected(self, version: str, reason: str) -> ModelVersion:
        """Record that a deployed version was rolled back or refused (status ``rejected``)."""
        return self.set_tags(
            version, {TAG_STATUS: STATUS_REJECTED, TAG_REJECTED_REASON: reason, TAG_REJECTED_AT: now_iso()}
        )

    def record_deployed(self, version: str) -> ModelVersion:
        """Record that a version now serves traffic (status ``deployed``)."""
        return self.set_tags(version, {TAG_STATUS: STATUS_DEPLOYED, TAG_DEPLOYED_AT: now_iso()})
