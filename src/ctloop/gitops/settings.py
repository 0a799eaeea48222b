"""The checks' own thresholds (``policies/gitops.yml``) and where this repository's files live."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ctloop.gitops.yamldoc import Context
from ctloop.policies import load_policy

#: The repository that ships this package (its policies/ and rules are the defaults).
SOURCE_ROOT = Path(__file__).resolve().parents[3]


def gitops_policy(ctx: Context) -> dict[str, Any]:
    """``policies/gitops.yml`` of the checked root, else of this repository (validated)."""

    def load() -> dict[str, Any]:
        for base in (ctx.root / "policies", SOURCE_ROOT / "policies"):
            if (base / "gitops.yml").is_file():
                return load_policy("gitops", base)
        return load_policy("gitops", ctx.root / "policies")  # raises PolicyError naming the file

    return ctx.cached("gitops-policy", load)
