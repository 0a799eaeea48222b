"""Blue/green rollouts against a real local endpoint (azmlinfsrv processes behind the router, real HTTP).

One endpoint serves the whole module; each test starts from whatever slot is live. A client
(``Watcher``) sends requests through the router during each rollout to see what users would see.
Bad challengers are real model folders whose scoring misbehaves (tests/rollout/faulty_score.py).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from rollout_helpers import MemoryRegistry, Watcher, one_row_body
from serving_helpers import FAST_ROLLOUT, FAULTY_SCRIPT, faulty_copy, write_endpoints, write_policies

from ctloop import cli
from ctloop.datasets import RAINFALL_FEATURES
from ctloop.rollout.controller import Controller, RolloutRequest
from ctloop.rollout.endpoint import DeploymentSpec
from ctloop.rollout.jsonfile import read_json
from ctloop.rollout.local import LocalEndpoint
from ctloop.rollout.policy import RolloutPolicy, load_rollout_policy
from ctloop.rollout.registry_adapter import RolloutRegistry
from ctloop.rollout.traffic import ScoringClient, load_labelled

MODEL = "rainfall-classifier"


@dataclass
class Bed:
    root: Path
    home: Path
    policies: Path
    endpoints: Path
    policy: RolloutPolicy
    endpoint: LocalEndpoint
    registry: MemoryRegistry
    eval: Path
    rows: Any
    first: dict[str, Any]
    messages: list[str]

    def controller(self, policy: RolloutPolicy | None = None) -> Controller:
        return Controller(
            self.endpoint,
            policy or self.policy,
            lambda name: RolloutRegistry(name, self.registry),
            self.home,
            self.policies,
            say=self.messages.append,
        )

    def version(self, version: str, folder: Path) -> RolloutRequest:
        self.registry.add(version, folder)
        return RolloutRequest(MODEL, version, self.eval, model_dir=folder)

    def live(self) -> str:
        live = self.endpoint.live_deployment()
        assert live is not None
        return live

    def serving(self) -> dict[str, int]:
        return {k: v for k, v in self.endpoint.traffic().items() if v}


@pytest.fixture(scope="module")
def bed(no_leaks: Path, built: dict[str, Any]) -> Iterator[Bed]:
    root = no_leaks
    mp = pytest.MonkeyPatch()
    mp.setenv("CTLOOP_HOME", str(root / "home"))
    policies = write_policies(root / "policies", **FAST_ROLLOUT)
    policy = load_rollout_policy(policies)
    endpoints = write_endpoints(root / "endpoints", FAULTY_SCRIPT)
    endpoint = LocalEndpoint(policy, endpoints)
    bed = Bed(
        root,
        root / "home" / "endpoint",
        policies,
        endpoints,
        policy,
        endpoint,
        MemoryRegistry(),
        built["eval"],
        built["rows"],
        {},
        [],
    )
    try:
        bed.first = bed.controller().start(bed.version("1", built["models"]["v1"]))
        yield bed
    finally:
        endpoint.down()
        mp.undo()


def test_first_deployment_is_smoke_tested_then_takes_all_traffic(bed: Bed) -> None:
    state = bed.first
    assert state["stage"] == "promoted" and state["old"] is None and state["new"] == "blue"
    assert [h["stage"] for h in state["history"]] == ["deploying", "smoke", "promoting", "promoted"]
    assert state["checks"][0]["stage"] == "smoke" and state["checks"][0]["ok"]
    assert bed.registry.status("1") == "deployed"
    assert bed.registry.versions["1"].tags["ctloop.deployment"] == "blue"
    state_file = read_json(bed.home / "state.json")
    assert state_file["deployments"]["blue"]["model_version"] == "1"
    assert state_file["router"]["port"] and state_file["deployments"]["blue"]["pid"]


def test_a_good_challenger_rolls_out_to_100_percent(bed: Bed, built: dict[str, Any]) -> None:
    old = bed.live()
    old_version = bed.endpoint.deployments()[old].model_version
    mirror_policy = load_rollout_policy(
        write_policies(
            bed.root / "policies-mirror",
            **{**FAST_ROLLOUT, "mirror": {"enabled": True, "percent": 50, "bake_s": 1.5}},
        )
    )
    url = bed.endpoint.scoring_target().url
    with Watcher(url, one_row_body(bed.rows)) as watcher:
        state = bed.controller(mirror_policy).start(bed.version("2", built["models"]["v2"]))
    new = state["new"]
    assert state["stage"] == "promoted", state.get("reason")
    assert new != old and state["old"] == old
    assert [c["stage"] for c in state["checks"]] == ["smoke", "mirror", "canary:0", "canary:1"]
    mirror_check = state["checks"][1]
    assert (
        mirror_check["ok"] and mirror_check["metrics"]["mirrored"] >= FAST_ROLLOUT["health"]["min_requests"]
    )
    assert all(c["ok"] for c in state["checks"])
    assert any("drop" in c["quality"] for c in state["checks"][2:])  # the quality check ran
    assert bed.serving() == {new: 100}
    assert set(bed.endpoint.deployments()) == {new}
    assert bed.registry.status("2") == "deployed"
    assert bed.registry.versions[old_version].tags["ctloop.deployment"] == "retired"
    # users never saw an error; the new slot answered them only from the first canary step on
    assert watcher.errors() == []
    assert set(watcher.by_deployment()) == {old, new}
    assert all(s.time >= state["canary_started"] for s in watcher.seen if s.deployment == new)


def _assert_rolled_back(bed: Bed, state: dict[str, Any], old: str, version: str) -> None:
    assert state["stage"] == "rolled_back"
    assert bed.serving() == {old: 100}
    assert set(bed.endpoint.deployments()) == {old}
    assert bed.endpoint.deployments()[old].healthy
    assert bed.registry.status(version) == "rejected"
    assert bed.registry.versions[version].tags["ctloop.rejected_reason"] == state["reason"]


@pytest.mark.parametrize(
    ("version", "fault", "reason"),
    [
        ("3", {"mode": "malformed"}, "answer must hold"),
        ("4", {"mode": "slow", "seconds": 2.0}, "took"),
    ],
)
def test_smoke_test_catches_a_bad_challenger_and_users_see_nothing(
    bed: Bed, built: dict[str, Any], version: str, fault: dict[str, Any], reason: str
) -> None:
    old = bed.live()
    folder = faulty_copy(built["models"]["v2"], bed.root / f"bad-{version}", **fault)
    with Watcher(bed.endpoint.scoring_target().url, one_row_body(bed.rows)) as watcher:
        state = bed.controller().start(bed.version(version, folder))
    assert state["reason"].startswith("smoke test:") and reason in state["reason"]
    assert "canary" not in [h["stage"] for h in state["history"]]
    _assert_rolled_back(bed, state, old, version)
    assert watcher.seen and watcher.errors() == []
    assert set(watcher.by_deployment()) == {old}


def test_a_challenger_that_starts_raising_is_rolled_back_at_the_canary(
    bed: Bed, built: dict[str, Any]
) -> None:
    old = bed.live()
    # answers the smoke test (4 requests), then its model raises on every call
    folder = faulty_copy(built["models"]["v2"], bed.root / "bad-5", mode="raise", after=6)
    with Watcher(bed.endpoint.scoring_target().url, one_row_body(bed.rows)) as watcher:
        state = bed.controller().start(bed.version("5", folder))
    new = state["new"]
    assert state["reason"].startswith("canary 50%: error rate"), state["reason"]
    _assert_rolled_back(bed, state, old, "5")
    errors = watcher.errors()
    green = [s for s in watcher.seen if s.deployment == new]
    assert errors, "the canary share should have seen the failures"
    assert all(e.deployment == new for e in errors)  # only the canary share failed
    assert all(s.status == 200 for s in watcher.seen if s.deployment == old)
    rolled_back_at = datetime.fromisoformat(state["history"][-1]["time"]).timestamp()
    window = FAST_ROLLOUT["canary"]["steps"][0]["bake_s"]
    assert min(s.time for s in green) >= state["canary_started"] - 0.5
    assert max(e.time for e in errors) <= rolled_back_at + 1.5
    assert max(e.time for e in errors) - min(e.time for e in errors) <= window + 5


def _start_controller_process(bed: Bed, model: Path, version: str) -> subprocess.Popen:
    slow = write_policies(
        bed.root / f"policies-slow-{version}",
        **{
            **FAST_ROLLOUT,
            "canary": {"steps": [{"weight": 50, "bake_s": 120}, {"weight": 100, "bake_s": 120}]},
        },
    )
    cmd = [
        sys.executable,
        "-m",
        "ctloop.cli",
        "rollout",
        "start",
        "--model-name",
        MODEL,
        "--version",
        version,
        "--model-dir",
        str(model),
        "--eval",
        str(bed.eval),
        "--policies",
        str(slow),
        "--endpoints",
        str(bed.endpoints),
    ]
    with open(bed.root / f"controller-{version}.log", "wb") as log:
        return subprocess.Popen(
            cmd, stdout=log, stderr=subprocess.STDOUT, env={**os.environ}, start_new_session=True
        )


def _kill_mid_canary(bed: Bed, proc: subprocess.Popen) -> dict[str, Any]:
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        state = read_json(bed.home / "rollout.json", {}) or {}
        if state.get("stage") == "canary" and proc.poll() is None and len(bed.serving()) == 2:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)
            return state
        assert proc.poll() is None, f"the controller exited early: see {bed.root}/controller-*.log"
        time.sleep(0.1)
    proc.kill()
    raise AssertionError("the controller never reached the canary stage")


def test_a_killed_controller_is_resumed_to_a_consistent_endpoint(
    bed: Bed, built: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    old = bed.live()
    bed.registry.add("6", built["models"]["v1"])
    killed = _kill_mid_canary(bed, _start_controller_process(bed, built["models"]["v1"], "6"))
    new = killed["new"]
    assert bed.serving() == {old: 50, new: 50}  # left mid-canary by the dead controller
    assert (
        cli.main(["rollout", "status", "--policies", str(bed.policies), "--endpoints", str(bed.endpoints)])
        == 0
    )
    assert "interrupted: run 'ctloop rollout resume'" in capsys.readouterr().out
    bed.messages.clear()
    state = bed.controller().resume()
    assert state["stage"] == "promoted", state.get("reason")
    assert f"rollout {state['id']}: restored 100% to {old}" in bed.messages  # old slot first
    assert "resumed from canary step 0" in [h.get("detail") for h in state["history"]]
    assert bed.serving() == {new: 100} and set(bed.endpoint.deployments()) == {new}
    assert bed.registry.status("6") == "deployed"


def test_a_killed_controller_is_rolled_back_to_a_consistent_endpoint(bed: Bed, built: dict[str, Any]) -> None:
    old = bed.live()
    bed.registry.add("7", built["models"]["v2"])
    killed = _kill_mid_canary(bed, _start_controller_process(bed, built["models"]["v2"], "7"))
    assert len(bed.serving()) == 2
    # a second controller is refused while the rollout is unfinished
    with pytest.raises(Exception, match="unfinished"):
        bed.controller().start(bed.version("8", built["models"]["v2"]))
    state = bed.controller().rollback("operator abort")
    assert state["id"] == killed["id"] and state["reason"] == "operator abort"
    _assert_rolled_back(bed, state, old, "7")


def test_ab_split_shows_per_variant_metrics(
    bed: Bed, built: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    live = bed.live()
    other = "green" if live == "blue" else "blue"
    bed.endpoint.create_or_update_deployment(DeploymentSpec(other, MODEL, "2", built["models"]["v2"]))
    common = ["--policies", str(bed.policies), "--endpoints", str(bed.endpoints)]
    before = bed.endpoint.traffic()
    assert cli.main(["endpoint", "split", f"{live}=90", f"{other}=20", *common]) == 1  # sums to 110
    assert cli.main(["endpoint", "split", f"{live}=90", "purple=10", *common]) == 1
    assert cli.main(["endpoint", "split", f"{live}=ninety", *common]) == 2
    assert bed.endpoint.traffic() == before  # refused splits change nothing
    since = time.time()
    assert cli.main(["endpoint", "split", f"{live}=90", f"{other}=10", *common]) == 0
    data = load_labelled(bed.eval, list(RAINFALL_FEATURES))
    client = ScoringClient(bed.endpoint.scoring_target(), 30)
    answered = [client.post(body).deployment for body in data.batches(5)[:200]]
    client.close()
    assert answered.count(live) == 180 and answered.count(other) == 20
    capsys.readouterr()
    assert cli.main(["endpoint", "status", "--json", "--since", str(time.time() - since + 1), *common]) == 0
    status = json.loads(capsys.readouterr().out)
    assert status["traffic"] == {live: 90, other: 10}
    for name, count in ((live, 180), (other, 20)):
        m = status["deployments"][name]["metrics"]
        assert m["requests"] >= count and m["labelled_rows"] >= 5 * count
        assert m["p50_ms"] <= m["p95_ms"] <= m["p99_ms"]
        assert 0.5 < m["primary_metric"] <= 1.0
    assert cli.main(["endpoint", "status", *common]) == 0
    table = capsys.readouterr().out
    assert "ROC_AUC" in table and f"{other}" in table and "90%" in table
    assert cli.main(["endpoint", "down", "--deployment", other, *common]) == 1  # still takes traffic
    assert cli.main(["endpoint", "split", f"{live}=100", *common]) == 0
    assert cli.main(["endpoint", "down", "--deployment", other, *common]) == 0
    assert set(bed.endpoint.deployments()) == {live}
