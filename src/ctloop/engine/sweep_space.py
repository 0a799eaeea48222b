"""Pure sweep logic: the search space, sampling, and early-termination decisions.

Names and parameters are Azure ML's (``azure.ai.ml.sweep``): choice, randint, uniform, loguniform,
normal, lognormal, quniform, qloguniform, qnormal, qlognormal; random and grid sampling; bandit,
median_stopping and truncation_selection policies. Nothing here starts a process or reads a clock.
"""

from __future__ import annotations

import itertools
import math
import random
import statistics
from collections.abc import Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

#: Every distribution Azure ML names, with the parameters it needs (in order).
DISTRIBUTIONS: dict[str, tuple[str, ...]] = {
    "choice": ("values",),
    "randint": ("upper",),
    "uniform": ("min_value", "max_value"),
    "loguniform": ("min_value", "max_value"),
    "normal": ("mu", "sigma"),
    "lognormal": ("mu", "sigma"),
    "quniform": ("min_value", "max_value", "q"),
    "qloguniform": ("min_value", "max_value", "q"),
    "qnormal": ("mu", "sigma", "q"),
    "qlognormal": ("mu", "sigma", "q"),
}
POLICIES = ("bandit", "median_stopping", "truncation_selection")
GOALS = ("maximize", "minimize")
#: The keys of a sweep job's YAML that :func:`parse_sweep` reads.
SWEEP_KEYS = ("search_space", "sampling_algorithm", "objective", "limits", "early_termination")
#: Azure ML's service default for ``limits.max_total_trials`` when a random sweep gives none.
DEFAULT_MAX_TOTAL_TRIALS = 1000


class SweepError(ValueError):
    """A sweep setting that cannot be run: ``field`` is its path under the job, ``reason`` says why."""

    def __init__(self, field: tuple[str, ...], reason: str) -> None:
        super().__init__(f"{'.'.join(field)}: {reason}")
        self.field = field
        self.reason = reason


@dataclass(frozen=True)
class Distribution:
    """One searched input: its name, Azure ML distribution type and parameters."""

    name: str
    type: str
    params: Mapping[str, Any]

    def sample(self, rng: random.Random) -> Any:
        """One value drawn as Azure ML defines the distribution."""
        p = self.params
        kind = self.type
        if kind == "choice":
            return rng.choice(list(p["values"]))
        if kind == "randint":
            return rng.randrange(int(p["upper"]))
        if kind.endswith("uniform"):
            raw = rng.uniform(p["min_value"], p["max_value"])
        else:
            raw = rng.gauss(p["mu"], p["sigma"])
        if "log" in kind:
            raw = math.exp(raw)
        if kind.startswith("q"):
            raw = round(raw / p["q"]) * p["q"]
        return raw

    def representative(self) -> Any:
        """A value of the distribution's type, used to check the spec before any trial runs."""
        if self.type == "choice":
            return next(iter(self.params["values"]))
        if self.type == "randint":
            return 0
        return self.sample(random.Random(0))


@dataclass(frozen=True)
class Policy:
    """An early-termination policy (``type`` is one of :data:`POLICIES`)."""

    type: str
    delay_evaluation: int = 0
    evaluation_interval: int = 1
    slack_factor: float = 0.0
    slack_amount: float = 0.0
    truncation_percentage: int = 0
    exclude_finished_jobs: bool = False

    def evaluation_point(self, reported: int) -> int | None:
        """The latest interval at or before ``reported`` values where the policy applies."""
        every = max(1, self.evaluation_interval)
        first = max(1, self.delay_evaluation)
        for s in range(reported, first - 1, -1):
            if s % every == 0:
                return s
        return None


@dataclass(frozen=True)
class SweepSettings:
    """A sweep job's settings, checked."""

    space: tuple[Distribution, ...]
    algorithm: str  # random | grid
    seed: int | None
    primary_metric: str
    goal: str
    max_total_trials: int
    max_concurrent_trials: int | None
    timeout: float | None
    trial_timeout: float | None
    policy: Policy | None
    warnings: tuple[str, ...] = field(default_factory=tuple)

    def describe(self) -> dict[str, Any]:
        return {
            "sampling_algorithm": self.algorithm,
            "seed": self.seed,
            "objective": {"primary_metric": self.primary_metric, "goal": self.goal},
            "early_termination": self.policy.type if self.policy else None,
            "max_total_trials": self.max_total_trials,
            "max_concurrent_trials": self.max_concurrent_trials,
        }


def _number(where: tuple[str, ...], value: Any, *, integer: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise SweepError(where, f"must be a number, got {value!r}")
    if integer and int(value) != value:
        raise SweepError(where, f"must be an integer, got {value!r}")
    return value


def _distribution(name: str, raw: Any) -> Distribution:
    where = ("search_space", name)
    if not isinstance(raw, Mapping):
        raise SweepError(where, "must be a mapping with a 'type' (choice, uniform, ...)")
    kind = raw.get("type")
    if kind not in DISTRIBUTIONS:
        raise SweepError(
            (*where, "type"), f"unknown distribution {kind!r} (known: {', '.join(DISTRIBUTIONS)})"
        )
    params: dict[str, Any] = {}
    for key in DISTRIBUTIONS[kind]:
        if raw.get(key) is None:
            raise SweepError((*where, key), f"a {kind} distribution needs {key!r}")
        params[key] = raw[key]
    if kind == "choice":
        values = params["values"]
        if not isinstance(values, list) or not values:
            raise SweepError((*where, "values"), "must be a non-empty list")
        if any(isinstance(v, Mapping) for v in values):
            raise SweepError(
                (*where, "values"), "nested search spaces are not run locally: list plain values"
            )
        return Distribution(name, kind, params)
    for key, value in params.items():
        params[key] = _number((*where, key), value, integer=key in ("upper", "q"))
    if "min_value" in params and params["min_value"] > params["max_value"]:
        raise SweepError((*where, "min_value"), "min_value is greater than max_value")
    if params.get("sigma", 1) < 0 or params.get("q", 1) <= 0 or params.get("upper", 1) <= 0:
        bad = next(k for k in ("sigma", "q", "upper") if k in params)
        raise SweepError((*where, bad), f"{bad} must be positive")
    return Distribution(name, kind, params)


def _algorithm(raw: Any) -> tuple[str, int | None, list[str]]:
    where = ("sampling_algorithm",)
    if raw is None:
        raise SweepError(where, "a sweep needs a sampling_algorithm (random or grid)")
    data = raw if isinstance(raw, Mapping) else {"type": raw}
    kind = str(data.get("type", "")).lower()
    seed = data.get("seed")
    if seed is not None:
        seed = int(_number((*where, "seed"), seed, integer=True))
    warnings: list[str] = []
    if kind == "bayesian":
        warnings.append(
            "sampling_algorithm bayesian runs as random sampling locally (Azure ML runs it as bayesian)"
        )
        kind = "random"
    elif kind == "random" and str(data.get("rule") or "random").lower() != "random":
        warnings.append(f"random rule {data.get('rule')!r} runs as plain random sampling locally")
    if kind not in ("random", "grid"):
        raise SweepError(where, f"unknown sampling_algorithm {kind!r} (random, grid or bayesian)")
    return kind, seed, warnings


def _policy(raw: Any) -> Policy | None:
    if raw is None:
        return None
    where = ("early_termination",)
    if not isinstance(raw, Mapping) or raw.get("type") not in POLICIES:
        got = raw.get("type") if isinstance(raw, Mapping) else raw
        raise SweepError((*where, "type"), f"unknown policy {got!r} (known: {', '.join(POLICIES)})")
    kind = raw["type"]
    values: dict[str, Any] = {}
    for key in ("delay_evaluation", "evaluation_interval", "truncation_percentage"):
        if raw.get(key) is not None:
            values[key] = int(_number((*where, key), raw[key], integer=True))
    for key in ("slack_factor", "slack_amount"):
        if raw.get(key) is not None:
            values[key] = float(_number((*where, key), raw[key]))
    if kind == "bandit" and not (values.get("slack_factor") or values.get("slack_amount")):
        raise SweepError(where, "a bandit policy needs slack_factor or slack_amount")
    if kind == "truncation_selection" and not 1 <= values.get("truncation_percentage", 0) <= 99:
        raise SweepError((*where, "truncation_percentage"), "must be between 1 and 99")
    return Policy(kind, exclude_finished_jobs=bool(raw.get("exclude_finished_jobs", False)), **values)


def _limit(limits: Mapping[str, Any], key: str) -> float | None:
    value = limits.get(key)
    if value is None:
        return None
    value = _number(("limits", key), value, integer=key.startswith("max_"))
    if value <= 0:
        raise SweepError(("limits", key), "must be positive")
    return value


def parse_sweep(data: Mapping[str, Any]) -> SweepSettings:
    """Check a ``type: sweep`` job's YAML data; raise :class:`SweepError` naming the field."""
    space_raw = data.get("search_space")
    if not isinstance(space_raw, Mapping) or not space_raw:
        raise SweepError(("search_space",), "a sweep needs a non-empty search_space mapping")
    space = tuple(_distribution(str(k), v) for k, v in space_raw.items())
    algorithm, seed, warnings = _algorithm(data.get("sampling_algorithm"))
    objective = data.get("objective")
    if not isinstance(objective, Mapping) or not objective.get("primary_metric"):
        raise SweepError(("objective", "primary_metric"), "a sweep needs objective.primary_metric")
    goal = str(objective.get("goal", "")).lower()
    if goal not in GOALS:
        raise SweepError(
            ("objective", "goal"), f"must be maximize or minimize, got {objective.get('goal')!r}"
        )
    limits = data.get("limits") or {}
    if not isinstance(limits, Mapping):
        raise SweepError(("limits",), "must be a mapping")
    if algorithm == "grid":
        bad = [d.name for d in space if d.type != "choice"]
        if bad:
            raise SweepError(
                ("search_space", bad[0], "type"), "grid sampling needs choice distributions only"
            )
    total = _limit(limits, "max_total_trials")
    if total is None:
        total = grid_size(space) if algorithm == "grid" else DEFAULT_MAX_TOTAL_TRIALS
    concurrent = _limit(limits, "max_concurrent_trials")
    return SweepSettings(
        space=space,
        algorithm=algorithm,
        seed=seed,
        primary_metric=str(objective["primary_metric"]),
        goal=goal,
        max_total_trials=int(total),
        max_concurrent_trials=int(concurrent) if concurrent else None,
        timeout=_limit(limits, "timeout"),
        trial_timeout=_limit(limits, "trial_timeout"),
        policy=_policy(data.get("early_termination")),
        warnings=tuple(warnings),
    )


def grid_size(space: Sequence[Distribution]) -> int:
    return math.prod(len(d.params["values"]) for d in space)


def parameter_sets(settings: SweepSettings) -> Iterator[dict[str, Any]]:
    """The trials' parameters in order: the grid's points, or ``max_total_trials`` random draws."""
    if settings.algorithm == "grid":
        names = [d.name for d in settings.space]
        points = itertools.product(*(d.params["values"] for d in settings.space))
        for point in itertools.islice(points, settings.max_total_trials):
            yield dict(zip(names, point, strict=True))
        return
    rng = random.Random(settings.seed)
    for _ in range(settings.max_total_trials):
        yield {d.name: d.sample(rng) for d in settings.space}


def _better(goal: str, a: float, b: float) -> bool:
    return a > b if goal == "maximize" else a < b


def _best_so_far(goal: str, values: Sequence[float], upto: int) -> float:
    head = values[:upto]
    return max(head) if goal == "maximize" else min(head)


def _bandit(policy: Policy, goal: str, value: float, best: float) -> bool:
    factor, amount = policy.slack_factor, policy.slack_amount
    if goal == "maximize":
        return (factor > 0 and value < best / (1 + factor)) or (amount > 0 and value < best - amount)
    return (factor > 0 and value > best * (1 + factor)) or (amount > 0 and value > best + amount)


def to_terminate(
    policy: Policy,
    goal: str,
    histories: Mapping[str, Sequence[float]],
    running: Collection[str],
    finished: Collection[str] = (),
) -> dict[str, str]:
    """Running trials the policy stops now, each with the reason.

    ``histories`` holds each trial's primary metric values in the order logged: each value is one
    interval (Azure ML counts every logged value of the primary metric as an interval). A running
    trial is judged at its latest evaluation point (``delay_evaluation``, ``evaluation_interval``)
    against every trial that reached that interval, by its best value so far.
    """
    stop: dict[str, str] = {}
    for trial in running:
        values = histories.get(trial) or []
        point = policy.evaluation_point(len(values))
        if point is None:
            continue
        peers = {
            t: v
            for t, v in histories.items()
            if len(v) >= point and not (policy.exclude_finished_jobs and t in finished)
        }
        mine = _best_so_far(goal, values, point)
        if policy.type == "bandit":
            best = _best_so_far(goal, [_best_so_far(goal, v, point) for v in peers.values()], len(peers))
            if _bandit(policy, goal, mine, best):
                stop[trial] = f"bandit at interval {point}: {mine:g} against best {best:g}"
        elif policy.type == "median_stopping":
            others = [statistics.fmean(v[:point]) for t, v in peers.items() if t != trial]
            if others:
                median = statistics.median(others)
                if _better(goal, median, mine):
                    stop[trial] = (
                        f"median stopping at interval {point}: {mine:g} worse than median {median:g}"
                    )
        else:
            ranked = sorted(
                peers, key=lambda t: _best_so_far(goal, peers[t], point), reverse=goal == "minimize"
            )
            cut = math.floor(len(ranked) * policy.truncation_percentage / 100)
            if trial in ranked[:cut]:
                pct = policy.truncation_percentage
                stop[trial] = (
                    f"truncation selection at interval {point}: in the lowest {pct}% of {len(ranked)}"
                )
    return stop


def best_trial(goal: str, metrics: Mapping[str, float | None]) -> str | None:
    """The trial with the best final metric (``None`` metrics never win); ties go to the first."""
    best: str | None = None
    for trial, value in metrics.items():
        if value is None or (isinstance(value, float) and math.isnan(value)):
            continue
        if best is None or _better(goal, value, metrics[best]):  # type: ignore[arg-type]
            best = trial
    return best


def _shown(value: Any) -> str:
    return f"{value:.6g}" if isinstance(value, float) else str(value)


def sweep_lines(step: str, sweep: Mapping[str, Any]) -> list[str]:
    """The terminal account of a sweep step: objective, the best trial and one row per trial."""
    metric = (sweep.get("objective") or {}).get("primary_metric", "?")
    goal = (sweep.get("objective") or {}).get("goal", "?")
    trials = sweep.get("trials") or []
    best = sweep.get("best")
    lines = [f"sweep {step}: {len(trials)} trials, {goal} {metric}"]
    if best is not None:
        row = next((t for t in trials if t.get("trial") == best), {})
        lines.append(f"  best trial {best}: {metric}={_shown(row.get('metric'))} params {row.get('params')}")
    for t in trials:
        why = f" ({t['reason']})" if t.get("reason") else ""
        lines.append(f"  trial {t.get('trial')}: {t.get('status')} {metric}={_shown(t.get('metric'))}{why}")
    return lines
