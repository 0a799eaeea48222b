"""Replay one policy over the stream: the trigger policy through the real loop, baselines in-process.

The **trigger** policy runs the production code path on the replay's clock: the champion scores
each batch and the requests are written as collector logs; the labels arrive a day later as a
labels file; the batch lands in the landing folder; then one loop turn (``ctloop.loop.cycle``)
monitors, checks the triggers of ``retraining.yml`` (with its ``replay`` overrides) and, when they
fire, runs the training pipeline's steps in-process (ingest, validate_data, prep, train, evaluate
with the promotion gate, register in a real local MLflow registry). A promoted version is deployed
to the replay's scorer (the registry records it as deployed).

The **baselines** (never, every batch, fixed schedule) call the same functions the steps call
(``ctloop.splits.time_split`` with data.yml's split, the same trainer with the train component's
defaults, ``ctloop.gate.decide`` with promotion.yml) directly, without files, MLflow or registry.
Identical training windows give identical models (fixed seed), so baselines share fitted models
through :class:`FitCache`; each policy is still charged the fit seconds of every retrain it makes.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ctloop import gate, metrics, modeling, splits, trainers
from ctloop.replay.stream import Batch, Stream
from ctloop.steps.prep import AFTER_CHANGE, CHANGE_TRIGGERS, RecentWindow, candidate_split


@dataclass
class BatchScore:
    batch: int
    start_row: int
    end_row: int
    start: str
    end: str
    metric: float | None
    accuracy: float
    version: str


@dataclass
class PolicyResult:
    name: str
    batches: list[BatchScore] = field(default_factory=list)
    retrains: list[dict[str, Any]] = field(default_factory=list)
    compute_seconds: float = 0.0
    wall_seconds: float = 0.0

    def summary(self, drifted_from_row: int) -> dict[str, Any]:
        values = np.array([b.metric for b in self.batches if b.metric is not None], dtype=float)
        drifted = np.array(
            [b.metric for b in self.batches if b.metric is not None and b.start_row >= drifted_from_row],
            dtype=float,
        )
        return {
            "policy": self.name,
            "mean_metric": float(values.mean()) if values.size else None,
            "drifted_metric": float(drifted.mean()) if drifted.size else None,
            # the first model (batch -1, before the stream) is not a retrain; its compute is counted
            "retrains": sum(1 for r in self.retrains if r.get("batch", 0) >= 0),
            "promotions": sum(1 for r in self.retrains if r.get("promoted") and r.get("batch", 0) >= 0),
            "compute_seconds": round(self.compute_seconds, 3),
            "wall_seconds": round(self.wall_seconds, 3),
        }


@dataclass(frozen=True)
class ReplayConfig:
    """What every policy shares: the stream's roles, the split, the trainer and the gate."""

    split: dict[str, Any]
    trainer: str
    trainer_options: dict[str, Any]
    gate_policy: gate.GatePolicy
    decision_threshold: float
    primary_metric: str
    batch_days: int
    label_delay_days: int


def score_batch(
    probabilities: np.ndarray, y: np.ndarray, threshold: float, primary: str
) -> tuple[float | None, float]:
    """(primary metric, accuracy) of one batch's predictions."""
    accuracy = float(np.mean((probabilities >= threshold).astype(int) == y))
    if primary == "accuracy":
        return accuracy, accuracy
    value = metrics.roc_auc(y, probabilities) if metrics.has_both_classes(y) else float("nan")
    return (None if np.isnan(value) else float(value)), accuracy


def batch_end(stream: Stream, batch: Batch) -> pd.Timestamp:
    """The batch's exclusive end time: the next row's time, or a day after the last row."""
    times = stream.frame[stream.time_column]
    if batch.end_row < len(times):
        return pd.Timestamp(times.iloc[batch.end_row])
    return pd.Timestamp(times.iloc[batch.end_row - 1]) + pd.Timedelta(days=1)


def batch_score(
    stream: Stream,
    batch: Batch,
    probabilities: np.ndarray,
    y: np.ndarray,
    threshold: float,
    primary: str,
    version: object,
) -> tuple[BatchScore, pd.Timestamp]:
    """The batch's :class:`BatchScore` under ``version``'s predictions, and its exclusive end time."""
    metric, accuracy = score_batch(probabilities, y, threshold, primary)
    end = batch_end(stream, batch)
    start = str(batch.frame[stream.time_column].iloc[0])
    return BatchScore(
        batch.index, batch.start_row, batch.end_row, start, str(end), metric, accuracy, str(version)
    ), end


# --- baselines ---------------------------------------------------------------------------------


class FitCache:
    """Fitted models by training window: a baseline that trains on a window already fitted reuses it."""

    def __init__(self) -> None:
        self._fits: dict[tuple[str, str, int], tuple[Any, float]] = {}

    def fit(self, train: pd.DataFrame, stream: Stream, config: ReplayConfig) -> tuple[Any, float]:
        times = train[stream.time_column]
        key = (str(times.iloc[0]), str(times.iloc[-1]), len(train))
        if key not in self._fits:
            trainer = trainers.get_trainer(config.trainer)
            start = time.perf_counter()
            model = trainer(
                train[stream.features], train[stream.label].to_numpy(dtype=int), config.trainer_options
            )
            self._fits[key] = (model, time.perf_counter() - start)
        return self._fits[key]


def _split(frame: pd.DataFrame, stream: Stream, config: ReplayConfig) -> splits.Split:
    s = config.split
    return splits.time_split(
        frame,
        time_column=stream.time_column,
        label=stream.label,
        eval_days=s["eval_days"],
        train_days=s["train_days"],
        gap_days=s["gap_days"],
        min_train_rows=s["min_train_rows"],
        min_eval_rows=s["min_eval_rows"],
    )


def run_baseline(
    name: str,
    should_retrain: Callable[[int], bool],
    stream: Stream,
    batches: list[Batch],
    config: ReplayConfig,
    cache: FitCache,
) -> PolicyResult:
    """One baseline: ``should_retrain(batch_index)`` after each batch, then split/train/gate in-process."""
    started = time.perf_counter()
    result = PolicyResult(name)
    champion, seconds = cache.fit(
        _split(stream.frame.iloc[: stream.warmup_rows], stream, config).train, stream, config
    )
    result.compute_seconds += seconds
    version = 1
    for batch in batches:
        p = champion.predict_proba(batch.frame[stream.features])
        y = batch.frame[stream.label].to_numpy(dtype=int)
        score, end = batch_score(
            stream, batch, p, y, config.decision_threshold, config.primary_metric, version
        )
        result.batches.append(score)
        if not should_retrain(batch.index):
            continue
        split = _split(stream.frame.iloc[: batch.end_row], stream, config)
        challenger, seconds = cache.fit(split.train, stream, config)
        result.compute_seconds += seconds
        y_eval = split.eval[stream.label].to_numpy(dtype=int)
        x_eval = split.eval[stream.features]
        decision = gate.decide(
            y_eval,
            challenger.predict_proba(x_eval),
            champion.predict_proba(x_eval),
            config.gate_policy,
            str(version),
        )
        if decision.promote:
            champion, version = challenger, version + 1
        result.retrains.append(
            {
                "batch": batch.index,
                "time": str(end),
                "promoted": decision.promote,
                "fit_seconds": round(seconds, 4),
                "reason": decision.reason,
            }
        )
    result.wall_seconds = time.perf_counter() - started
    return result


# --- the trigger policy: the real loop ---------------------------------------------------------


class ReplayScorer:
    """The replay's deployment: the registry champion's model, loaded with ``modeling.load_classifier``."""

    def __init__(self, model_name: str, cache_dir: Path) -> None:
        self.model_name = model_name
        self.cache_dir = cache_dir
        self.version: str | None = None
        self.folder: Path | None = None
        self.classifier: modeling.Classifier | None = None

    def deploy(self, version: str) -> dict[str, Any]:
        from ctloop.registry import open_registry

        registry = open_registry(self.model_name)
        folder = registry.download(version, self.cache_dir / version)
        self.classifier = modeling.load_classifier(folder)
        self.version, self.folder = version, Path(folder)
        registry.record_deployed(version)
        return {"slot": "replay", "model_dir": str(folder)}


def run_trigger_policy(
    stream: Stream,
    batches: list[Batch],
    config: ReplayConfig,
    settings: Any,
    home: Path,
    pipeline: Path,
    policies: Path,
    model_name: str,
) -> PolicyResult:
    """The trigger policy through monitor -> check -> in-process pipeline, state under ``home``."""
    from ctloop.loop.cycle import Loop, turn
    from ctloop.loop.pipeline import InProcessRetrainer, triggers_input
    from ctloop.monitor.history import History
    from ctloop.monitor.labels import LabelReader, write_labels
    from ctloop.monitor.logs import INPUTS, OUTPUTS, LogReader, collector_event, write_events
    from ctloop.monitor.reference import reference_from_folder
    from ctloop.monitor.service import Monitor, utc

    started = time.perf_counter()
    os.environ["CTLOOP_HOME"] = str(home)
    os.environ.pop("MLFLOW_TRACKING_URI", None)
    landing, labels_dir = home / "landing", home / "monitor" / "labels"
    log_dir = home / "endpoint" / "replay" / "logs"
    landing.mkdir(parents=True, exist_ok=True)
    stream.frame.iloc[: stream.warmup_rows].to_parquet(landing / "batch-00000-warmup.parquet", index=False)

    scorer = ReplayScorer(model_name, home / "deployed")
    references: dict[str, Any] = {}

    def reference() -> Any:
        if scorer.version is None:
            return None
        if scorer.version not in references:
            references[scorer.version] = reference_from_folder(scorer.folder, scorer.version)
        return references[scorer.version]

    origin = utc(stream.frame[stream.time_column].iloc[stream.warmup_rows])
    window = replace(settings.monitor, window_hours=24.0 * config.batch_days)  # one window per batch
    monitor = Monitor(
        window,
        History(home / "monitor" / "history.sqlite"),
        LogReader([log_dir]),
        LabelReader(labels_dir),
        reference,
        scope="replay",
        origin=origin,
    )
    retrainer = InProcessRetrainer(pipeline)
    loop = Loop(
        monitor,
        settings.triggers,
        model_name,
        retrainer,
        {"landing": landing, "policies": policies, "model_name": model_name},
        home / "work",
        deployer=lambda r: scorer.deploy(str(r.version)),
        triggers_input=triggers_input(pipeline),
    )
    result = PolicyResult("trigger")

    def note(t: Any, batch: int) -> None:
        if t.result is not None:
            result.compute_seconds += t.result.fit_seconds
            result.retrains.append(
                {
                    "batch": batch,
                    "time": str(t.as_of),
                    "fired": t.decision.fired,
                    "promoted": t.result.promoted,
                    "version": t.result.version,
                    "status": t.result.status,
                    "fit_seconds": t.result.fit_seconds,
                    "wall_seconds": round(t.result.wall_seconds, 3),
                    "reason": t.result.reason,
                }
            )

    first = turn(loop, origin)  # no champion yet: trains the first one on the warm-up
    note(first, -1)
    if scorer.classifier is None:
        raise RuntimeError(f"the first training run did not produce a champion: {first.result}")
    delay = pd.Timedelta(days=config.label_delay_days)
    for batch in batches:
        frame = batch.frame
        times = frame[stream.time_column]
        tic = time.perf_counter()
        p = np.asarray(scorer.classifier.predict_proba(frame[stream.features]), dtype=float)
        latency = (time.perf_counter() - tic) * 1000 / max(len(frame), 1)
        threshold = config.decision_threshold
        events = []
        ids = [f"replay-{row}" for row in range(batch.start_row, batch.end_row)]
        features = frame[stream.features].to_dict("records")
        for rid, when, x, prob in zip(ids, times, features, p, strict=True):
            at = utc(when) + pd.Timedelta(hours=12)
            common = dict(model_version=str(scorer.version), status=200, latency_ms=latency, source="replay")
            events.append(collector_event(INPUTS, at, rid, [x], **common))
            events.append(
                collector_event(
                    OUTPUTS,
                    at,
                    rid,
                    [{"prediction": int(prob >= threshold), "probability": float(prob)}],
                    **common,
                )
            )
        write_events(log_dir, events)
        y = frame[stream.label].to_numpy(dtype=int)
        write_labels(
            labels_dir / f"labels-{batch.index:05d}.parquet",
            pd.DataFrame(
                {
                    "request_id": ids,
                    "row": 0,
                    "label": y,
                    "time": [utc(t) + delay + pd.Timedelta(hours=12) for t in times],
                }
            ),
        )
        frame.to_parquet(landing / f"batch-{batch.index + 1:05d}.parquet", index=False)
        score, end = batch_score(stream, batch, p, y, threshold, config.primary_metric, scorer.version)
        result.batches.append(score)
        note(turn(loop, utc(end) + delay, since=origin), batch.index)
    result.wall_seconds = time.perf_counter() - started
    return result


# --- the trigger policy in-process (benchmark streams) ------------------------------------------

# The recent-window candidate and the split of both candidates are the prep step's own
# (ctloop.steps.prep), so the replay and the pipeline choose them the same way.
__all__ = ["CHANGE_TRIGGERS", "RecentWindow", "candidate_splits"]


@dataclass
class _Champion:
    model: Any
    version: int
    reference: Any  # ctloop.monitor.window.Reference
    since_batch: int  # first batch scored since it last won the gate
    gate_metric: float | None
    confirmed_drift: float | None = None
    kept: int = 0  # lost gates in a row after a loss trigger that left it unconfirmed (triggers.confirms)


def _reference(model: Any, train: pd.DataFrame, stream: Stream, version: int, rows: int, seed: int) -> Any:
    from ctloop.monitor.window import Reference

    sample = train if len(train) <= rows else train.sample(n=rows, random_state=seed).sort_index()
    frame = sample[stream.features].reset_index(drop=True)
    scores = np.asarray(model.predict_proba(frame), dtype=float)
    importance = metrics.permutation_importance(
        lambda x: np.asarray(model.predict_proba(x), dtype=float),
        frame,
        sample[stream.label].to_numpy(dtype=int),
        list(stream.features),
        seed=seed,
    )
    return Reference(str(version), frame, scores, list(stream.features), importance)


def candidate_splits(
    frame: pd.DataFrame, stream: Stream, config: ReplayConfig, recent: RecentWindow | None
) -> tuple[list[tuple[str, pd.DataFrame]], pd.DataFrame]:
    """Training sets of the candidates and the eval slice they are judged on (time-ordered).

    Without ``recent``: the pipeline's split. With it: :func:`ctloop.steps.prep.candidate_split`,
    the same split the prep step writes when a change trigger fired.
    """
    parts = candidate_split(
        frame,
        time_column=stream.time_column,
        label=stream.label,
        split=config.split,
        recent=recent,
        min_eval_rows=config.gate_policy.min_eval_rows,
    )
    return [(name, rows) for name, rows, _ in parts.trains], parts.eval


def run_trigger_inprocess(
    stream: Stream,
    batches: list[Batch],
    config: ReplayConfig,
    settings: Any,
    cache: FitCache,
    recent: RecentWindow | None,
    reference_rows: int = 5000,
) -> PolicyResult:
    """The trigger policy without files: the monitor's window statistics (``ctloop.monitor.window``),
    ``ctloop.triggers.evaluate`` and the gate, on the same split/trainer as the baselines.

    One monitor window is one batch; the recent metric and the drift sample cover the policy's
    lookbacks; the baseline is pooled over the champion's first ``baseline_windows`` batches since
    it last won the gate (the gate's metric before that); a retrain whose champion wins and
    clears the floor confirms it, unless :func:`ctloop.triggers.confirms` keeps it unconfirmed.
    Candidates per :func:`candidate_splits` when a change trigger fired.
    """
    from ctloop import triggers
    from ctloop.monitor import window

    started = time.perf_counter()
    policy, monitor = settings.triggers, settings.monitor
    result = PolicyResult("trigger")
    seed = int(config.trainer_options.get("seed", 0))
    warm = _split(stream.frame.iloc[: stream.warmup_rows], stream, config)
    model, seconds = cache.fit(warm.train, stream, config)
    result.compute_seconds += seconds
    champ = _Champion(model, 1, _reference(model, warm.train, stream, 1, reference_rows, seed), 0, None)
    champ.gate_metric = (
        metrics.metric(
            config.primary_metric,
            warm.eval[stream.label].to_numpy(dtype=int),
            model.predict_proba(warm.eval[stream.features]),
        )
        if config.primary_metric != "accuracy"
        else None
    )
    scored: list[pd.DataFrame] = []  # per batch: features, time, label, probability, prediction, version
    stats: list[dict[str, Any]] = []  # per batch: its own performance (ctloop.monitor.window.performance)
    lookback = max(monitor.performance_lookback_days, monitor.drift_lookback_days)
    keep = int(np.ceil(lookback / config.batch_days)) + 1
    last_retrain: int | None = None
    last_change: int | None = None  # batch of the last retrain a trigger of recent.when started
    day = pd.Timedelta(days=1)
    for batch in batches:
        frame = batch.frame
        p = np.asarray(champ.model.predict_proba(frame[stream.features]), dtype=float)
        y = frame[stream.label].to_numpy(dtype=int)
        score, end = batch_score(
            stream, batch, p, y, config.decision_threshold, config.primary_metric, champ.version
        )
        result.batches.append(score)
        rows = frame[stream.features].reset_index(drop=True)
        rows["time"] = frame[stream.time_column].to_numpy()
        rows["label"], rows["probability"] = y, p
        rows["prediction"] = (p >= config.decision_threshold).astype(int)
        rows["version"], rows["batch"] = champ.version, batch.index
        scored.append(rows)
        stats.append(window.performance(rows))
        history = pd.concat(scored[-keep:], ignore_index=True)
        own = history[history["version"] == champ.version]
        lately = own[own["time"] >= end - monitor.performance_lookback_days * day]
        perf = window.performance(lately, prefix="recent_")
        if perf["recent_labelled_rows"] < monitor.min_labelled_rows:
            perf = dict.fromkeys(perf, None)
        current = history[history["time"] >= end - monitor.drift_lookback_days * day]
        drift = window.data_drift(current[stream.features], champ.reference, monitor)
        served = [
            stats[i]
            for i, b in enumerate(scored)
            if int(b["version"].iloc[0]) == champ.version and int(b["batch"].iloc[0]) >= champ.since_batch
        ]
        baseline, baseline_se = champ.gate_metric, None
        cal, cal_se = None, None
        if len(served) >= policy.baseline_windows > 1:
            first = served[: policy.baseline_windows]
            baseline, baseline_se = triggers.pooled(
                [f["roc_auc"] for f in first], [f["roc_auc_se"] for f in first]
            )
            cal, cal_se = triggers.pooled(
                [f["calibration_gap"] for f in first], [f["calibration_se"] for f in first]
            )
        since = batch.index - last_retrain if last_retrain is not None else None
        inputs = triggers.TriggerInputs(
            has_champion=True,
            baseline=baseline,
            current=perf.get("recent_roc_auc"),
            champion_age_days=(batch.index + 1 - champ.since_batch) * config.batch_days,
            drift_score=drift["drift_score"],
            new_labelled_rows=int(sum(len(b) for b in scored[-since:])) if since else len(history),
            hours_since_retrain=since * config.batch_days * 24.0 if since is not None else None,
            baseline_se=baseline_se,
            current_se=perf.get("recent_roc_auc_se"),
            floor=config.gate_policy.floor,
            drift_confirmed=champ.confirmed_drift,
            calibration_gap=perf.get("recent_calibration_gap"),
            calibration_se=perf.get("recent_calibration_se"),
            calibration_baseline=cal,
            calibration_baseline_se=cal_se,
        )
        decision = triggers.evaluate(inputs, policy)
        if not decision.retrain:
            continue
        last_retrain = batch.index
        fired = list(decision.fired)
        if recent is not None and recent.due(fired):
            last_change = batch.index
        elif (
            recent is not None
            and last_change is not None
            and recent.after_change((batch.index - last_change) * config.batch_days)
        ):
            fired.append(AFTER_CHANGE)
        changed = recent is not None and recent.due(fired)
        data = stream.frame.iloc[: batch.end_row]
        trains, eval_part = candidate_splits(data, stream, config, recent if changed else None)
        x_eval, y_eval = eval_part[stream.features], eval_part[stream.label].to_numpy(dtype=int)
        fitted: list[tuple[str, Any, pd.DataFrame, np.ndarray]] = []
        fit_total = 0.0
        for name, train in trains:
            candidate, seconds = cache.fit(train, stream, config)
            fit_total += seconds
            fitted.append((name, candidate, train, np.asarray(candidate.predict_proba(x_eval), dtype=float)))
        result.compute_seconds += fit_total
        chosen, _ = gate.pick_candidate(y_eval, [f[3] for f in fitted], config.gate_policy)
        name, candidate, train, scores = fitted[chosen]
        champion_scores = np.asarray(champ.model.predict_proba(x_eval), dtype=float)
        verdict = gate.decide(y_eval, scores, champion_scores, config.gate_policy, str(champ.version))
        if verdict.promote:
            version = champ.version + 1
            champ = _Champion(
                candidate,
                version,
                _reference(candidate, train, stream, version, reference_rows, seed),
                batch.index + 1,
                verdict.challenger,
            )
        elif verdict.champion is not None and verdict.champion >= config.gate_policy.floor:
            if triggers.confirms(decision.fired, champ.kept, policy):
                champ.since_batch, champ.gate_metric = batch.index + 1, verdict.champion
                champ.confirmed_drift, champ.kept = drift["drift_score"], 0
            else:
                champ.kept += 1
        result.retrains.append(
            {
                "batch": batch.index,
                "time": str(end),
                "fired": decision.fired,
                "after_change": AFTER_CHANGE in fired,
                "candidate": name,
                "promoted": verdict.promote,
                "fit_seconds": round(fit_total, 4),
                "reason": verdict.reason,
            }
        )
    result.wall_seconds = time.perf_counter() - started
    return result
