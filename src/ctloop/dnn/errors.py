"""The one error type of the DNN trainer: names the file, the field and the reason."""

from __future__ import annotations

from pathlib import Path


class DnnError(ValueError):
    """Input the trainer cannot use (dataset, model folder, checkpoint folder or settings)."""

    def __init__(self, file: str | Path, field: str, reason: str) -> None:
        self.file = str(file)
        self.field = field
        self.reason = reason
        super().__init__(f"{self.file}: {field}: {reason}")
