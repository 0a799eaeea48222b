"""Start azureml-inference-server-http bound to a chosen address: ``python -m ctloop.serving.launch``.

azmlinfsrv 1.5.1 always binds 0.0.0.0; a local deployment has no authentication, so it listens
on ``$CTLOOP_BIND_HOST`` (the rollout policy's ``deployment.bind_host``, 127.0.0.1 by default)
instead. Every other argument is azmlinfsrv's own (``--entry_script``, ``--port``, ``--worker_count`` ...).

gunicorn renames its processes with ``setproctitle`` when it is installed, which overwrites the
memory behind ``/proc/<pid>/cmdline`` and ``/proc/<pid>/environ``; the local endpoint identifies
its processes by a token in that environment, so the renaming is switched off here.
"""

from __future__ import annotations

import os

BIND_HOST_ENV = "CTLOOP_BIND_HOST"
DEFAULT_BIND_HOST = "127.0.0.1"


def main() -> None:
    import sys

    sys.modules["setproctitle"] = None  # type: ignore[assignment]  # gunicorn then keeps the title
    from azureml_inference_server_http import amlserver

    amlserver.DEFAULT_HOST = os.environ.get(BIND_HOST_ENV) or DEFAULT_BIND_HOST
    amlserver.run()


if __name__ == "__main__":
    main()
