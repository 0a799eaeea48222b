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
from pathlib import Path
from typing import Any

import httpx
import psutil
import pytest
from rollout_helpers import MemoryRegistry, Watcher, one_row_body
from serving_helpers import FAST_ROLLOUT, FAULTY_SCRIPT, faulty_copy, write_endpoints, write_policies

from ctloop import cli
from ctloop.datasets import RAINFALL_FEATURES
from ctloop.rollout import procs
from ctloop.rollout.controller import Controller, RolloutRequest
from ctloop.rollout.endpoint import CLIENT_HEADER, DEPLOYMENT_HEADER, LABELLED_HEADER, DeploymentSpec
from ctloop.rollout.jsonfile import read_json
from ctloop.rollout.local import LocalEndpoint
from ctloop.rollout.policy import RolloutPolicy, load_rollout_policy
from ctloop.rollout.registry_adapter import RolloutRegistry
from ctloop.rollout.router import assign, bucket
from ctloop.rollout.traffic import load_labelled

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
            **{
                **FAST_ROLLOUT,
                "mirror": {"enabled": True, "percent": 50, "bake_s": 1.5},
                # long enough for the quality check to have labelled rows even on a loaded machine
                "canary": {"steps": [{"weight": 50, "bake_s": 4}, {"weight": 100, "bake_s": 1.5}]},
                "health": {**FAST_ROLLOUT["health"], "min_labelled_rows": 50},
            },
        )
    )
    url = bed.endpoint.scoring_target().url
    row = {k: float(v) for k, v in bed.rows[list(RAINFALL_FEATURES)].iloc[0].items()}
    overflowing = json.dumps({"data": [{**row, RAINFALL_FEATURES[0]: int("9" * 400)}]}).encode()
    controller = bed.controller(mirror_policy)
    with Watcher(url, one_row_body(bed.rows)) as watcher, Watcher(url, overflowing) as bad:
        before_canary = _mark_at(controller, watcher, ": canary (")
        state = controller.start(bed.version("2", built["models"]["v2"]))
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
    assert before_canary and {s.deployment for s in watcher.seen[: before_canary[0]]} == {old}
    # a client sending numbers no float can hold gets 400s from both slots; the model is not blamed
    assert bad.seen and {s.status for s in bad.seen} == {400}
    assert {s.deployment for s in bad.seen} == {old, new}
    assert all(c["metrics"]["errors"] == 0 for c in state["checks"][1:])
    assert any(c["metrics"]["client_errors"] > 0 for c in state["checks"][1:])


def _mark_at(controller: Controller, watcher: Watcher, fragment: str) -> list[int]:
    """Filled with how many answers ``watcher`` had when the controller said ``fragment``: those
    answers were all routed before whatever the controller does next."""
    marks: list[int] = []
    say = controller.say

    def hook(message: str) -> None:
        if fragment in message and not marks:
            marks.append(len(watcher.seen))
        say(message)

    controller.say = hook
    return marks


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
    controller = bed.controller()
    with Watcher(bed.endpoint.scoring_target().url, one_row_body(bed.rows)) as watcher:
        before_canary = _mark_at(controller, watcher, ": canary (")
        rolled_back = _mark_at(controller, watcher, ": rolled_back (")
        state = controller.start(bed.version("5", folder))
    new = state["new"]
    assert state["reason"].startswith("canary 50%: error rate"), state["reason"]
    _assert_rolled_back(bed, state, old, "5")
    errors = watcher.errors()
    green = [s for s in watcher.seen if s.deployment == new]
    assert errors, "the canary share should have seen the failures"
    assert all(e.deployment == new for e in errors)  # only the canary share failed
    assert all(s.status == 200 for s in watcher.seen if s.deployment == old)
    # the new slot answered only after the canary began, and nobody failed once traffic was back
    # (the watcher sends one request at a time: at most one was in flight at the rollback)
    at = {id(s): i for i, s in enumerate(watcher.seen)}
    assert min(at[id(s)] for s in green) >= before_canary[0]
    assert max(at[id(e)] for e in errors) <= rolled_back[0]


def _start_controller_process(
    bed: Bed, model: Path, version: str, watchdog: bool = False, policies: Path | None = None
) -> subprocess.Popen:
    slow = policies or write_policies(
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
        *([] if watchdog else ["--no-watchdog"]),
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


def test_a_controller_killed_mid_deploy_is_resumed_by_its_watchdog(bed: Bed, built: dict[str, Any]) -> None:
    """No one asks: the watchdog left by 'rollout start' resumes the rollout to its end, and the
    deployment the dead controller left booting is stopped, not duplicated."""
    old = bed.live()
    policies = write_policies(
        bed.root / "policies-watchdog", **{**FAST_ROLLOUT, "deployment": {"watchdog_interval_s": 0.5}}
    )
    proc = _start_controller_process(bed, built["models"]["v2"], "9", watchdog=True, policies=policies)
    deadline = time.monotonic() + 300
    while not (read_json(bed.home / "state.json", {}) or {}).get("starting"):  # the new slot boots
        assert proc.poll() is None and time.monotonic() < deadline, (
            "the controller never started a deployment"
        )
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    assert procs.wait_until(
        lambda: (read_json(bed.home / "rollout.json", {}) or {}).get("stage") in ("promoted", "rolled_back"),
        300,
    ), "the watchdog did not finish the rollout"
    state = read_json(bed.home / "rollout.json")
    assert state["stage"] == "promoted", state.get("reason")
    assert any(h.get("detail") == "resumed" for h in state["history"])
    new = state["new"]
    assert new != old and bed.serving() == {new: 100} and set(bed.endpoint.deployments()) == {new}
    # one server per slot: the one left booting was stopped before the slot was started again
    owned = {" ".join(psutil.Process(r.pid).cmdline()) for r in procs.owned_by(bed.endpoint.owner)}
    assert sum("ctloop.serving.launch" in c and f"/{new}/" in c for c in owned) == 1


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
    # 200 clients, each named: every one sees the variant its id hashes to, so the split is exact
    # for this set of ids and matches the weights in expectation
    users = [f"user-{i}" for i in range(200)]
    expected = [assign({live: 90, other: 10}, bucket(u)) for u in users]
    url = bed.endpoint.scoring_target().url
    with httpx.Client(
        timeout=30, headers={"content-type": "application/json", LABELLED_HEADER: "1"}
    ) as client:
        answered = [
            client.post(url, content=body, headers={CLIENT_HEADER: user}).headers[DEPLOYMENT_HEADER]
            for user, body in zip(users, data.batches(5)[:200], strict=True)
        ]
    assert answered == expected and 10 <= answered.count(other) <= 30
    capsys.readouterr()
    assert cli.main(["endpoint", "status", "--json", "--since", str(time.time() - since + 1), *common]) == 0
    status = json.loads(capsys.readouterr().out)
    assert status["traffic"] == {live: 90, other: 10}
    for name, count in ((live, answered.count(live)), (other, answered.count(other))):
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


def _long_bake(bed: Bed, name: str, **overrides: Any) -> RolloutPolicy:
    """FAST_ROLLOUT with a 60 s bake where the fault strikes: a rollback before the bake ends can
    only come from the health sampled during it."""
    return load_rollout_policy(write_policies(bed.root / f"policies-{name}", **{**FAST_ROLLOUT, **overrides}))


@pytest.mark.parametrize(
    ("stage", "trigger", "overrides"),
    [
        (
            "mirror",
            ": mirror (",
            {"mirror": {"enabled": True, "percent": 50, "bake_s": 60}},
        ),
        (
            "canary 50%",
            ": canary step 1/2",
            {"canary": {"steps": [{"weight": 50, "bake_s": 60}, {"weight": 100, "bake_s": 60}]}},
        ),
        (
            "canary 100%",
            ": canary step 2/2",
            {"canary": {"steps": [{"weight": 50, "bake_s": 1.5}, {"weight": 100, "bake_s": 60}]}},
        ),
    ],
)
def test_a_challenger_that_dies_mid_bake_is_rolled_back_at_once(
    bed: Bed, built: dict[str, Any], stage: str, trigger: str, overrides: dict[str, Any]
) -> None:
    old = bed.live()
    version = {"mirror": "11", "canary 50%": "12", "canary 100%": "13"}[stage]
    kill_file = bed.root / f"kill-{version}"
    folder = faulty_copy(
        built["models"]["v2"], bed.root / f"dies-{version}", mode="die", when_file=str(kill_file)
    )
    controller = bed.controller(_long_bake(bed, f"dies-{version}", **overrides))

    def say(message: str) -> None:
        bed.messages.append(message)
        if trigger in message:
            kill_file.touch()  # from now on its next request kills the whole server

    controller.say = say
    with Watcher(bed.endpoint.scoring_target().url, one_row_body(bed.rows)) as watcher:
        state = controller.start(bed.version(version, folder))
    assert kill_file.exists()
    prefix = "mirror" if stage == "mirror" else stage
    assert state["reason"].startswith(f"{prefix}: the deployment stopped"), state["reason"]
    assert state["checks"][-1]["cut_short"]  # ended by a health sample, not by the 60 s bake
    _assert_rolled_back(bed, state, old, version)
    # the router failed over at once: at most 1% of requests saw an error, none from the old slot
    errors = watcher.errors()
    assert len(errors) <= max(1, len(watcher.seen) // 100), errors
    assert all(s.status == 200 for s in watcher.seen if s.deployment == old)


def test_a_challenger_that_leaks_memory_is_rolled_back(bed: Bed, built: dict[str, Any]) -> None:
    old = bed.live()
    folder = faulty_copy(built["models"]["v2"], bed.root / "leaks-14", mode="leak", kb=4096)
    policy = _long_bake(
        bed, "leaks-14", canary={"steps": [{"weight": 50, "bake_s": 60}, {"weight": 100, "bake_s": 60}]}
    )
    with Watcher(bed.endpoint.scoring_target().url, one_row_body(bed.rows)) as watcher:
        state = bed.controller(policy).start(bed.version("14", folder))
    assert state["reason"].startswith("canary 50%: resident memory grew"), state["reason"]
    assert "KiB per request" in state["reason"] and state["checks"][-1]["cut_short"]
    _assert_rolled_back(bed, state, old, "14")
    assert watcher.errors() == []


def test_a_bake_over_before_its_evidence_arrived_waits_for_it(bed: Bed, built: dict[str, Any]) -> None:
    """Zero-second bakes at 10% and 100%: no request can have reached the new slot when the time is
    up, so ending on time would reject this healthy model for lack of evidence. The bake goes on
    (at most health.max_evidence_wait_s) until health.min_requests have arrived, then promotes."""
    steps = [{"weight": 10, "bake_s": 0}, {"weight": 100, "bake_s": 0}]
    policy = load_rollout_policy(
        write_policies(bed.root / "policies-evidence", **{**FAST_ROLLOUT, "canary": {"steps": steps}})
    )
    state = bed.controller(policy).start(bed.version("15", built["models"]["v2"]))
    assert state["stage"] == "promoted", state.get("reason")
    canary = [c for c in state["checks"] if c["stage"].startswith("canary")]
    assert len(canary) == 2 and all(c["ok"] for c in canary)
    assert all(c["metrics"]["requests"] >= FAST_ROLLOUT["health"]["min_requests"] for c in canary)
    assert bed.registry.status("15") == "deployed"
