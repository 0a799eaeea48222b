"""``ctloop report``: a static HTML page with PNG plots from the metrics history and the replay.

Sources: the metrics history (``.ctloop/monitor/history.sqlite``; when it has no window, the
replay's trigger-policy history) and the replay results (``.ctloop/replay/replay.json``), each
optional. The page needs no server and no script to show; a small inline script only marks
``<body data-images-loaded="true">`` once every image has loaded (the browser test reads it).
"""

from __future__ import annotations

import html
import json
from pathlib import Path
from typing import Any

import pandas as pd

from ctloop import paths
from ctloop.report import plots

INDEX = "index.html"


class ReportError(ValueError):
    """Nothing to report, or an unreadable source; names the file and the reason."""


def _windows(history: Any, scope: str | None) -> tuple[pd.DataFrame, str | None]:
    rows = history.windows()
    if not rows:
        return pd.DataFrame(
            columns=["end", "primary", "recent_primary", "drift_score", "prediction_drift"]
        ), scope
    if scope is None:
        counts = pd.Series([r.scope for r in rows]).value_counts()
        scope = str(counts.index[0])
    data = [
        {
            "end": pd.Timestamp(r.window_end),
            **{k: r.metrics.get(k) for k in ("primary", "recent_primary", "drift_score", "prediction_drift")},
        }
        for r in rows
        if r.scope == scope
    ]
    frame = pd.DataFrame(data)
    for col in ("primary", "recent_primary", "drift_score", "prediction_drift"):
        frame[col] = pd.to_numeric(frame[col], errors="coerce")
    return frame, scope


def _events(history: Any, scope: str | None) -> tuple[pd.DataFrame, list[pd.Timestamp], list[pd.Timestamp]]:
    retrains = [
        {
            "time": pd.Timestamp(e.time),
            "promoted": bool(e.detail.get("promoted")),
            "fit_seconds": float(e.detail.get("fit_seconds") or 0.0),
        }
        for e in history.events(scope, "retrain")
    ]
    frame = pd.DataFrame(retrains, columns=["time", "promoted", "fit_seconds"])
    deploys = [pd.Timestamp(e.time) for e in history.events(scope, "deploy")]
    return frame, list(frame["time"]), deploys


def _replay_table(replay: dict[str, Any]) -> str:
    metric = html.escape(str(replay.get("primary_metric", "metric")))
    head = (
        f"<tr><th>policy</th><th>mean {metric}</th><th>{metric} over the drifted period</th>"
        "<th>retrains</th><th>promoted</th><th>training compute (s)</th></tr>"
    )

    def num(v: Any) -> str:
        return "n/a" if v is None else f"{v:.4f}"

    body = "".join(
        f"<tr><td>{html.escape(r['policy'])}</td><td>{num(r['mean_metric'])}</td><td>{num(r['drifted_metric'])}</td>"
        f"<td>{r['retrains']}</td><td>{r['promotions']}</td><td>{r['compute_seconds']:.2f}</td></tr>"
        for r in replay.get("table", [])
    )
    note = (
        f"{replay.get('batches')} batches of {replay.get('batch_days')} days of "
        f"{html.escape(str(replay.get('dataset')))}; "
        f"drifted period from row {replay.get('drifted_from_row')}; "
        f"replay wall time {replay.get('wall_seconds')} s"
    )
    return f'<table id="replay-table">{head}{body}</table><p class="note">{note}</p>'


def _replay_frames(replay: dict[str, Any]) -> tuple[dict[str, pd.DataFrame], Any]:
    frames, drifted_start = {}, None
    for name, result in (replay.get("policies") or {}).items():
        batches = pd.DataFrame(result.get("batches") or [])
        if batches.empty:
            continue
        batches["start"] = pd.to_datetime(batches["start"], utc=True, format="mixed")
        batches["metric"] = pd.to_numeric(batches["metric"], errors="coerce")
        frames[name] = batches
        drifted = batches[batches["start_row"] >= int(replay.get("drifted_from_row", 0))]
        if not drifted.empty:
            drifted_start = drifted["start"].iloc[0]
    return frames, drifted_start


def _threshold(replay: dict[str, Any] | None, from_replay: bool, policies: str | None) -> float | None:
    if from_replay and replay:
        drift = (replay.get("thresholds") or {}).get("drift") or {}
        return float(drift["threshold"]) if drift.get("enabled", True) and "threshold" in drift else None
    from ctloop.monitor.settings import load_settings

    return load_settings(policies).triggers.drift_threshold


_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>ctloop dashboard</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2em; max-width: 960px; color: #222; }}
img {{ max-width: 100%; border: 1px solid #ddd; margin: .5em 0 1.5em; }}
table {{ border-collapse: collapse; }}
td, th {{ border: 1px solid #ccc; padding: .3em .7em; text-align: right; }}
td:first-child, th:first-child {{ text-align: left; }} .note {{ color: #666; font-size: .9em; }}
</style></head>
<body data-images-loaded="pending">
<h1>ctloop: continuous training dashboard</h1>
<p class="note">{subtitle}</p>
{sections}
<script>
window.addEventListener("load", function () {{
  var imgs = Array.prototype.slice.call(document.images);
  var ok = imgs.length > 0 && imgs.every(function (i) {{ return i.complete && i.naturalWidth > 0; }});
  document.body.setAttribute("data-images-loaded", ok ? "true" : "false");
  document.body.setAttribute("data-images-count", String(imgs.length));
}});
</script>
</body></html>
"""


def _section(title: str, body: str) -> str:
    return f"<h2>{html.escape(title)}</h2>\n{body}\n"


def _img(name: str, alt: str) -> str:
    return f'<img src="{name}" alt="{html.escape(alt)}" width="900">'


def write_report(
    history: str | Path | None = None,
    replay: str | Path | None = None,
    out: str | Path | None = None,
    scope: str | None = None,
    policies: str | None = None,
) -> Path:
    """Write ``<out>/index.html`` and its PNGs; returns the page's path."""
    from ctloop.monitor.history import History, default_path

    out = Path(out) if out else paths.state_dir() / "report"
    replay_path = Path(replay) if replay else paths.state_dir() / "replay" / "replay.json"
    replay_data: dict[str, Any] | None = None
    if replay_path.is_file():
        try:
            replay_data = json.loads(replay_path.read_text())
        except json.JSONDecodeError as exc:
            raise ReportError(f"{replay_path}: invalid JSON: {exc.msg}") from None
    elif replay:
        raise ReportError(f"{replay_path}: replay results not found")

    history_path = Path(history) if history else default_path()
    from_replay = False
    if not history and (not history_path.is_file() or not History(history_path).windows()) and replay_data:
        history_path, from_replay, scope = Path(replay_data["trigger_history"]), True, scope or "replay"
    if not history_path.is_file() and replay_data is None:
        raise ReportError(f"{history_path}: no metrics history and no replay results to report")

    out.mkdir(parents=True, exist_ok=True)
    sections = []
    metric = (replay_data or {}).get("primary_metric", "roc_auc")
    if history_path.is_file():
        store = History(history_path)
        windows, scope = _windows(store, scope)
        retrains, retrain_times, deploys = _events(store, scope)
        plots.metric_plot(out / "metric.png", windows, retrain_times, deploys, metric)
        plots.drift_plot(out / "drift.png", windows, _threshold(replay_data, from_replay, policies))
        plots.trainings_plot(out / "trainings.png", retrains)
        compute = {r["policy"]: r["compute_seconds"] for r in (replay_data or {}).get("table", [])}
        plots.compute_plot(out / "compute.png", retrains, compute)
        source = (
            f"metrics history {history_path} (scope {scope}): {len(windows)} windows, "
            f"{len(retrains)} retrains, {len(deploys)} deployments"
        )
        sections += [
            _section(
                "Primary metric, retrains and deployments", _img("metric.png", "primary metric over time")
            ),
            _section("Drift score", _img("drift.png", "drift score with its threshold")),
            _section("Training runs per month", _img("trainings.png", "training runs per month")),
            _section("Training compute", _img("compute.png", "compute seconds")),
        ]
    else:
        source = "no metrics history"
    if replay_data:
        frames, drifted_start = _replay_frames(replay_data)
        plots.replay_plot(out / "replay.png", frames, metric, drifted_start)
        sections.append(
            _section("Replay comparison", _replay_table(replay_data) + _img("replay.png", "replay metric"))
        )
    page = _PAGE.format(subtitle=html.escape(source), sections="\n".join(sections))
    index = out / INDEX
    index.write_text(page, encoding="utf-8")
    return index
