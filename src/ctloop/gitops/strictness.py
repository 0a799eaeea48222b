"""Which direction of change makes a reviewed threshold stricter: the one table ``ctloop review`` reads.

Each row is (file glob, dotted key glob, direction). Keys are dotted paths into the YAML with
list indices as numbers (``canary.steps.0.bake_s``); ``*`` matches any part. A change in the
loose direction of a gate is flagged loudly in the review comment. Keys that match no row are
reported as changed without a verdict. A test checks that every row still matches a real key.
"""

from __future__ import annotations

from fnmatch import fnmatchcase
from typing import Any

HIGHER = "higher"  # a larger number is stricter (a floor, a minimum count, a confidence)
LOWER = "lower"  # a smaller number is stricter (a budget, a limit, a drift threshold)
ALLOW_LIST = "allow-list"  # more items is looser (allowed regions, advisory policies)
REQUIRE_LIST = "require-list"  # fewer items is looser (required tags)

STRICTER: tuple[tuple[str, str, str], ...] = (
    # promotion gate
    ("policies/promotion.yml", "floor", HIGHER),
    ("policies/promotion.yml", "min_improvement", HIGHER),
    ("policies/promotion.yml", "min_eval_rows", HIGHER),
    ("policies/promotion.yml", "bootstrap.confidence", HIGHER),
    ("policies/promotion.yml", "bootstrap.resamples", HIGHER),
    # rollout health gates and budgets
    ("policies/rollout.yml", "health.max_error_rate", LOWER),
    ("policies/rollout.yml", "health.max_p99_latency_ms", LOWER),
    ("policies/rollout.yml", "health.max_primary_metric_drop", LOWER),
    ("policies/rollout.yml", "health.min_requests", HIGHER),
    ("policies/rollout.yml", "health.min_labelled_rows", HIGHER),
    ("policies/rollout.yml", "smoke.max_latency_ms", LOWER),
    ("policies/rollout.yml", "smoke.rows", HIGHER),
    ("policies/rollout.yml", "canary.steps.*.bake_s", HIGHER),
    ("policies/rollout.yml", "mirror.bake_s", HIGHER),
    ("policies/rollout.yml", "serving.max_rows", LOWER),
    ("policies/rollout.yml", "serving.max_payload_bytes", LOWER),
    # data contract and drift
    ("policies/data.yml", "contract.min_rows", HIGHER),
    ("policies/data.yml", "contract.max_missing_fraction.*", LOWER),
    ("policies/data.yml", "contract.value_ranges.max_out_of_range_fraction", LOWER),
    ("policies/data.yml", "contract.label.min_class_fraction", HIGHER),
    ("policies/data.yml", "split.min_train_rows", HIGHER),
    ("policies/data.yml", "split.min_eval_rows", HIGHER),
    ("policies/data.yml", "drift.warn.*", LOWER),
    ("policies/data.yml", "drift.fail.*", LOWER),
    # retraining triggers: a disabled trigger or a higher threshold reacts later to decay
    ("policies/retraining.yml", "triggers.*.enabled", HIGHER),
    ("policies/retraining.yml", "triggers.performance_drop.max_drop", LOWER),
    ("policies/retraining.yml", "triggers.champion_age.max_age_days", LOWER),
    ("policies/retraining.yml", "triggers.drift.threshold", LOWER),
    ("policies/retraining.yml", "monitor.drift.feature_threshold", LOWER),
    ("policies/retraining.yml", "monitor.performance.min_labelled_rows", HIGHER),
    ("policies/retraining.yml", "guards.min_new_labelled_rows", HIGHER),
    # offline spec checks
    ("policies/gitops.yml", "secrets.min_length", LOWER),
    ("policies/gitops.yml", "secrets.min_entropy_bits", LOWER),
    # infrastructure guardrails (policy pack)
    ("policies/infra/guardrails.yml", "allowed_locations", ALLOW_LIST),
    ("policies/infra/guardrails.yml", "allowed_vm_sizes.*", ALLOW_LIST),
    ("policies/infra/guardrails.yml", "compute.max_nodes.*", LOWER),
    ("policies/infra/guardrails.yml", "compute.idle_seconds.max", LOWER),
    ("policies/infra/guardrails.yml", "required_tags", REQUIRE_LIST),
    ("policies/infra/guardrails.yml", "enforcement.*.advisory", ALLOW_LIST),
    # stack config (Pulumi.<stack>.yaml)
    ("Pulumi.*.yaml", "config.ctloop:alerts.p99_latency_ms", LOWER),
    ("Pulumi.*.yaml", "config.ctloop:alerts.error_rate_percent", LOWER),
    ("Pulumi.*.yaml", "config.ctloop:budget.amount", LOWER),
    ("Pulumi.*.yaml", "config.ctloop:*_cluster.max_nodes", LOWER),
    ("Pulumi.*.yaml", "config.ctloop:log_retention_days", HIGHER),
    ("Pulumi.*.yaml", "config.ctloop:key_vault.purge_protection", HIGHER),
    ("Pulumi.*.yaml", "config.ctloop:key_vault.soft_delete_retention_days", HIGHER),
)

#: Whole-list keys (compared as sets, not item by item).
LIST_DIRECTIONS = (ALLOW_LIST, REQUIRE_LIST)


def direction(file: str, key: str) -> str | None:
    """The stricter direction for ``key`` in ``file``, or None when the table has no row for it."""
    for file_glob, key_glob, how in STRICTER:
        if fnmatchcase(file, file_glob) and fnmatchcase(key, key_glob):
            return how
    return None


def list_keys(file: str) -> list[str]:
    """Key globs in ``file`` whose lists are compared as a whole."""
    return [k for f, k, how in STRICTER if how in LIST_DIRECTIONS and fnmatchcase(file, f)]


def verdict(how: str | None, old: Any, new: Any) -> str | None:
    """``stricter``, ``looser`` or None (no rule, or not comparable)."""
    if how in (HIGHER, LOWER):
        if not _number(old) or not _number(new) or old == new:
            return None
        raised = float(new) > float(old)
        return "stricter" if raised == (how == HIGHER) else "looser"
    if how in LIST_DIRECTIONS and isinstance(old, list) and isinstance(new, list):
        added = {repr(x) for x in new} - {repr(x) for x in old}
        removed = {repr(x) for x in old} - {repr(x) for x in new}
        if not added and not removed:
            return None
        grows_loose = how == ALLOW_LIST
        if added and not removed:
            return "looser" if grows_loose else "stricter"
        if removed and not added:
            return "stricter" if grows_loose else "looser"
        return "looser" if (added if grows_loose else removed) else "stricter"
    return None


def _number(value: Any) -> bool:
    return isinstance(value, int | float)
