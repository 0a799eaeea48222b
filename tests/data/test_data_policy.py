"""policies/data.yml: the shipped file is valid; bad ones are rejected naming file, field, reason."""

from __future__ import annotations

from typing import Any

import pytest
from data_helpers import POLICIES

from ctloop.contracts import load_data_policy
from ctloop.policies import PolicyError, load_policy


def test_shipped_policy_is_valid_and_consistent():
    policy = load_policy("data", POLICIES)
    assert policy == load_data_policy(POLICIES)
    # The contract's minimum covers what prep needs at the least.
    split = policy["split"]
    assert policy["contract"]["min_rows"] >= split["eval_days"] + split["min_train_rows"]


def _set(path: str, value: Any):
    def edit(data: dict[str, Any]) -> None:
        *parents, leaf = path.split(".")
        node = data
        for key in parents:
            node = node[key]
        if value is _DELETE:
            del node[leaf]
        else:
            node[leaf] = value

    return edit


_DELETE = object()

BAD = [
    ("contract.min_rows", "many", "contract.min_rows", "is not of type 'integer'"),
    (
        "contract.max_missing_fraction.default",
        1.5,
        "contract.max_missing_fraction.default",
        "greater than the maximum",
    ),
    ("ingest.duplicate_keys", "first", "ingest.duplicate_keys", "is not one of"),
    ("split.eval_days", 0, "split.eval_days", "less than the minimum"),
    ("drift.warn.numerical.psi_typo", 0.2, "drift.warn.numerical.psi_typo", "Additional properties"),
    ("drift.bins", _DELETE, "drift.bins", "required property"),
    ("contract.dtypes.rain", "number", "contract.dtypes.rain", "is not one of"),
    ("contract.label.values", [0, 1, 2], "contract.label.values", "is too long"),
]


@pytest.mark.parametrize(("path", "value", "field", "reason"), BAD, ids=[b[0] for b in BAD])
def test_schema_rejects_bad_values(policy_copy, path, value, field, reason):
    folder = policy_copy(_set(path, value))
    with pytest.raises(PolicyError) as info:
        load_policy("data", folder)
    assert info.value.file == str(folder / "data.yml")
    assert info.value.field == field
    assert reason in info.value.reason


@pytest.mark.parametrize(
    ("path", "value", "field", "reason"),
    [
        ("label", "temperature", "label", "cannot also be a feature"),
        ("time_column", "dew_point", "time_column", "cannot also be a feature"),
        ("categorical_features", ["colour"], "categorical_features", "not listed in features"),
    ],
)
def test_cross_field_rules(policy_copy, path, value, field, reason):
    folder = policy_copy(_set(path, value))
    load_policy("data", folder)  # the schema alone accepts it
    with pytest.raises(PolicyError) as info:
        load_data_policy(folder)
    assert (info.value.field, info.value.file) == (field, str(folder / "data.yml"))
    assert reason in info.value.reason


def test_unparsable_and_missing_files(policy_copy, tmp_path):
    folder = policy_copy()
    (folder / "data.yml").write_text("time_column: [unclosed\n")
    with pytest.raises(PolicyError, match="invalid YAML"):
        load_data_policy(folder)
    with pytest.raises(PolicyError, match="file not found"):
        load_data_policy(tmp_path / "nowhere")
