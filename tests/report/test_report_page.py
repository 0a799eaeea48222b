"""``ctloop report`` on a real local history: engine runs, registry versions, monitor windows.

The history is built once per module by the real code paths (the engine runs a toy pipeline twice,
the local MLflow registry registers a small real model, the metrics history records windows), then
the page's header, tables and charts are checked against the records themselves.
"""

from __future__ import annotations

import html
import json
import re
import shutil
import subprocess
from collections import Counter
from datetime import UTC, datetime
from html.parser import HTMLParser
from pathlib import Path

import pytest

from ctloop.cli import main
from ctloop.monitor.history import History, WindowRow
from ctloop.report.charts import BAR_COLOR as charts_color
from ctloop.report.page import write_report
from ctloop.report.state import ReportError, periods, read_runs

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "engine"
CLOCK = datetime(2030, 1, 2, 3, 4, tzinfo=UTC)
MODEL = "rain-report"


def clock() -> datetime:
    return CLOCK


class Page(HTMLParser):
    """The parts of the dashboard the tests read: header totals, table cells, chart bars."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.totals: dict[str, str] = {}
        self.tables: dict[str, dict[str, list[list[str]]]] = {}
        self.bars: dict[str, list[tuple[str, float]]] = {}
        self.sections: list[str] = []
        self._total: str | None = None
        self._table: str | None = None
        self._part = ""
        self._cell: list[str] | None = None
        self._chart: str | None = None
        self.feed(text)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "dd" and a.get("data-total"):
            self._total = a["data-total"]
            self.totals[self._total] = ""
        elif tag in ("section", "header") and a.get("id"):
            self.sections.append(str(a["id"]))
        elif tag == "table":
            self._table = str(a["id"])
            self.tables[self._table] = {"thead": [], "tbody": [], "tfoot": []}
        elif tag in ("thead", "tbody", "tfoot"):
            self._part = tag
        elif tag == "tr" and self._table:
            self.tables[self._table][self._part].append([])
        elif tag in ("td", "th") and self._table:
            self._cell = []
        elif tag == "figure" and a.get("id"):
            self._chart = str(a["id"])
            self.bars[self._chart] = []
        elif tag == "rect" and a.get("class") == "bar" and self._chart:
            self.bars[self._chart].append((str(a["data-label"]), float(str(a["data-value"]))))

    def handle_endtag(self, tag: str) -> None:
        if tag == "dd":
            self._total = None
        elif tag in ("td", "th") and self._table and self._cell is not None:
            self.tables[self._table][self._part][-1].append("".join(self._cell).strip())
            self._cell = None
        elif tag == "table":
            self._table = None
        elif tag == "figure":
            self._chart = None

    def handle_data(self, data: str) -> None:
        if self._total:
            self.totals[self._total] += data
        if self._cell is not None:
            self._cell.append(data)


# --- the local history, built by the real code ------------------------------------------------------
def _register_versions(home: Path) -> None:
    from threadpoolctl import threadpool_limits

    from ctloop import trainers
    from ctloop.datasets import RAINFALL_FEATURES, RAINFALL_LABEL, load_rainfall
    from ctloop.registry.local import LocalRegistry

    frame = load_rainfall().iloc[14_000:14_400]
    folder = home.parent / "model"
    with threadpool_limits(limits=1, user_api="openmp"):
        fitted = trainers.train_hgb(
            frame[list(RAINFALL_FEATURES)], frame[RAINFALL_LABEL].to_numpy(), {"max_iter": 5}
        )
        fitted.save(folder, frame[list(RAINFALL_FEATURES)].head(3))
    registry = LocalRegistry(MODEL)
    first = registry.register(folder, {"ctloop.status": "promoted"})
    assert registry.set_champion(first.version, None)
    registry.record_deployed(first.version)
    second = registry.register(folder, {})
    registry.mark_rejected(second.version, "p99 latency above the limit")


def _record_windows(home: Path) -> None:
    history = History(home / "monitor" / "history.sqlite")
    for i, (start, end) in enumerate((("2030-01-01", "2030-01-08"), ("2030-01-08", "2030-01-15"))):
        metrics = {"primary": 0.8 - 0.05 * i, "recent_primary": 0.8, "drift_score": 0.1 + 0.2 * i}
        history.append_window(
            WindowRow("endpoint", f"{start}T00:00:00Z", f"{end}T00:00:00Z", "now", "1", metrics)
        )
    history.append_event("endpoint", "2030-01-15T00:00:00Z", "deploy", {"version": "1", "model_name": MODEL})


@pytest.fixture(scope="module")
def local_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A state dir holding two engine runs, two registry versions, two windows and deployments."""
    from ctloop.engine import commands as engine

    root = tmp_path_factory.mktemp("local")
    home = root / "home"
    (home / "registry").mkdir(parents=True)
    shutil.copytree(FIXTURES, root / "toy", ignore=shutil.ignore_patterns("__pycache__"))
    (root / "trace").mkdir()
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("CTLOOP_HOME", str(home))
        mp.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{home / 'registry' / 'mlflow.db'}")
        mp.setenv("TOY_TRACE_DIR", str(root / "trace"))
        mp.chdir(root)
        pipeline = str(root / "toy" / "pipelines" / "diamond.yml")
        assert engine.main(["run", pipeline]) == 0
        assert engine.main(["run", pipeline]) == 0  # the second run reuses every step (cache hits)
        _register_versions(home)
        _record_windows(home)
    return home


@pytest.fixture
def in_home(local_home: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("CTLOOP_HOME", str(local_home))
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{local_home / 'registry' / 'mlflow.db'}")
    return local_home


@pytest.fixture
def local_page(in_home: Path, tmp_path: Path, repo_root: Path) -> Path:
    return write_report(out=tmp_path / "report", policies=str(repo_root / "policies"), now=clock)


def _records(home: Path) -> list[dict]:
    return [json.loads(p.read_text()) for p in sorted((home / "runs").glob("*/run.json"))]


def test_header_and_tables_agree_with_the_records(local_page: Path, in_home: Path) -> None:
    page = Page(local_page.read_text())
    records = _records(in_home)
    compute_h = sum(s.get("duration_s") or 0.0 for r in records for s in r["steps"].values()) / 3600
    assert page.totals["runs"] == str(len(records)) == "2"
    statuses = Counter(r["status"] for r in records)
    assert page.totals["runs_by_status"] == ", ".join(f"{n} {s}" for s, n in sorted(statuses.items()))
    assert float(page.totals["compute_hours"]) == pytest.approx(compute_h, abs=1e-4)
    runs = page.tables["runs-table"]
    assert [row[0] for row in runs["tbody"]] == sorted(r["run_id"] for r in records)
    assert [int(row[6]) for row in runs["tbody"]] == [
        r["cache_hits"] for r in sorted(records, key=lambda r: r["started"])
    ]
    assert runs["tfoot"][0][1] == f"{len(records)} runs"  # 2
    assert runs["tfoot"][0][-1] == page.totals["compute_hours"]
    assert sum(float(row[-1]) for row in runs["tbody"]) == pytest.approx(
        float(page.totals["compute_hours"]), abs=2e-4
    )

    models = page.tables["models-table"]["tbody"]
    assert [(r[0], r[1], r[3]) for r in models] == [(MODEL, "1", "deployed"), (MODEL, "2", "rejected")]
    assert "champion" in models[0][4] and page.totals["champions"] == f"{MODEL} v1"
    assert page.totals["versions"] == str(len(models))

    windows = page.tables["windows-table"]
    assert windows["tbody"] == [
        ["endpoint", "2", "2030-01-01T00:00:00Z", "2030-01-15T00:00:00Z", "0.7500", "0.3000", "1"]
    ]
    assert page.totals["windows"] == "2" == windows["tfoot"][0][1]

    deployments = page.tables["deployments-table"]["tbody"]
    outcomes = sorted((d[2], d[3], d[4]) for d in deployments)
    assert outcomes == [
        ("1", "deployed", "loop (endpoint)"),
        ("1", "deployed", "registry"),
        ("2", "rejected: p99 latency above the limit", "registry"),
    ]
    assert page.totals["deployments"] == str(len(deployments))


def test_runs_and_compute_per_month_are_bars_of_the_records(local_page: Path, in_home: Path) -> None:
    page = Page(local_page.read_text())
    records = _records(in_home)
    months = Counter(r["started"][:7] for r in records)
    assert page.bars["runs-per-period"] == sorted((m, float(n)) for m, n in months.items())
    (label, value), *_ = page.bars["compute-per-period"]
    assert label == min(months)
    total = sum(s.get("duration_s") or 0.0 for r in records for s in r["steps"].values()) / 3600
    assert value == pytest.approx(total) and value > 0


def test_runs_in_different_months_leave_the_empty_months_as_zero_bars(in_home: Path, tmp_path: Path) -> None:
    record = _records(in_home)[0]
    runs = tmp_path / "runs"
    for i, started in enumerate(
        ("2029-01-31T23:00:00+00:00", "2029-03-01T00:00:00+00:00", "2029-03-05T10:00:00Z")
    ):
        (runs / f"r{i}").mkdir(parents=True)
        (runs / f"r{i}" / "run.json").write_text(
            json.dumps({**record, "run_id": f"r{i}", "started": started})
        )
    found = read_runs(runs)
    per = periods((r.started, 1.0) for r in found)
    assert per.unit == "month"
    assert per.items == (("2029-01", 1.0), ("2029-02", 0.0), ("2029-03", 2.0))


def test_a_long_history_is_shown_per_year() -> None:
    when = [
        datetime(1970, 5, 1, tzinfo=UTC),
        datetime(1972, 12, 1, tzinfo=UTC),
        datetime(1973, 6, 1, tzinfo=UTC),
    ]
    per = periods((t, 2.0) for t in when)
    assert per.unit == "year"
    assert per.items == (("1970", 2.0), ("1971", 0.0), ("1972", 2.0), ("1973", 2.0))
    assert periods((t, 1.0) for t in when[1:]).unit == "month"  # 7 months


def test_the_page_depends_only_on_the_state_and_the_clock(
    in_home: Path, tmp_path: Path, repo_root: Path
) -> None:
    policies = str(repo_root / "policies")
    first = write_report(out=tmp_path / "a", policies=policies, now=clock).read_bytes()
    again = write_report(out=tmp_path / "b", policies=policies, now=clock).read_bytes()
    later = write_report(out=tmp_path / "c", policies=policies, now=lambda: datetime(2031, 1, 1, tzinfo=UTC))
    later_text = later.read_text()
    assert first == again
    assert b"generated 2030-01-02 03:04 UTC" in first and "generated 2031-01-01 00:00 UTC" in later_text
    assert later_text.replace("2031-01-01 00:00", "2030-01-02 03:04").encode() == first
    assert b"<script" not in first and b"http://" not in first.replace(b"http://www.w3.org/2000/svg", b"")
    assert b"https://" not in first


def test_an_empty_state_says_what_to_run(
    ctloop_home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["report", "--out", str(tmp_path / "r")]) == 0
    text = (tmp_path / "r" / "index.html").read_text()
    page = Page(text)
    assert page.totals["runs"] == "0" and page.sections == ["summary", "empty"]
    assert "make run-pipeline" in text and "ctloop rollout start" in text and "ctloop report --replay" in text
    assert str(tmp_path / "r" / "index.html") in capsys.readouterr().out


def test_a_broken_run_record_is_one_line_naming_file_and_field(
    in_home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    bad = tmp_path / "home"
    shutil.copytree(in_home / "runs", bad / "runs")
    victim = sorted((bad / "runs").glob("*/run.json"))[0]
    record = json.loads(victim.read_text())
    record["steps"]["merge"]["duration_s"] = "fast"
    victim.write_text(json.dumps(record))
    registry_before = (in_home / "registry" / "mlflow.db").read_bytes()
    monkeypatch.setenv("CTLOOP_HOME", str(bad))
    assert main(["report", "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0
    assert str(victim) in err and "steps.merge.duration_s" in err and "expected a number" in err
    assert not (tmp_path / "out").exists()
    assert (in_home / "registry" / "mlflow.db").read_bytes() == registry_before
    victim.write_text("{")
    with pytest.raises(ReportError, match="unreadable run record"):
        write_report(out=tmp_path / "out2")
    assert not (tmp_path / "out2").exists()


def _replay(path: Path) -> None:
    batches = [
        {
            "batch": i,
            "start_row": 4015 + 90 * i,
            "start": f"196{i // 4}-{1 + 3 * (i % 4):02d}-01",
            "metric": 0.8 - 0.01 * i,
        }
        for i in range(12)
    ]
    retrains = [{"batch": -1, "time": "1960-01-01", "fit_seconds": 0.5}] + [
        {"batch": b, "time": batches[b]["start"], "promoted": True, "fit_seconds": 1.0} for b in (3, 9)
    ]
    table = [
        {
            "policy": "trigger",
            "mean_metric": 0.75,
            "drifted_metric": 0.7,
            "retrains": 2,
            "promotions": 2,
            "compute_seconds": 2.5,
        },
        {
            "policy": "every",
            "mean_metric": 0.76,
            "drifted_metric": None,
            "retrains": 12,
            "promotions": 5,
            "compute_seconds": 12.0,
        },
    ]
    path.mkdir(parents=True)
    (path / "replay.json").write_text(
        json.dumps(
            {
                "dataset": "rainfall",
                "batch_days": 90,
                "batches": 12,
                "drifted_from_row": 4500,
                "primary_metric": "roc_auc",
                "wall_seconds": 3.0,
                "table": table,
                "policies": {
                    "trigger": {"batches": batches, "retrains": retrains},
                    "every": {"batches": batches, "retrains": []},
                },
            }
        )
    )


def test_replay_when_asked_header_agrees_with_its_table(ctloop_home: Path, tmp_path: Path) -> None:
    _replay(ctloop_home / "replay")
    assert main(["report", "--replay", "--out", str(tmp_path / "r")]) == 0  # default: .ctloop/replay
    page = Page((tmp_path / "r" / "index.html").read_text())
    rows = page.tables["replay-table"]["tbody"]
    assert [r[0] for r in rows] == ["trigger", "every"]
    assert page.totals["retrains"] == str(sum(int(r[3]) for r in rows)) == "14"
    assert page.totals["promotions"] == page.tables["replay-table"]["tfoot"][0][4] == "7"
    assert float(page.totals["compute_hours"]) == pytest.approx(14.5 / 3600, abs=1e-4)
    bars = page.bars["retrains-per-period"]  # batches 3 and 9; the first model (batch -1) is no retrain
    assert len(bars) == 19 and bars[0] == ("1960-10", 1.0) and bars[-1] == ("1962-04", 1.0)
    assert sum(v for _, v in bars) == 2.0
    assert page.bars["compute-per-policy"] == [("trigger", 2.5 / 3600), ("every", 12.0 / 3600)]


def test_a_replay_missing_a_field_is_refused(ctloop_home: Path, tmp_path: Path) -> None:
    _replay(tmp_path / "rp")
    data = json.loads((tmp_path / "rp" / "replay.json").read_text())
    del data["table"][1]["compute_seconds"]
    (tmp_path / "rp" / "replay.json").write_text(json.dumps(data))
    with pytest.raises(ReportError, match=r"replay.json: table.1.compute_seconds: missing"):
        write_report(replay=tmp_path / "rp", out=tmp_path / "out")
    with pytest.raises(ReportError, match="replay results not found"):
        write_report(replay=tmp_path / "nowhere", out=tmp_path / "out")
    assert not (tmp_path / "out").exists()


# --- the page in headless Chromium ------------------------------------------------------------------
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--hide-scrollbars",
    "--force-device-scale-factor=1",
    "--virtual-time-budget=3000",
]
WINDOW = (1000, 3200)

#: Runs in the browser on load: boxes of the top-level sections, charts and tables, and every
#: element whose text overflows its box; written into <pre id="geometry"> for --dump-dom.
GEOMETRY_SCRIPT = r"""
<pre id="geometry"></pre><script>
window.addEventListener("load", function () {
  function box(e) {
    var r = e.getBoundingClientRect(); return {x: r.left, y: r.top, w: r.width, h: r.height};
  }
  function inside(a, b) { return a.x >= b.x - 1 && a.y >= b.y - 1 && a.x + a.w <= b.x + b.w + 1
                                 && a.y + a.h <= b.y + b.h + 1; }
  function meets(a, b) { return a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h && b.y < a.y + a.h; }
  var all = function (q) { return Array.prototype.slice.call(document.querySelectorAll(q)); };
  var svgText = [], overlaps = [];
  all("figure.chart svg").forEach(function (svg) {
    var frame = box(svg), texts = all("#" + svg.parentNode.id + " svg text");
    texts.forEach(function (t, i) {
      if (!inside(box(t), frame)) svgText.push(svg.parentNode.id + ": " + t.textContent);
      texts.slice(i + 1).forEach(function (u) {
        if (t.getAttribute("class") === u.getAttribute("class") && meets(box(t), box(u)))
          overlaps.push(svg.parentNode.id + ": " + t.textContent + " / " + u.textContent);
      });
    });
  });
  var out = {
    sections: all("body > header, body > section").map(function (e) {
      return Object.assign({id: e.id}, box(e));
    }),
    charts: all("figure.chart").map(function (e) {
      var bars = e.querySelectorAll("rect.bar").length;
      return Object.assign({id: e.id, bars: bars}, box(e.querySelector("svg")));
    }),
    tables: all("table").map(function (e) {
      return Object.assign({id: e.id, rows: e.tBodies[0].rows.length}, box(e));
    }),
    overflow: all("td, th, dt, dd, h1, h2, p, figcaption").filter(function (e) {
      return e.scrollWidth > e.clientWidth + 1; }).map(function (e) { return e.textContent.slice(0, 80); }),
    brokenWords: all("th, td, dt, dd, figcaption").filter(function (e) {
      var words = e.textContent.trim().split(/[\s-]+/).filter(Boolean).length;
      var range = document.createRange(); range.selectNodeContents(e);
      var lines = {};
      Array.prototype.forEach.call(range.getClientRects(), function (r) { lines[Math.round(r.top)] = 1; });
      return Object.keys(lines).length > Math.max(words, 1); }).map(function (e) { return e.textContent; }),
    svgText: svgText, overlaps: overlaps,
    width: document.documentElement.scrollWidth, height: document.body.getBoundingClientRect().bottom,
    viewport: window.innerWidth
  };
  document.getElementById("geometry").textContent = JSON.stringify(out);
});
</script>
"""


def _chromium() -> str:
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        pytest.skip("chromium is not installed (make browser, or apt-get install -y chromium)")
    return browser


def _browse(browser: str, page: Path, profile: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    cmd = [browser, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", f"--window-size={WINDOW[0]},{WINDOW[1]}"]
    return subprocess.run(
        [*cmd, *extra, page.as_uri()], capture_output=True, text=True, timeout=180, check=False
    )


def _geometry(browser: str, page: Path, tmp_path: Path) -> dict:
    probe = tmp_path / "probe.html"
    probe.write_text(page.read_text().replace("</body>", GEOMETRY_SCRIPT + "</body>"))
    done = _browse(browser, probe, tmp_path / "profile-dom", "--dump-dom")
    found = re.search(r'<pre id="geometry">(.*?)</pre>', done.stdout, re.S)
    assert found and found.group(1), done.stderr[-2000:]
    return json.loads(html.unescape(found.group(1)))


def _meets(a: dict, b: dict) -> bool:
    return (
        a["x"] < b["x"] + b["w"]
        and b["x"] < a["x"] + a["w"]
        and a["y"] < b["y"] + b["h"]
        and b["y"] < a["y"] + a["h"]
    )


def test_the_page_renders_in_headless_chromium_as_expected(local_page: Path, tmp_path: Path) -> None:
    from PIL import Image, ImageStat

    browser = _chromium()
    geometry = _geometry(browser, local_page, tmp_path)
    sections = geometry["sections"]
    assert [s["id"] for s in sections] == ["summary", "runs", "models", "windows", "deployments"]
    for i, a in enumerate(sections):
        assert a["w"] > 0 and a["h"] > 0, a
        for b in sections[i + 1 :]:
            assert not _meets(a, b), (a, b)
    charts = {c["id"]: c for c in geometry["charts"]}
    assert set(charts) == {"runs-per-period", "compute-per-period", "primary-per-window"}
    assert charts["runs-per-period"]["bars"] == charts["compute-per-period"]["bars"] == 1
    for chart in charts.values():
        assert chart["w"] >= 600 and chart["h"] >= 150, chart
    tables = {t["id"]: t for t in geometry["tables"]}
    assert {k: t["rows"] for k, t in tables.items()} == {
        "runs-table": 2,
        "models-table": 2,
        "windows-table": 1,
        "deployments-table": 3,
    }
    assert all(t["w"] > 0 and t["h"] > 0 for t in tables.values())
    assert geometry["overflow"] == [] and geometry["brokenWords"] == []
    assert geometry["svgText"] == [] and geometry["overlaps"] == []
    assert geometry["width"] <= geometry["viewport"], "the page scrolls sideways"
    assert sections[-1]["y"] + sections[-1]["h"] <= geometry["height"] < WINDOW[1] - 20, "page cut"

    shot = tmp_path / "page.png"
    done = _browse(browser, local_page, tmp_path / "profile-shot", f"--screenshot={shot}")
    assert shot.is_file(), done.stderr[-2000:]
    image = Image.open(shot).convert("RGB")
    assert image.size == WINDOW
    assert max(ImageStat.Stat(image).stddev) > 20, "blank screenshot"
    bar = tuple(int(charts_color[i : i + 2], 16) for i in (1, 3, 5))
    for name in ("runs-per-period", "compute-per-period"):
        c = charts[name]
        crop = image.crop((int(c["x"]), int(c["y"]), int(c["x"] + c["w"]), int(c["y"] + c["h"])))
        assert bar in {rgb for _, rgb in crop.getcolors(maxcolors=1 << 16)}, f"{name}: no bar drawn"
    blank = image.crop((0, int(geometry["height"]) + 10, WINDOW[0], WINDOW[1]))
    assert blank.getcolors() is not None and len(blank.getcolors()) == 1, "something drawn below the page"


BAD_SOURCES = {
    "run without a start": (
        "runs/r1/run.json",
        '{"run_id": "r1", "status": "completed", "steps": {}}',
        "started: missing",
    ),
    "run start not a time": (
        "runs/r1/run.json",
        '{"run_id": "r1", "status": "completed", "started": "yesterday", "steps": {}}',
        "started: not an ISO-8601 time",
    ),
    "run steps not an object": (
        "runs/r1/run.json",
        '{"run_id": "r1", "status": "completed", "started": "2030-01-01T00:00:00Z", "steps": []}',
        "steps: expected an object",
    ),
    "rollout without a stage": ("endpoint/rollout.json", '{"version": "3"}', "stage: missing"),
    "rollout not an object": ("endpoint/rollout.json", "[]", "<root>: expected an object"),
    "history not a database": (
        "monitor/history.sqlite",
        "not sqlite at all " * 100,
        "not a usable metrics history",
    ),
}


@pytest.mark.parametrize("case", sorted(BAD_SOURCES))
def test_a_bad_source_is_refused_in_one_line_and_nothing_is_written(
    case: str, ctloop_home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    relative, content, reason = BAD_SOURCES[case]
    source = ctloop_home / relative
    source.parent.mkdir(parents=True, exist_ok=True)
    source.write_text(content)
    before = sorted(p.relative_to(ctloop_home) for p in ctloop_home.rglob("*"))
    assert main(["report", "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and str(source) in err and reason in err, err
    assert not (tmp_path / "out").exists()
    assert sorted(p.relative_to(ctloop_home) for p in ctloop_home.rglob("*")) == before
    assert source.read_text() == content


def test_the_replay_page_lays_out_in_headless_chromium(ctloop_home: Path, tmp_path: Path) -> None:
    browser = _chromium()
    _replay(tmp_path / "rp")
    page = write_report(replay=tmp_path / "rp", out=tmp_path / "r", now=clock)
    geometry = _geometry(browser, page, tmp_path)
    sections = geometry["sections"]
    assert [s["id"] for s in sections] == ["summary", "replay", "charts"]
    assert not any(_meets(a, b) for i, a in enumerate(sections) for b in sections[i + 1 :])
    charts = {c["id"]: c for c in geometry["charts"]}
    assert {k: c["bars"] for k, c in charts.items()} == {
        "metric-per-batch": 0,
        "retrains-per-period": 19,  # more than 12: the labels turn, and still may not collide
        "compute-per-policy": 2,
    }
    assert all(c["w"] >= 600 and c["h"] >= 150 for c in charts.values())
    assert geometry["overflow"] == [] and geometry["brokenWords"] == []
    assert geometry["svgText"] == [] and geometry["overlaps"] == []
    assert geometry["width"] <= geometry["viewport"]


@pytest.mark.parametrize(
    ("largest", "counts", "expected"),
    [
        (0.211, False, (0.3, 0.1)),
        (0.000128, False, (0.00015, 0.00005)),
        (1.0, True, (1.0, 1.0)),
        (5.0, True, (6.0, 2.0)),
        (160.0, True, (200.0, 50.0)),
        (0.0, True, (1.0, 1.0)),
    ],
)
def test_value_axes_have_round_steps_and_whole_counts(largest: float, counts: bool, expected: tuple) -> None:
    from ctloop.report.charts import number, value_axis

    top, step = value_axis(largest, counts)
    assert (top, step) == pytest.approx(expected)
    assert top >= largest and round(top / step) <= 4
    assert [number(step * i) for i in range(round(top / step) + 1)][-1] == number(expected[0])


def test_scope_and_history_options(in_home: Path, tmp_path: Path, repo_root: Path) -> None:
    policies = str(repo_root / "policies")
    other = Page(
        write_report(out=tmp_path / "a", scope="elsewhere", policies=policies, now=clock).read_text()
    )
    assert other.totals["windows"] == "0" and other.totals["runs"] == "2"
    assert other.tables["windows-table"]["tbody"] == []
    history = in_home / "monitor" / "history.sqlite"
    same = Page(write_report(out=tmp_path / "b", history=history, policies=policies, now=clock).read_text())
    assert same.totals["windows"] == "2"
    with pytest.raises(ReportError, match=r"nowhere.sqlite: --history: metrics history not found"):
        write_report(out=tmp_path / "c", history=tmp_path / "nowhere.sqlite")
    assert not (tmp_path / "c").exists()
