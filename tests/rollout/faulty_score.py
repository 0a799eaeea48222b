"""Test-only entry script: the production ``ctloop.serving.score`` plus a fault from the model folder.

A model folder holding ``ctloop-test-fault.json`` misbehaves once it has answered ``after``
requests: ``raise`` (the model raises: the production path answers 500), ``slow`` (the model
sleeps ``seconds`` per call), ``malformed`` (a 200 whose body is not a valid prediction),
``leak`` (keeps ``kb`` KiB per call) or ``die`` (the whole server is killed with SIGKILL). With
``when_file`` the fault starts once that file exists instead (the test decides the moment).
Without that file it is exactly the production script. Never used outside tests.
"""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path
from typing import Any

from azureml_inference_server_http.api.aml_request import rawhttp
from azureml_inference_server_http.api.aml_response import AMLResponse

from ctloop.serving import score
from ctloop.serving.model import find_model_dir

FAULT_FILE = "ctloop-test-fault.json"
_fault: dict[str, Any] = {}
_calls = 0
_kept: list[bytearray] = []


class _FaultyModel:
    def __init__(self, model: Any) -> None:
        self.model = model

    def predict_proba(self, frame: Any) -> Any:
        if _active():
            if _fault["mode"] == "raise":
                raise RuntimeError("injected model fault")
            if _fault["mode"] == "slow":
                time.sleep(float(_fault["seconds"]))
        return self.model.predict_proba(frame)


def _active() -> bool:
    if not _fault:
        return False
    if _fault.get("when_file"):
        return Path(_fault["when_file"]).exists()
    return _calls > int(_fault.get("after", 0))


def init() -> None:
    score.init()
    path = find_model_dir(os.environ["AZUREML_MODEL_DIR"]) / FAULT_FILE
    if path.is_file():
        _fault.update(json.loads(path.read_text()))
        score._service.model = _FaultyModel(score._service.model)


@rawhttp
def run(request: Any) -> Any:
    global _calls
    _calls += 1
    if _active() and _fault["mode"] == "malformed":
        return AMLResponse({"predictions": "not-a-list", "model_version": "?"}, 200, json_str=True)
    if _active() and _fault["mode"] == "die":
        os.killpg(os.getpgid(0), signal.SIGKILL)  # the server and all its workers, mid-request
    if _active() and _fault["mode"] == "leak":
        block = bytearray(int(_fault["kb"]) * 1024)
        block[::4096] = b"x" * len(block[::4096])  # touch every page: resident, not just reserved
        _kept.append(block)
    return score.run(request)
