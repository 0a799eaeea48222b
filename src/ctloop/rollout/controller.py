"""The blue/green rollout controller: a persisted state machine driven by ``policies/rollout.yml``.

Stages (``rollout.json`` is written atomically at every transition)::

    deploying -> smoke -> [mirror] -> canary(step 0..n-1) -> promoting -> promoted
         any failure ---------------------------------------> rolling_back -> rolled_back

- The new model goes to the free slot (blue/green alternate) beside the live one, at 0%.
- ``smoke``: labelled rows sent straight to the new deployment; every answer must be valid.
- ``mirror`` (optional): a share of live traffic is copied to it; answers discarded, measured.
- ``canary``: each step moves ``weight``% to it, replays labelled rows through the endpoint for
  ``bake_s`` and checks error rate, p99 latency and the primary metric against the old slot.
- During every bake (mirror and each canary step) health is sampled every ``health.interval_s``:
  liveness, worker restarts, resident memory (absolute and growth per request), error rate and
  p99 so far. The first sample that breaks a limit ends the bake and rolls back.
- ``promoting``: 100% to the new slot, the old slot deleted, the registry records the version.
- ``rolling_back``: 100% back to the old slot, the new one deleted, the registry marks the
  version rejected with the reason; the command exits non-zero.

With no live deployment (first rollout) the new slot is smoke-tested and then takes 100%.
Resuming after the controller was killed restores 100% to the old slot first, re-runs the smoke
test and continues with the stage (or canary step) that was interrupted. One controller at a
time: ``rollout.lock`` is held for the controller's lifetime (released if it dies).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ctloop.rollout import procs
from ctloop.rollout.endpoint import SLOTS, DeploymentMetrics, DeploymentSpec, Endpoint
from ctloop.rollout.health import Quality, Sample, Verdict, evaluate, watch
from ctloop.rollout.jsonfile import read_json, try_lock, write_json
from ctloop.rollout.policy import RolloutPolicy
from ctloop.rollout.registry_adapter import RolloutRegistry
from ctloop.rollout.traffic import LabelledRows, ReplayStats, ScoringClient, load_labelled, replay, smoke_test

TERMINAL = ("promoted", "rolled_back")
ACTIVE = ("deploying", "smoke", "mirror", "canary", "promoting", "rolling_back")


class RolloutError(RuntimeError):
    """A rollout that cannot start, resume or roll back; the message says why."""


@dataclass(frozen=True)
class RolloutRequest:
    model_name: str
    version: str
    eval_path: Path
    model_dir: Path | None = None


def _now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def rollout_status(home: Path) -> dict[str, Any] | None:
    """The last rollout's state in ``home``, with ``controller_alive`` (a controller runs it now)."""
    state = read_json(Path(home) / "rollout.json", None)
    if state is not None:
        try:
            ref = procs.ProcessRef.from_dict(state.get("controller"))
        except (TypeError, ValueError):
            ref = None
        state["controller_alive"] = procs.is_running(ref) and state.get("stage") in ACTIVE
    return state


def supervise(
    home: Path,
    resume: Callable[[], dict[str, Any]],
    wait: Callable[[float], bool],
    interval_s: float,
    rollout_id: str | None = None,
    say: Callable[[str], None] = print,
) -> dict[str, Any] | None:
    """Watch the rollout in ``home`` (only ``rollout_id`` when given) until it finishes: whenever
    it is unfinished and no controller runs it (killed, crashed, machine restarted), call
    ``resume``. ``wait(interval)`` returns True to stop watching. Returns the last state seen."""
    while True:
        state = rollout_status(home)
        if state is None or state.get("stage") in TERMINAL:
            return state
        if rollout_id is not None and state.get("id") != rollout_id:
            return state  # another rollout replaced it: not ours to watch
        if not state.get("controller_alive"):
            say(f"rollout {state['id']}: no controller is running it ({state['stage']}); resuming")
            try:
                return resume()
            except RolloutError as exc:  # another controller took it meanwhile: keep watching
                say(f"rollout {state['id']}: {exc}")
        if wait(interval_s):
            return state


def other_slot(slot: str | None) -> str:
    return SLOTS[0] if slot is None else SLOTS[1 - SLOTS.index(slot)] if slot in SLOTS else SLOTS[0]


class Controller:
    """Runs, resumes and rolls back one rollout at a time on ``endpoint``."""

    def __init__(
        self,
        endpoint: Endpoint,
        policy: RolloutPolicy,
        registry_factory: Callable[[str], RolloutRegistry],
        home: Path,
        policies_dir: Path | None = None,
        say: Callable[[str], None] = print,
    ) -> None:
        self.endpoint = endpoint
        self.policy = policy
        self.registry_factory = registry_factory
        self.home = Path(home)
        self.policies_dir = policies_dir
        self.say = say
        self.state_path = self.home / "rollout.json"
        self.lock_path = self.home / "rollout.lock"
        self._lock: Any = None
        self._data: LabelledRows | None = None
        self._client: ScoringClient | None = None
        self._client_old = ReplayStats()
        #: Called with the state once a new rollout is claimed and persisted (e.g. to start a watchdog).
        self.on_claimed: Callable[[dict[str, Any]], None] | None = None

    # --- state -------------------------------------------------------------------------------
    def status(self) -> dict[str, Any] | None:
        return rollout_status(self.home)

    def _save(self, state: dict[str, Any]) -> None:
        state["updated"] = _now_iso()
        write_json(self.state_path, state)

    def _transition(self, state: dict[str, Any], stage: str, detail: str = "", **changes: Any) -> None:
        state.update(changes)
        state["stage"] = stage
        state["stage_started"] = time.time()
        entry = {"time": _now_iso(), "stage": stage, "step": state.get("step", 0)}
        if detail:
            entry["detail"] = detail
        state.setdefault("history", []).append(entry)
        self._save(state)
        self.say(f"rollout {state['id']}: {stage}" + (f" ({detail})" if detail else ""))

    def _acquire(self) -> None:
        self._lock = try_lock(self.lock_path)
        if self._lock is None:
            holder = (read_json(self.state_path, {}) or {}).get("controller", {})
            raise RolloutError(f"another rollout controller is running (pid {holder.get('pid', '?')})")

    def _release(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None
        if self._lock is not None:
            self._lock.close()
            self._lock = None

    def _claim(self, state: dict[str, Any]) -> None:
        state["controller"] = procs.self_ref().to_dict()

    # --- entry points --------------------------------------------------------------------------
    def start(self, request: RolloutRequest) -> dict[str, Any]:
        """Validate inputs, plan the slots and run the rollout to its end."""
        self._acquire()
        try:
            previous = read_json(self.state_path, None)
            if previous and previous.get("stage") in ACTIVE:
                raise RolloutError(
                    f"rollout {previous['id']} is unfinished ({previous['stage']}): "
                    "run 'ctloop rollout resume' or 'ctloop rollout rollback' first"
                )
            registry = self.registry_factory(request.model_name)
            model_dir = request.model_dir
            if model_dir is None:
                dest = self.home / "models" / f"{request.model_name}-{request.version}"
                model_dir = registry.fetch(request.version, dest)
            self._data = self._load_data(model_dir, request.eval_path)
            old = self.endpoint.live_deployment()
            deployments = self.endpoint.deployments()
            if old and (old not in deployments or not deployments[old].healthy):
                raise RolloutError(
                    f"the live deployment {old} is not running, so nothing could take traffic back: "
                    "restart it first ('ctloop endpoint up')"
                )
            new = other_slot(old)
            state: dict[str, Any] = {
                "id": f"{request.model_name}-v{request.version}-{datetime.now(UTC):%Y%m%dT%H%M%S}",
                "endpoint": self.endpoint.name,
                "model_name": request.model_name,
                "version": str(request.version),
                "model_dir": str(model_dir),
                "eval": str(request.eval_path),
                "old": old,
                "old_version": deployments[old].model_version if old in deployments else None,
                "new": new,
                "step": 0,
                "canary_started": None,
                "reason": None,
                "checks": [],
                "started": _now_iso(),
                "history": [],
            }
            self._claim(state)
            plan = f"{new} beside {old}" if old else f"first deployment in {new}"
            self._transition(state, "deploying", f"version {request.version}: {plan}")
            if self.on_claimed is not None:
                self.on_claimed(state)
            return self._run(state)
        finally:
            self._release()

    def resume(self) -> dict[str, Any]:
        """Continue an interrupted rollout (old slot back to 100% first)."""
        self._acquire()
        try:
            state = self._unfinished("resume")
            if state["stage"] in TERMINAL:
                return state
            self._claim(state)
            if state["stage"] in ("mirror", "canary"):
                self._transition(state, "smoke", f"resumed from {state['stage']} step {state.get('step', 0)}")
            else:
                self._transition(state, state["stage"], "resumed")
            return self._run(state)
        finally:
            self._release()

    def rollback(self, reason: str) -> dict[str, Any]:
        """Abort an unfinished rollout: old slot to 100%, new slot deleted, version rejected."""
        self._acquire()
        try:
            state = self._unfinished("roll back")
            if state["stage"] == "rolled_back":
                return state
            if state["stage"] == "promoted":
                raise RolloutError(
                    f"rollout {state['id']} finished: version {state['version']} was promoted and "
                    f"{state.get('old') or 'no'} old slot remains; "
                    "deploy a previous version with 'ctloop rollout start'"
                )
            self._claim(state)
            old = state.get("old")
            if state["stage"] == "promoting" and old and old not in self.endpoint.deployments():
                raise RolloutError(
                    f"rollout {state['id']}: the old slot {old} is already deleted; nothing to return to"
                )
            self._transition(state, "rolling_back", reason, reason=reason)
            return self._run(state)
        finally:
            self._release()

    def _unfinished(self, verb: str) -> dict[str, Any]:
        state = read_json(self.state_path, None)
        if not state:
            raise RolloutError(f"no rollout to {verb} ({self.state_path} does not exist)")
        return state

    # --- the state machine ---------------------------------------------------------------------
    def _run(self, state: dict[str, Any]) -> dict[str, Any]:
        handlers = {
            "deploying": self._deploying,
            "smoke": self._smoke,
            "mirror": self._mirror,
            "canary": self._canary,
            "promoting": self._promoting,
            "rolling_back": self._rolling_back,
        }
        while state["stage"] not in TERMINAL:
            stage = state["stage"]
            try:
                handlers[stage](state)
            except Exception as exc:
                if stage == "rolling_back":
                    state["error"] = f"{type(exc).__name__}: {exc}"
                    self._save(state)
                    raise RolloutError(
                        f"rollback of {state['id']} is incomplete: {exc}; "
                        "retry with 'ctloop rollout rollback'"
                    ) from exc
                reason = f"{stage}: {type(exc).__name__}: {exc}"
                self._transition(state, "rolling_back", reason, reason=reason)
        state["finished"] = _now_iso()
        self._save(state)
        return state

    def _restore_old(self, state: dict[str, Any]) -> None:
        """Make sure the old slot serves 100% and nothing is mirrored (first step of every path)."""
        old = state.get("old")
        if self.endpoint.mirror():
            self.endpoint.set_mirror({})
        serving = {k: v for k, v in self.endpoint.traffic().items() if v}
        if old and old in self.endpoint.deployments() and serving != {old: 100}:
            self.endpoint.set_traffic({old: 100})
            self.say(f"rollout {state['id']}: restored 100% to {old}")

    def _deploying(self, state: dict[str, Any]) -> None:
        self._restore_old(state)
        current = self.endpoint.deployments().get(state["new"])
        if (
            current
            and current.healthy
            and current.model_version == state["version"]
            and state.get("old") != state["new"]
        ):
            self._transition(state, "smoke", f"{state['new']} already runs version {state['version']}")
            return
        spec = DeploymentSpec(state["new"], state["model_name"], state["version"], Path(state["model_dir"]))
        self.endpoint.create_or_update_deployment(spec)
        self._transition(state, "smoke", f"{state['new']} is up")

    def _smoke(self, state: dict[str, Any]) -> None:
        self._restore_old(state)
        new = state["new"]
        info = self.endpoint.deployments().get(new)
        if info is None or not info.healthy:
            raise RuntimeError(f"deployment {new} is not running")
        result = smoke_test(self._scoring(), new, self._labelled(state), self.policy.smoke, state["version"])
        state["checks"].append(
            {"stage": "smoke", "ok": result.ok, "requests": result.requests, "reasons": result.reasons}
        )
        if not result.ok:
            self._transition(
                state, "rolling_back", "; ".join(result.reasons), reason="smoke test: " + result.reasons[0]
            )
            return
        detail = f"smoke test passed ({result.requests} requests)"
        if not state.get("old"):
            self._transition(state, "promoting", detail)
        elif state.get("canary_started"):
            self._transition(state, "canary", detail)
        elif self.policy.mirror["enabled"]:
            self._transition(state, "mirror", detail)
        else:
            self._transition(state, "canary", detail, step=0)

    def _mirror(self, state: dict[str, Any]) -> None:
        new, percent = state["new"], int(self.policy.mirror["percent"])
        since = time.time()
        self.endpoint.set_mirror({new: percent})
        try:
            stats, breaches = self._bake(state, since, float(self.policy.mirror["bake_s"]))
        finally:
            self.endpoint.set_mirror({})
        metrics = self.endpoint.metrics(since, self.policy.health.get("primary_metric"))
        verdict = self._judge(state, metrics, stats, metrics, breaches)
        self._record(state, "mirror", verdict)
        if not verdict.ok:
            self._transition(
                state, "rolling_back", "; ".join(verdict.reasons), reason="mirror: " + verdict.reasons[0]
            )
            return
        self._transition(state, "canary", f"mirror of {percent}% healthy", step=0)

    def _canary(self, state: dict[str, Any]) -> None:
        steps = self.policy.steps
        index = int(state.get("step", 0))
        step = steps[index]
        old, new = state["old"], state["new"]
        self.endpoint.set_traffic(
            {old: 100 - step.weight, new: step.weight} if step.weight < 100 else {new: 100}
        )
        since = time.time()
        if not state.get("canary_started"):
            state["canary_started"] = since
        self._save(state)
        self.say(
            f"rollout {state['id']}: canary step {index + 1}/{len(steps)}: "
            f"{new}={step.weight}% for {step.bake_s:g}s"
        )
        stats, breaches = self._bake(state, since, step.bake_s)
        metric = self.policy.health.get("primary_metric")
        window = self.endpoint.metrics(since, metric)
        whole = self.endpoint.metrics(float(state["canary_started"]), metric)
        verdict = self._judge(state, window, stats, whole, breaches)
        self._record(state, f"canary:{index}", verdict)
        if not verdict.ok:
            self._restore_old(state)
            self._transition(
                state,
                "rolling_back",
                "; ".join(verdict.reasons),
                reason=f"canary {step.weight}%: {verdict.reasons[0]}",
            )
        elif index + 1 < len(steps):
            self._transition(state, "canary", f"step {step.weight}% healthy", step=index + 1)
        else:
            self._transition(state, "promoting", f"step {step.weight}% healthy")

    def _promoting(self, state: dict[str, Any]) -> None:
        old, new = state.get("old"), state["new"]
        self.endpoint.set_traffic({new: 100})
        if old and old != new and old in self.endpoint.deployments():
            self.endpoint.delete_deployment(old)
        registry = self.registry_factory(state["model_name"])
        try:
            registry.record_deployed(state["version"], self.endpoint.name, new)
            if state.get("old_version") and state["old_version"] != state["version"]:
                registry.mark_retired(state["old_version"])
        except Exception as exc:  # the endpoint is consistent; the registry note can be redone
            state["registry_error"] = f"{type(exc).__name__}: {exc}"
        self._transition(state, "promoted", f"{new} serves version {state['version']} at 100%")

    def _rolling_back(self, state: dict[str, Any]) -> None:
        old, new = state.get("old"), state["new"]
        deployments = self.endpoint.deployments()
        if self.endpoint.mirror():
            self.endpoint.set_mirror({})
        if old and old in deployments:
            self.endpoint.set_traffic({old: 100})
        elif new in deployments:
            self.endpoint.set_traffic({})
        if new in deployments and new != old:
            self.endpoint.delete_deployment(new)
        reason = state.get("reason") or "rolled back"
        try:
            self.registry_factory(state["model_name"]).mark_rejected(state["version"], reason)
        except Exception as exc:
            state["registry_error"] = f"{type(exc).__name__}: {exc}"
        self._transition(
            state, "rolled_back", f"{old or 'nothing'} serves 100%; version {state['version']} rejected"
        )

    # --- helpers -------------------------------------------------------------------------------
    def _bake(self, state: dict[str, Any], since: float, duration_s: float) -> tuple[ReplayStats, list[str]]:
        """Replay labelled traffic for ``duration_s`` (longer, up to ``health.max_evidence_wait_s``
        more, until ``health.min_requests`` reached the new deployment) while sampling its health;
        a broken limit ends the bake at once. Returns (client-side stats, breaches)."""
        stop, finished = threading.Event(), threading.Event()
        out: dict[str, Any] = {}

        longest = duration_s + float(self.policy.health["max_evidence_wait_s"])
        started = time.monotonic()

        def run() -> None:
            try:
                out["stats"] = replay(
                    self._scoring(), self._labelled(state), self.policy.traffic, longest, stop
                )
            except Exception as exc:
                out["error"] = exc
            finally:
                finished.set()

        worker = threading.Thread(target=run, daemon=True)
        worker.start()
        try:
            breaches, samples = watch(
                lambda: self._sample(state["new"], since),
                self.policy.health,
                finished.wait,
                lambda: time.monotonic() - started >= duration_s,
            )
        finally:
            stop.set()
            worker.join()
        if "error" in out:
            raise out["error"]
        state.setdefault("samples", []).append({"since": since, "taken": len(samples), "breaches": breaches})
        return out["stats"], breaches

    def _sample(self, new: str, since: float) -> Sample:
        """The new deployment now: liveness, resources, and its requests since ``since``."""
        info = self.endpoint.deployments().get(new)
        resources = self.endpoint.resources().get(new)
        alive = bool(info and info.healthy) and (resources is None or resources.alive)
        m = self.endpoint.metrics(since).get(new) if alive else None
        return Sample(
            alive=alive,
            requests=m.requests if m else 0,
            errors=m.errors if m else 0,
            p99_ms=m.p99_ms if m else None,
            rss_mb=resources.rss_mb if resources else None,
            restarts=resources.restarts if resources else 0,
        )

    def _scoring(self) -> ScoringClient:
        if self._client is None:
            self._client = ScoringClient(
                self.endpoint.scoring_target(), float(self.policy.traffic["request_timeout_s"])
            )
        return self._client

    def _load_data(self, model_dir: Path, eval_path: Path) -> LabelledRows:
        from ctloop.serving.model import find_model_dir
        from ctloop.serving.validation import Signature

        features = Signature.from_mlmodel(find_model_dir(model_dir)).names
        return load_labelled(eval_path, features, self.policies_dir)

    def _labelled(self, state: dict[str, Any]) -> LabelledRows:
        if self._data is None:
            self._data = self._load_data(Path(state["model_dir"]), Path(state["eval"]))
        return self._data

    def _quality(self, metrics: DeploymentMetrics | None, client: dict[str, Any] | None) -> Quality:
        """Server-side primary metric when the endpoint measures it, else the client-side one."""
        if metrics is not None and metrics.labelled_rows:
            return Quality(metrics.primary_metric, metrics.labelled_rows)
        if client and client["y"]:
            from ctloop.rollout.router_metrics import primary_metric

            return Quality(
                primary_metric(self.policy.health.get("primary_metric"), client["y"], client["p"]),
                len(client["y"]),
            )
        return Quality(None, 0)

    def _judge(
        self,
        state: dict[str, Any],
        window: dict[str, DeploymentMetrics],
        stats: ReplayStats,
        whole: dict[str, DeploymentMetrics],
        breaches: list[str] | None = None,
    ) -> Verdict:
        old, new = state.get("old"), state["new"]
        old_client = stats.by_deployment.get(old or "")
        if old_client:
            acc = self._client_old.by_deployment.setdefault(
                old, {"requests": 0, "errors": 0, "y": [], "p": []}
            )
            acc["y"].extend(old_client["y"])
            acc["p"].extend(old_client["p"])
        quality_old = self._quality(whole.get(old), self._client_old.by_deployment.get(old)) if old else None
        quality_new = self._quality(window.get(new), stats.by_deployment.get(new))
        verdict = evaluate(window.get(new), self.policy.health, quality_new, quality_old)
        if breaches:  # the bake was cut short: the live breach is the reason
            verdict.ok = False
            verdict.reasons[:0] = breaches
            verdict.observed["cut_short"] = True
        seen = stats.by_deployment.get(new) or {}
        if seen.get("invalid") and seen["invalid"] / seen["requests"] > float(
            self.policy.health["max_error_rate"]
        ):
            verdict.ok = False
            verdict.reasons.append(
                f"{seen['invalid']} of {seen['requests']} answers were not valid predictions"
            )
        return verdict

    def _record(self, state: dict[str, Any], stage: str, verdict: Verdict) -> None:
        state["checks"].append(
            {"stage": stage, "ok": verdict.ok, "reasons": verdict.reasons, **verdict.observed}
        )
        self._save(state)
