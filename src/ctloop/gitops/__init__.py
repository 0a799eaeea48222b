"""GitOps checks for the repository's specs: offline validation, version discipline and PR review.

Nothing here talks to Azure; ``ctloop.azure`` does, and is imported lazily by the commands.
"""
