"""``ctloop report``: one static HTML page (inline CSS and SVG, no script, no fetch).

By default the page shows the real local history (:func:`ctloop.report.state.read_local`): engine
runs with runs and compute hours per month, model versions and champions, monitor windows and
deployments. With ``replay`` it shows a replay's results instead. The header's totals come from
the same :class:`~ctloop.report.state.Totals` object as the tables' footers, computed once. The
only time on the page is the injected clock's, so the same state gives the same bytes.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path

from ctloop import paths
from ctloop.report import charts
from ctloop.report.state import LocalHistory, ReplayView, ReportError, parse_time, read_local, read_replay

__all__ = ["INDEX", "ReportError", "render_local", "render_replay", "write_report"]

INDEX = "index.html"

_CSS = """
body { font-family: system-ui, sans-serif; margin: 0 auto; padding: 1.5em 2em; max-width: 920px; }
body { color: #222; }
header, section { display: block; margin: 0 0 1.5em; }
h1 { font-size: 1.5em; margin: 0 0 .2em; } h2 { font-size: 1.2em; margin: 1em 0 .4em; }
.note { color: #666; font-size: .9em; margin: .2em 0; overflow-wrap: anywhere; }
.totals { display: flex; flex-wrap: wrap; gap: .5em; margin: .8em 0 0; padding: 0; }
.totals div { border: 1px solid #ccd; border-radius: 4px; padding: .3em .7em; min-width: 7em; }
.totals dt { font-size: .8em; color: #555; } .totals dd { margin: 0; font-size: 1.2em; font-weight: 600; }
figure.chart { margin: .5em 0 1em; } figcaption { font-weight: 600; margin-bottom: .2em; }
svg { display: block; max-width: 100%; height: auto; font-size: 11px; }
svg .grid { stroke: #e4e4e4; } svg .axis { stroke: #888; }
svg .marker { stroke: #c23b3b; stroke-dasharray: 4 3; }
svg text { fill: #333; } svg .unit { fill: #666; }
table { border-collapse: collapse; width: 100%; table-layout: auto; font-size: .9em; }
td, th { border: 1px solid #ccc; padding: .25em .5em; text-align: right; overflow-wrap: break-word; }
th { white-space: nowrap; }
td.text, th.text { text-align: left; } tfoot td { font-weight: 600; background: #f4f4f8; }
code { background: #f2f2f2; padding: 0 .2em; }
"""


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def _page(title: str, header: str, sections: Sequence[str]) -> str:
    body = "\n".join(sections)
    return (
        '<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{_e(title)}</title><style>{_CSS}</style></head>\n"
        f"<body>\n{header}\n{body}\n</body></html>\n"
    )


def _header(title: str, source: str, generated: datetime, totals: Sequence[tuple[str, str, str]]) -> str:
    cards = "".join(
        f'<div><dt>{_e(label)}</dt><dd data-total="{_e(key)}">{_e(value)}</dd></div>'
        for key, label, value in totals
    )
    return (
        f'<header id="summary"><h1>{_e(title)}</h1>'
        f'<p class="note">{_e(source)}; generated {generated.astimezone(UTC):%Y-%m-%d %H:%M} UTC</p>'
        f'<dl class="totals">{cards}</dl></header>'
    )


def _table(
    table_id: str, head: Sequence[str], rows: Sequence[Sequence[object]], foot: Sequence[object] = ()
) -> str:
    """A table; the first column is text, numbers align right."""

    def cells(tag: str, values: Sequence[object]) -> str:
        return "".join(
            f'<{tag} class="text">{_e(v)}</{tag}>'
            if i == 0 or (isinstance(v, str) and not _numeric(v))
            else f"<{tag}>{_e(v)}</{tag}>"
            for i, v in enumerate(values)
        )

    thead = f"<thead><tr>{cells('th', head)}</tr></thead>"
    tbody = "".join(f"<tr>{cells('td', r)}</tr>" for r in rows)
    tfoot = f"<tfoot><tr>{cells('td', foot)}</tr></tfoot>" if foot else ""
    return f'<table id="{_e(table_id)}">{thead}<tbody>{tbody}</tbody>{tfoot}</table>'


def _numeric(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def hours(value: float) -> str:
    """Hours, 3 significant digits in plain decimals: short local runs (``0.000128``) and long ones."""
    return charts.number(value)


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def _section(section_id: str, title: str, body: str) -> str:
    return f'<section id="{_e(section_id)}"><h2>{_e(title)}</h2>{body}</section>'


def _clock(now: Callable[[], datetime] | None) -> datetime:
    return (now or (lambda: datetime.now(UTC)))()


# --- the local history ---------------------------------------------------------------------------
_WHAT_TO_RUN = (
    "<p>Nothing is recorded yet under <code>{home}</code>. To fill this page:</p><ul>"
    "<li><code>make run-pipeline</code>: a training run (engine record, registry version, champion)</li>"
    "<li><code>ctloop rollout start --eval &lt;labelled data folder&gt;</code>: a blue/green deployment</li>"
    "<li><code>ctloop monitor</code> or <code>ctloop loop</code>: monitor windows and retrains</li>"
    "<li><code>ctloop replay --compare</code> then <code>ctloop report --replay</code>: "
    "the replay's results</li>"
    "</ul>"
)


def render_local(state: LocalHistory, generated: datetime, drift_threshold: float | None = None) -> str:
    """The local dashboard's HTML for ``state``."""
    totals = state.totals()
    status_text = ", ".join(f"{n} {s}" for s, n in totals.runs_by_status) or "none"
    champions = ", ".join(f"{m} v{v}" for m, v in totals.champions) or "none"
    header = _header(
        "ctloop: continuous training dashboard",
        f"local state {state.home}",
        generated,
        [
            ("runs", "pipeline runs", str(totals.runs)),
            ("runs_by_status", "by status", status_text),
            ("compute_hours", "compute (hours)", hours(totals.compute_hours)),
            ("versions", "model versions", str(totals.versions)),
            ("champions", "champion", champions),
            ("windows", "monitor windows", str(totals.windows)),
            ("deployments", "deployment records", str(totals.deployments)),
        ],
    )
    if state.empty:
        return _page(
            "ctloop dashboard",
            header,
            [_section("empty", "Nothing to show yet", _WHAT_TO_RUN.format(home=_e(state.home)))],
        )
    runs, compute = state.runs_per_period(), state.compute_hours_per_period()
    run_rows = [
        (
            r.run_id,
            r.name,
            r.status,
            f"{r.started:%Y-%m-%d %H:%M:%S}",
            "" if r.duration_s is None else f"{r.duration_s:.1f}",
            r.steps,
            r.cache_hits,
            hours(r.compute_s / 3600.0),
        )
        for r in state.runs
    ]
    sections = [
        _section(
            "runs",
            "Pipeline runs",
            charts.bar_chart(
                "runs-per-period", f"Pipeline runs per {runs.unit}", runs.items, "runs", counts=True
            )
            + charts.bar_chart(
                "compute-per-period",
                f"Compute per {compute.unit} (sum of step durations)",
                compute.items,
                "hours",
            )
            + _table(
                "runs-table",
                ["run", "pipeline", "status", "started (UTC)", "wall (s)", "steps", "cached", "compute (h)"],
                run_rows,
                [
                    "total",
                    _count(totals.runs, "run"),
                    status_text,
                    "",
                    "",
                    "",
                    "",
                    hours(totals.compute_hours),
                ],
            ),
        ),
        _section(
            "models",
            "Model versions",
            _table(
                "models-table",
                ["model", "version", "registered", "status", "pointers", "promoted at"],
                [
                    (
                        v.model,
                        v.version,
                        v.created,
                        v.status,
                        " ".join(v.aliases) or "-",
                        v.promoted_at or "-",
                    )
                    for v in state.versions
                ],
                ["total", _count(totals.versions, "version"), "", "", f"champion: {champions}", ""],
            ),
        ),
        _windows_section(state, totals.windows, drift_threshold),
        _section(
            "deployments",
            "Deployments",
            _table(
                "deployments-table",
                ["time", "model", "version", "outcome", "source"],
                [(d.time, d.model or "-", d.version, d.outcome, d.source) for d in state.deployments],
                ["total", _count(totals.deployments, "record"), "", "", ""],
            ),
        ),
    ]
    return _page("ctloop dashboard", header, sections)


def _windows_section(state: LocalHistory, total: int, threshold: float | None) -> str:
    scopes = sorted({w.scope for w in state.windows})
    rows = []
    series: dict[str, list[tuple[datetime, float | None]]] = {}
    for scope in scopes:
        mine = [w for w in state.windows if w.scope == scope]
        last = mine[-1]
        above = sum(
            1
            for w in mine
            if threshold is not None and w.drift_score is not None and w.drift_score >= threshold
        )
        rows.append(
            (
                scope,
                len(mine),
                mine[0].start,
                last.end,
                "-" if last.primary is None else f"{last.primary:.4f}",
                "-" if last.drift_score is None else f"{last.drift_score:.4f}",
                "-" if threshold is None else above,
            )
        )
        series[scope] = [(parse_time(w.end, "history", "window_end"), w.primary) for w in mine]
    chart = (
        charts.line_chart("primary-per-window", "Primary metric per monitor window", series, "metric")
        if rows
        else ""
    )
    drift_head = "drift ≥ threshold" if threshold is None else f"drift ≥ {threshold:g}"
    return _section(
        "windows",
        "Monitor windows",
        chart
        + _table(
            "windows-table",
            ["scope", "windows", "first start", "last end", "last primary", "last drift", drift_head],
            rows,
            ["total", total, "", "", "", "", ""],
        ),
    )


# --- a replay ------------------------------------------------------------------------------------
def render_replay(view: ReplayView, generated: datetime) -> str:
    """The replay dashboard's HTML for ``view``."""
    totals = view.totals()
    data = view.data
    metric = str(data.get("primary_metric", "metric"))
    header = _header(
        "ctloop: replay results",
        f"replay {view.path}: {data.get('batches')} batches of {data.get('batch_days')} days "
        f"of {data.get('dataset')}",
        generated,
        [
            ("policies", "policies", str(totals.policies)),
            ("batches", "batches", str(totals.batches)),
            ("retrains", "retrains", str(totals.retrains)),
            ("promotions", "promotions", str(totals.promotions)),
            ("compute_hours", "training compute (hours)", hours(totals.compute_hours)),
        ],
    )

    def num(value: object) -> str:
        return "n/a" if value is None else f"{float(value):.4f}"  # type: ignore[arg-type]

    rows = [
        (
            r["policy"],
            num(r.get("mean_metric")),
            num(r.get("drifted_metric")),
            int(r["retrains"]),
            int(r["promotions"]),
            hours(float(r["compute_seconds"]) / 3600.0),
        )
        for r in view.rows
    ]
    retrains = view.retrains_per_period()
    compute = [(str(r["policy"]), float(r["compute_seconds"]) / 3600.0) for r in view.rows]
    sections = [
        _section(
            "replay",
            "Policies compared",
            _table(
                "replay-table",
                [
                    "policy",
                    f"mean {metric}",
                    f"{metric} over the drifted period",
                    "retrains",
                    "promoted",
                    "compute (h)",
                ],
                rows,
                ["total", "", "", totals.retrains, totals.promotions, hours(totals.compute_hours)],
            )
            + f'<p class="note">drifted period from row {_e(data.get("drifted_from_row"))}; '
            f"replay wall time {_e(data.get('wall_seconds'))} s</p>",
        ),
        _section(
            "charts",
            "Over time",
            charts.line_chart(
                "metric-per-batch",
                f"{metric} per batch under each policy",
                view.metric_series(),
                metric,
                marker=view.drifted_start(),
            )
            + charts.bar_chart(
                "retrains-per-period",
                f"Retrains per {retrains.unit} (trigger policy)",
                retrains.items,
                "retrains",
                counts=True,
            )
            + charts.bar_chart("compute-per-policy", "Training compute per policy", compute, "hours"),
        ),
    ]
    return _page("ctloop replay dashboard", header, sections)


# --- entry point ---------------------------------------------------------------------------------
def _drift_threshold(policies: str | None) -> float | None:
    from ctloop.monitor.settings import load_settings

    return load_settings(policies).triggers.drift_threshold


def write_report(
    history: str | Path | None = None,
    replay: str | Path | None = None,
    out: str | Path | None = None,
    scope: str | None = None,
    policies: str | None = None,
    now: Callable[[], datetime] | None = None,
) -> Path:
    """Write ``<out>/index.html`` (default ``.ctloop/report``) and return its path.

    ``replay`` (a ``replay.json`` or its folder; ``""`` for ``.ctloop/replay``) shows that replay;
    otherwise the local state is shown, ``history`` replacing the monitor's metrics history and
    ``scope`` keeping one monitor scope. Sources are read before anything is written.
    """
    out = Path(out) if out else paths.state_dir() / "report"
    if replay is not None:
        view = read_replay(Path(replay) if str(replay) else paths.state_dir() / "replay")
        text = render_replay(view, _clock(now))
    else:
        if history and not Path(history).is_file():
            raise ReportError(f"{history}: --history: metrics history not found")
        state = read_local(history=Path(history) if history else None)
        if scope is not None:
            state = LocalHistory(
                state.home,
                state.runs,
                state.versions,
                [w for w in state.windows if w.scope == scope],
                state.deployments,
            )
        threshold = _drift_threshold(policies) if state.windows else None
        text = render_local(state, _clock(now), threshold)
    out.mkdir(parents=True, exist_ok=True)
    index = out / INDEX
    index.write_text(text, encoding="utf-8")
    return index
