"""Monitoring: endpoint logs and late labels -> window metrics in an append-only history.

``service.Monitor`` records windows; ``check`` turns the history into a trigger decision
(``ctloop.triggers``); ``commands`` adds ``ctloop monitor | check-triggers | loop | replay | report``.
"""
