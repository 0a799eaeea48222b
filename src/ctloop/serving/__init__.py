"""Online scoring: the azmlinfsrv entry script, request validation and prediction logging.

Runs inside the serving environment (``environments/serve.yml``); imports only data libraries,
``ctloop.policies`` and (when it exists) ``ctloop.modeling``.
"""
