"""Local stand-ins for Azure ML datastores: ``azureml://datastores/<name>/paths/<p>`` is a folder.

Locally a datastore is ``<state>/datastores/<name>/``; an output written to a datastore URI is
copied there after the step, and an input read from one is read from there.
"""

from __future__ import annotations

import re
from pathlib import Path

from ctloop import paths

#: ``azureml://datastores/<name>/paths/<p>``, also in its long ``azureml://subscriptions/...`` form.
DATASTORE_URI = re.compile(r"^azureml://(?:.*/)?datastores/([\w-]+)/paths/(.*)$")
#: Placeholders Azure ML fills in an output path.
_PLACEHOLDERS = re.compile(r"\$\{\{\s*(name|output_name|run_id)\s*\}\}|\{(name|output_name|run_id)\}")


#: ``${{default_datastore}}`` in a path: the workspace's default blob datastore.
_DEFAULT = re.compile(r"\$\{\{\s*default_datastore\s*\}\}")
DEFAULT_DATASTORE = "workspaceblobstore"


def is_datastore_uri(text: str) -> bool:
    return DATASTORE_URI.match(_DEFAULT.sub(DEFAULT_DATASTORE, text)) is not None


def local_path(uri: str, *, run_id: str = "", output_name: str = "") -> Path:
    """The local folder or file standing for a datastore URI (placeholders filled in)."""
    uri = _DEFAULT.sub(DEFAULT_DATASTORE, uri)
    match = DATASTORE_URI.match(uri)
    if match is None:
        raise ValueError(f"{uri!r} is not an azureml://datastores/<name>/paths/<path> URI")
    values = {"name": run_id, "run_id": run_id, "output_name": output_name}
    rest = _PLACEHOLDERS.sub(lambda m: values[m.group(1) or m.group(2)], match.group(2))
    root = (paths.state_dir() / "datastores" / match.group(1)).resolve()
    target = (root / rest.strip("/")).resolve()
    if root != target and root not in target.parents:
        raise ValueError(f"{uri!r} points outside datastore {match.group(1)!r}")
    return target
