"""Test-only entry script: the production ``ctloop.serving.score`` plus a fault from the model folder.

A model folder holding ``ctloop-test-fault.json`` misbehaves once it has answered ``after``
requests: ``raise`` (the model raises: the production path answers 500), ``slow`` (the model
sleeps ``seconds`` per call) or ``malformed`` (a 200 whose body is not a valid prediction).
Without that file it is exactly the production script. Never used outside tests.
"""

from __future__ import annotations

import json
import os
import time
from typing import Any

from azureml_inference_server_http.api.aml_request import rawhttp
from azureml_inference_server_http.api.aml_response import AMLResponse

from ctloop.serving import score
from ctloop.serving.model import find_model_dir

FAULT_FILE = "ctloop-test-fault.json"
_fault: dict[str, Any] = {}
_calls = 0


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
    return bool(_fault) and _calls > int(_fault.get("after", 0))


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
    return score.run(request)
