"""Start azureml-inference-server-http bound to a chosen address: ``python -m ctloop.serving.launch``.

azmlinfsrv 1.5.1 always binds 0.0.0.0; a local deployment has no authentication, so it listens
on ``$CTLOOP_BIND_HOST`` (the rollout policy's ``deployment.bind_host``, 127.0.0.1 by default)
instead. Every other argument is azmlinfsrv's own (``--entry_script``, ``--port``, ``--worker_count`` ...).
"""

from __future__ import annotations

import os

BIND_HOST_ENV = "CTLOOP_BIND_HOST"
DEFAULT_BIND_HOST = "127.0.0.1"


def main() -> None:
    from azureml_inference_server_http import amlserver

    amlserver.DEFAULT_HOST = os.environ.get(BIND_HOST_ENV) or DEFAULT_BIND_HOST
    amlserver.run()


if __name__ == "__main__":
    main()
