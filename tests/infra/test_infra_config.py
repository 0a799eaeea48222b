"""Stack config: the three real stacks load into typed objects; a bad value stops with file, key and range."""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from ctloop.policies import PolicyError
from infra.config import StackConfig, StackConfigError, load_guardrails, load_stack_config

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def dev_document() -> dict[str, Any]:
    return yaml.safe_load((ROOT / "Pulumi.dev.yaml").read_text())


def load_mutated(
    tmp_path: Path, document: dict[str, Any], mutate: Callable[[dict[str, Any]], None]
) -> StackConfig:
    """Write a copy of the dev stack file with one change as Pulumi.bad.yaml and load it."""
    doc = copy.deepcopy(document)
    mutate(doc["config"])
    (tmp_path / "Pulumi.bad.yaml").write_text(yaml.safe_dump(doc))
    return load_stack_config("bad", tmp_path)


def test_the_three_stacks_load_with_what_differs_per_environment():
    dev, staging, prod = (load_stack_config(s, ROOT) for s in ("dev", "staging", "prod"))
    assert [c.environment for c in (dev, staging, prod)] == ["dev", "staging", "prod"]
    assert dev.gpu_cluster.priority == "LowPriority"
    assert prod.gpu_cluster.priority == "Dedicated" and staging.gpu_cluster.priority == "Dedicated"
    assert dev.gpu_cluster.max_nodes < staging.gpu_cluster.max_nodes < prod.gpu_cluster.max_nodes == 8
    assert (dev.public_network_access, prod.public_network_access) == ("Enabled", "Disabled")
    assert (dev.network.mode, staging.network.mode, prod.network.mode) == ("public", "public", "private")
    assert prod.key_vault.purge_protection and not dev.key_vault.purge_protection
    assert dev.log_retention_days < prod.log_retention_days
    assert dev.budget.amount < staging.budget.amount < prod.budget.amount
    for cfg in (dev, staging, prod):
        assert cfg.compute_names == {"gpu": "gpu-cluster", "cpu": "cpu-cluster"}
        assert all(c.min_nodes == 0 for c in cfg.clusters)
        assert {"env", "owner", "cost-center"} <= set(cfg.tags)
        assert cfg.tags["env"] == cfg.environment
        assert cfg.gpu_cluster.idle_time == f"PT{cfg.gpu_cluster.idle_seconds}S"


def test_max_nodes_respect_the_guardrail_ceiling_in_every_stack():
    ceiling = load_guardrails()["compute"]["max_nodes"]
    for stack in ("dev", "staging", "prod"):
        cfg = load_stack_config(stack, ROOT)
        assert cfg.gpu_cluster.max_nodes <= ceiling["gpu"]
        assert cfg.cpu_cluster.max_nodes <= ceiling["cpu"]


def set_path(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    """A mutation setting ``ctloop:a.b`` (value None deletes the key)."""

    def mutate(config: dict[str, Any]) -> None:
        top, *rest = path.split(".")
        target = config
        key = f"ctloop:{top}"
        for part in rest:
            target = target[key]
            key = part
        if value is None:
            del target[key]
        else:
            target[key] = value

    return mutate


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        ("gpu_cluster.max_nodes", 12, "ctloop:gpu_cluster.max_nodes: 12 is outside the allowed range 1..8"),
        (
            "gpu_cluster.min_nodes",
            1,
            "ctloop:gpu_cluster.min_nodes: 1 is outside the allowed range 0..0 (clusters must scale to zero",
        ),
        ("cpu_cluster.min_nodes", 2, "ctloop:cpu_cluster.min_nodes: 2 is outside the allowed range 0..0"),
        (
            "gpu_cluster.vm_size",
            "Standard_NC6_Promo",
            "ctloop:gpu_cluster.vm_size: 'Standard_NC6_Promo' is not an",
        ),
        (
            "cpu_cluster.vm_size",
            "Standard_NC4as_T4_v3",
            "ctloop:cpu_cluster.vm_size: 'Standard_NC4as_T4_v3' is not",
        ),
        (
            "gpu_cluster.name",
            "gpu-cluster-large",
            "ctloop:gpu_cluster.name: Azure ML compute name 'gpu-cluster-large' is 17 characters; "
            "allowed 2..16",
        ),
        (
            "prefix",
            "ctloopteams",
            "ctloop:prefix: 'ctloopteams' makes a name Azure rejects: Key Vault name 'kv-ctloopteams-dev-",
        ),
        (
            "gpu_cluster.idle_seconds",
            7200,
            "ctloop:gpu_cluster.idle_seconds: 7200 is outside the allowed range 120..1800",
        ),
        ("log_retention_days", 7, "ctloop:log_retention_days: 7 is outside the allowed range 30..730"),
        (
            "key_vault.soft_delete_retention_days",
            120,
            "ctloop:key_vault.soft_delete_retention_days: 120 is outside the allowed range 7..90",
        ),
        (
            "alerts.error_rate_percent",
            150,
            "ctloop:alerts.error_rate_percent: 150 is outside the allowed range 0.01..100",
        ),
        ("location", "brazilsouth", "ctloop:location: 'brazilsouth' is not one of ["),
        (
            "gpu_cluster.priority",
            "Spot",
            "ctloop:gpu_cluster.priority: 'Spot' is not one of ['Dedicated', 'LowPriority']",
        ),
        ("gpu_cluster.max_nodes", "eight", "ctloop:gpu_cluster.max_nodes: 'eight' is not of type 'integer'"),
        ("owner", None, "ctloop:owner: required key is missing"),
        ("gpu_clustr", {"name": "x"}, "ctloop:gpu_clustr: unknown key"),
        ("budget.start_date", "2025-01-15", "ctloop:budget.start_date: '2025-01-15' does not match"),
        ("alerts.emails", [], "ctloop:alerts.emails: has 0 items; allowed 1.."),
        (
            "cpu_cluster.name",
            "gpu-cluster",
            "ctloop:cpu_cluster.name: must differ from ctloop:gpu_cluster.name",
        ),
        (
            "endpoint.name",
            "9-lives",
            "ctloop:endpoint.name: online endpoint name '9-lives' breaks its character",
        ),
        ("endpoint.name", "e" * 33, "ctloop:endpoint.name: online endpoint name '" + "e" * 33 + "' is 33"),
    ],
)
def test_a_bad_value_stops_with_file_key_and_reason(tmp_path, dev_document, path, value, message):
    with pytest.raises(StackConfigError) as err:
        load_mutated(tmp_path, dev_document, set_path(path, value))
    assert str(err.value).startswith(f"{tmp_path / 'Pulumi.bad.yaml'}: ")
    assert message in str(err.value)
    assert err.value.field.startswith("ctloop:")


def test_a_stack_without_a_managed_network_is_rejected(tmp_path, dev_document):
    with pytest.raises(StackConfigError, match="ctloop:managed_network: must not be 'Disabled': the storage"):
        load_mutated(tmp_path, dev_document, set_path("managed_network", "Disabled"))


def test_managed_network_needs_a_premium_registry(tmp_path, dev_document):
    with pytest.raises(StackConfigError, match="ctloop:registry_sku: 'Basic' has no firewall"):
        load_mutated(tmp_path, dev_document, set_path("registry_sku", "Basic"))


def test_private_mode_needs_a_vnet_with_subnets_inside_it(tmp_path, dev_document):
    with pytest.raises(StackConfigError, match=r"ctloop:network\.vnet: required key is missing"):
        load_mutated(tmp_path, dev_document, set_path("network", {"mode": "private"}))
    vnet = {
        "address_space": "10.0.0.0/24",
        "private_endpoints_subnet": "10.0.0.0/25",
        "runner_subnet": "10.9.0.0/25",
    }
    with pytest.raises(
        StackConfigError, match=r"ctloop:network\.vnet\.runner_subnet: 10\.9\.0\.0/25 is not inside"
    ):
        load_mutated(tmp_path, dev_document, set_path("network", {"mode": "private", "vnet": vnet}))
    vnet["runner_subnet"] = "10.0.0.64/26"
    with pytest.raises(StackConfigError, match="runner_subnet: overlaps private_endpoints_subnet"):
        load_mutated(tmp_path, dev_document, set_path("network", {"mode": "private", "vnet": vnet}))


def test_network_mode_defaults_to_private_in_prod_and_public_elsewhere(tmp_path, dev_document):
    def drop(config: dict[str, Any]) -> None:
        del config["ctloop:network"]

    assert load_mutated(tmp_path, dev_document, drop).network.mode == "public"

    def prod_without_network(config: dict[str, Any]) -> None:
        del config["ctloop:network"]
        config["ctloop:environment"] = "prod"

    # prod falls back to private, which then asks for the VNet it needs
    with pytest.raises(StackConfigError, match=r"ctloop:network\.vnet: required key is missing"):
        load_mutated(tmp_path, dev_document, prod_without_network)


def test_a_bad_ip_range_is_rejected_with_its_key(tmp_path, dev_document):
    bad = {"mode": "public", "allowed_ip_ranges": [{"name": "office", "cidr": "10.0.0.0/99"}]}
    with pytest.raises(
        StackConfigError, match=r"ctloop:network\.allowed_ip_ranges\[0\]\.cidr: .*does not match"
    ):
        load_mutated(tmp_path, dev_document, set_path("network", bad))


def test_alert_frequency_may_not_exceed_the_window(tmp_path, dev_document):
    def mutate(config: dict[str, Any]) -> None:
        config["ctloop:alerts"]["window_minutes"] = 5
        config["ctloop:alerts"]["frequency_minutes"] = 15

    with pytest.raises(StackConfigError, match=r"ctloop:alerts\.frequency_minutes: 15 must not exceed"):
        load_mutated(tmp_path, dev_document, mutate)


def test_duplicate_budget_notifications_are_rejected(tmp_path, dev_document):
    def mutate(config: dict[str, Any]) -> None:
        config["ctloop:budget"]["notifications"].append({"percent": 80, "type": "Actual"})

    with pytest.raises(
        StackConfigError, match=r"ctloop:budget.notifications\[3\]: duplicates notifications\[0\]"
    ):
        load_mutated(tmp_path, dev_document, mutate)


def test_missing_stack_file_and_missing_config_section_are_clear(tmp_path):
    with pytest.raises(PolicyError, match="file not found"):
        load_stack_config("nope", tmp_path)
    (tmp_path / "Pulumi.empty.yaml").write_text("encryptionsalt: abc\n")
    with pytest.raises(StackConfigError, match="config: the file must hold a `config:` mapping"):
        load_stack_config("empty", tmp_path)


def test_keys_of_other_namespaces_are_ignored(tmp_path, dev_document):
    cfg = load_mutated(tmp_path, dev_document, lambda c: c.update({"azure-native:location": "westeurope"}))
    assert cfg.location == "swedencentral"
    assert cfg.stack == "bad"


def test_scalars_in_string_keys_are_read_as_pulumi_passes_them(tmp_path, dev_document):
    cfg = load_mutated(tmp_path, dev_document, set_path("cost_center", 4711))
    assert cfg.cost_center == "4711"
    assert cfg.tags["cost-center"] == "4711"
