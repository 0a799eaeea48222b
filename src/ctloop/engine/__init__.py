"""The local engine: run Azure ML pipeline job YAMLs of command components on this machine.

``ctloop.engine.spec`` loads and checks the specs; ``ctloop.engine.runner`` plans the graph, reuses
cached steps, runs the others as subprocesses and records the run under ``.ctloop/runs/``.
"""
