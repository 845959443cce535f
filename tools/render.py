"""Every panel of the generated dashboards evaluated against a live Prometheus and PostgreSQL, and plotted.

This is not Grafana: it runs each panel's own query (PromQL through Prometheus' HTTP API, SQL through the
read-only reporting role) and draws the answer with matplotlib, one PNG per dashboard, laid out as the
dashboard's grid: time series as lines, stat and gauge panels as big numbers, bar gauges as bars, tables
as tables. ``scripts/render-dashboards`` runs it on the dashboards' live test (``eiso simulate`` traffic
through Kafka, the worker and PostgreSQL, scraped by a real Prometheus) and writes docs/dashboards/.

    python -m tools.render --prometheus http://127.0.0.1:9090 --database postgresql+psycopg://... \\
        --out docs/dashboards

matplotlib comes with the ``docs`` extra: ``pip install -e '.[docs]'``.
"""

from __future__ import annotations

import argparse
import json
import math
import re
import textwrap
import time
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from tools.dashboards import DASHBOARDS

SINGLE_VALUE = {"stat", "gauge"}
BARS = {"bargauge", "barchart"}
MAX_TABLE_ROWS = 12
MAX_BARS = 14
ZONE = ZoneInfo("Asia/Ho_Chi_Minh")  # the dashboards' time zone


def grafana_variables(range_seconds: float, rate_interval: str = "30s") -> dict[str, str]:
    """What Grafana substitutes in a query with every template variable on "All"."""
    return {"${agency:regex}": ".*", "${procedure:regex}": ".*", "$agency": ".*", "$procedure": ".*",
            "$__rate_interval": rate_interval, "$__range": f"{max(1, round(range_seconds))}s"}


def substitute(query: str, variables: dict[str, str]) -> str:
    for name, value in variables.items():
        query = query.replace(name, value)
    return query


def legend(template: str, labels: dict[str, str]) -> str:
    text = re.sub(r"\{\{\s*(\w+)\s*\}\}", lambda m: labels.get(m.group(1), ""), template or "")
    return text.strip() or ",".join(f"{k}={v}" for k, v in sorted(labels.items())) or "value"


@dataclass
class Series:
    name: str
    points: list[tuple[float, float]]


@dataclass
class PanelData:
    title: str
    kind: str
    unit: str | None
    grid: dict[str, int]
    series: list[Series] = field(default_factory=list)  # time series (x: seconds or epoch)
    values: list[tuple[str, float]] = field(default_factory=list)  # stat, gauge, bars
    targets: int = 0  # how many queries fed ``values`` (several: bars grouped by name, one colour a query)
    columns: list[str] = field(default_factory=list)  # tables
    rows: list[list[Any]] = field(default_factory=list)
    time_axis: str = "relative"  # "relative": seconds since start; "dates": epoch seconds of calendar dates
    errors: list[str] = field(default_factory=list)


class Prometheus:
    def __init__(self, base: str):
        self.base = base.rstrip("/")

    def _get(self, path: str, params: dict[str, Any]) -> Any:
        url = f"{self.base}{path}?{urllib.parse.urlencode(params)}"
        with urllib.request.urlopen(url, timeout=30) as response:
            answer = json.loads(response.read())
        if answer.get("status") != "success":
            raise RuntimeError(f"{path}: {answer}")
        return answer["data"]

    def instant(self, query: str, at: float) -> list[tuple[dict[str, str], float]]:
        data = self._get("/api/v1/query", {"query": query, "time": f"{at:.3f}"})
        return [(r["metric"], float(r["value"][1])) for r in data["result"]]

    def range(self, query: str, start: float, end: float, step: float) -> list[tuple[dict[str, str], list[Any]]]:
        data = self._get("/api/v1/query_range", {"query": query, "start": f"{start:.3f}", "end": f"{end:.3f}",
                                                 "step": f"{step:g}"})
        return [(r["metric"], [(float(t), float(v)) for t, v in r["values"]]) for r in data["result"]]


def evaluate(board: dict[str, Any], prometheus: Prometheus, sql: Any, start: float, end: float,
             step: float = 1.0, rate_interval: str = "30s") -> list[PanelData]:
    """Every panel's queries answered; ``sql(query) -> (columns, rows)`` runs SQL as the reporting role."""
    variables = grafana_variables(end - start, rate_interval)
    panels: list[PanelData] = []
    for panel in board["panels"]:
        data = PanelData(panel["title"], panel["type"], panel["fieldConfig"]["defaults"].get("unit"),
                         panel["gridPos"])
        data.targets = len(panel["targets"])
        for target in panel["targets"]:
            if "expr" in target:
                query = substitute(target["expr"], variables)
                if panel["type"] == "timeseries":
                    for labels, points in prometheus.range(query, start, end, step):
                        data.series.append(Series(legend(target.get("legendFormat", ""), labels),
                                                  [(t - start, v) for t, v in points]))
                else:
                    for labels, value in prometheus.instant(query, end):
                        data.values.append((legend(target.get("legendFormat", ""), labels), value))
            else:
                columns, rows = sql(substitute(target["rawSql"], variables))
                if target.get("format") == "time_series":
                    data.time_axis = "dates"
                    by_metric: dict[str, list[tuple[float, float]]] = {}
                    index = {c: i for i, c in enumerate(columns)}
                    for row in rows:
                        moment = row[index["time"]]
                        epoch = moment.replace(tzinfo=moment.tzinfo or UTC).timestamp()
                        by_metric.setdefault(str(row[index["metric"]]), []).append((epoch, float(row[index["value"]])))
                    data.series += [Series(name, points) for name, points in sorted(by_metric.items())]
                elif panel["type"] in BARS or panel["type"] in SINGLE_VALUE:
                    index = {c: i for i, c in enumerate(columns)}
                    data.values += [(str(row[index["metric"]]), float(row[index["value"]])) for row in rows]
                else:
                    data.columns, data.rows = list(columns), [list(r) for r in rows]
        panels.append(data)
    return panels


def fmt(value: float, unit: str | None) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "NaN"
    if unit == "percentunit":
        return f"{value * 100:.1f}%"
    if unit == "h":
        return f"{value:.1f} h"
    if unit == "ops":
        return f"{value:.2f}/s"
    if abs(value - round(value)) < 1e-9:
        return f"{round(value):d}"
    return f"{value:.2f}"


def _cell(value: Any) -> str:
    if isinstance(value, datetime):
        return (value.astimezone(ZONE) if value.tzinfo else value).strftime("%Y-%m-%d %H:%M")
    text = str(value)
    if hasattr(value, "total_seconds"):
        hours = value.total_seconds() / 3600
        text = f"{hours:.1f} h"
    return text if len(text) <= 28 else text[:27] + "…"


def plot(title: str, panels: list[PanelData], path: Path, subtitle: str = "") -> None:
    """One PNG laid out as the dashboard's grid (24 columns; a grid row ~ 0.32 inch)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = max(p.grid["y"] + p.grid["h"] for p in panels)
    row_inch, width = 0.36, 16.0
    lines = textwrap.wrap(subtitle, 190) if subtitle else []
    header = 0.55 + 0.18 * len(lines)
    height = rows * row_inch + header
    figure = plt.figure(figsize=(width, height), dpi=72)
    figure.suptitle(title, x=0.01, y=1 - 0.22 / height, ha="left", fontsize=15, fontweight="bold")
    for number, line in enumerate(lines):
        figure.text(0.01, 1 - (0.5 + 0.18 * number) / height, line, ha="left", va="center", fontsize=8.5,
                    color="#555555")
    usable = (height - header) / height
    for p in panels:
        panel_left, panel_width = p.grid["x"] / 24, p.grid["w"] / 24
        top = usable - p.grid["y"] * row_inch / height
        # Room on the left for the y labels: bar names need the most.
        gutter = {"timeseries": 0.045, "bargauge": 0.30, "barchart": 0.30}.get(p.kind, 0.0) * panel_width
        left = panel_left + 0.008 + gutter
        w = panel_width - 0.016 - gutter
        bottom_room = 0.42 if p.kind == "timeseries" else 0.2
        h = p.grid["h"] * row_inch / height - (0.45 + bottom_room) / height
        ax = figure.add_axes((left, top - 0.4 / height - h, w, h))
        limit = int(p.grid["w"] / 24 * width * 12.5)
        figure.text(panel_left + 0.008, top - 0.18 / height, p.title if len(p.title) <= limit
                    else p.title[:limit - 1] + "…", fontsize=9.5, ha="left", va="center", fontweight="bold")
        _draw(ax, p)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=72)
    plt.close(figure)


def _draw(ax: Any, p: PanelData) -> None:
    if p.kind == "timeseries":
        _draw_lines(ax, p)
    elif p.kind in SINGLE_VALUE:
        ax.axis("off")
        shown = p.values[:4]
        if not shown:
            ax.text(0.5, 0.5, "no data", ha="center", va="center", fontsize=12, color="#999999")
        for i, (name, value) in enumerate(shown):
            y = 1 - (i + 0.5) / len(shown)
            size = 26 if len(shown) == 1 else max(9, 20 - 4 * len(shown))
            ax.text(0.5, y, fmt(value, p.unit), ha="center", va="center", fontsize=size, fontweight="bold",
                    color="#1f6fb2")
            if len(shown) > 1 or name not in ("value",):
                ax.text(0.5, y - 0.3 / len(shown), name, ha="center", va="center", fontsize=7, color="#555555")
        if len(p.values) > len(shown):
            ax.text(1, 0, f"+{len(p.values) - len(shown)} more", ha="right", va="bottom", fontsize=7)
    elif p.kind in BARS:
        _draw_bars(ax, p)
    else:
        _draw_table(ax, p)


def _draw_lines(ax: Any, p: PanelData) -> None:
    ax.tick_params(labelsize=7)
    if not p.series:
        ax.text(0.5, 0.5, "no data", ha="center", va="center", transform=ax.transAxes, color="#999999")
        return
    for s in sorted(p.series, key=lambda s: s.name)[:10]:
        xs = [x for x, _ in s.points]
        if p.time_axis == "dates":
            xs = [datetime.fromtimestamp(x, UTC) for x in xs]  # type: ignore[misc]
        ax.plot(xs, [v for _, v in s.points], marker="o" if len(xs) < 4 else None, linewidth=1.4,
                label=s.name[:40])
    if p.time_axis == "relative":
        ax.set_xlabel("seconds of the run (the simulated month replayed)", fontsize=7)
    else:
        import matplotlib.dates as mdates

        moments = [datetime.fromtimestamp(x, UTC) for s in p.series for x, _ in s.points]
        ax.set_xlim(min(moments) - timedelta(days=45), max(moments) + timedelta(days=45))
        ax.xaxis.set_major_locator(mdates.MonthLocator())  # type: ignore[no-untyped-call, unused-ignore]
        ax.xaxis.set_major_formatter(mdates.DateFormatter("%Y-%m"))  # type: ignore[no-untyped-call, unused-ignore]
    if p.unit == "percentunit":
        ax.yaxis.set_major_formatter(lambda v, _pos: f"{v * 100:.0f}%")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=6.5, loc="best", ncol=2 if len(p.series) > 5 else 1, framealpha=0.6)


def _draw_bars(ax: Any, p: PanelData) -> None:
    ax.tick_params(labelsize=6.5)
    values = [(n, v) for n, v in p.values if not math.isnan(v)]
    if not values:
        ax.text(0.5, 0.5, "no data", ha="center", va="center", transform=ax.transAxes, color="#999999")
        ax.set_xticks([])
        ax.set_yticks([])
        return
    # Several queries (e.g. p90, mean, allowance): one group of bars per name, the last word of the legend
    # telling the query apart; the groups with the largest first value first.
    groups: dict[str, dict[str, float]] = {}
    for name, value in values:
        key, kind = (name.rsplit(" ", 1) if p.targets > 1 and " " in name else (name, ""))
        groups.setdefault(key, {})[kind] = value
    kinds = list(dict.fromkeys(kind for g in groups.values() for kind in g))
    order = sorted(groups, key=lambda k: -next(iter(groups[k].values()))) if p.targets > 1 else list(groups)
    shown = order[:MAX_BARS if p.targets == 1 else MAX_BARS // 2]
    height = 0.8 / len(kinds)
    palette = ["#2e86c1", "#a569bd", "#7f8c8d", "#16a085"]
    for index, kind in enumerate(kinds):
        ys = [len(shown) - 1 - row - 0.4 + height * (index + 0.5) for row in range(len(shown))]
        numbers = [groups[name].get(kind, math.nan) for name in shown]
        colours = [("#c0392b" if p.unit == "percentunit" and v < 0.95 and p.targets == 1 and "over" not in p.title
                    else palette[index % len(palette)]) for v in numbers]
        bars = ax.barh(ys, numbers, height=height * 0.95, color=colours, label=kind or None)
        for bar, value in zip(bars, numbers, strict=True):
            if not math.isnan(value):
                ax.text(bar.get_width(), bar.get_y() + bar.get_height() / 2, " " + fmt(value, p.unit),
                        va="center", fontsize=6)
    ax.set_yticks([len(shown) - 1 - row for row in range(len(shown))], [n[:40] for n in shown])
    if p.unit == "percentunit":
        ax.xaxis.set_major_formatter(lambda v, _pos: f"{v * 100:.0f}%")
    if len(kinds) > 1:
        ax.legend(fontsize=6.5, loc="lower right", framealpha=0.6)
    ax.margins(x=0.15)
    if len(order) > len(shown):
        ax.text(1, 1.0, f"+{len(order) - len(shown)} more", ha="right", va="bottom", transform=ax.transAxes,
                fontsize=7)


def _draw_table(ax: Any, p: PanelData) -> None:
    ax.axis("off")
    if not p.rows:
        ax.text(0.5, 0.5, "no rows", ha="center", va="center", color="#999999")
        return
    shown = [[_cell(v) for v in row] for row in p.rows[:MAX_TABLE_ROWS]]
    table = ax.table(cellText=shown, colLabels=p.columns, loc="upper left", cellLoc="left")
    table.auto_set_font_size(False)
    table.set_fontsize(7)
    table.scale(1, 1.05)
    for (row, _col), cell in table.get_celld().items():
        cell.set_linewidth(0.3)
        if row == 0:
            cell.set_facecolor("#e8eef4")
            cell.set_text_props(fontweight="bold")
    ax.text(1, -0.02, f"{len(p.rows)} row(s), first {len(shown)} shown", ha="right", va="top",
            transform=ax.transAxes, fontsize=7, color="#555555")


def render_all(prometheus: Prometheus, sql: Any, start: float, end: float, out: Path, step: float = 1.0,
               rate_interval: str = "30s", subtitle: str = "") -> list[Path]:
    written = []
    for name, build in DASHBOARDS.items():
        board = build()
        panels = evaluate(board, prometheus, sql, start, end, step, rate_interval)
        path = out / name.replace(".json", ".png")
        plot(board["title"], panels, path, subtitle)
        written.append(path)
    return written


def sql_runner(url: str, role: str | None = "eiso_reporting") -> Any:
    """``sql(query) -> (columns, rows)`` in a read-only transaction, as ``role`` when given."""
    from sqlalchemy import create_engine, text

    engine = create_engine(url)

    def run(query: str) -> tuple[list[str], list[Any]]:
        with engine.begin() as conn:
            conn.execute(text("SET TRANSACTION READ ONLY"))
            if role:
                conn.execute(text(f'SET LOCAL ROLE "{role}"'))
            result = conn.execute(text(query.replace(":", r"\:")))
            return list(result.keys()), [tuple(r) for r in result.all()]

    return run


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prometheus", required=True, help="Prometheus base URL")
    parser.add_argument("--database", required=True, help="SQLAlchemy URL of the eiso PostgreSQL database")
    parser.add_argument("--role", default="eiso_reporting", help="role to read the views as ('' for none)")
    parser.add_argument("--minutes", type=float, default=60, help="time range ending now")
    parser.add_argument("--out", type=Path, default=Path("docs/dashboards"))
    args = parser.parse_args(argv)
    end = time.time()
    start = end - args.minutes * 60
    for path in render_all(Prometheus(args.prometheus), sql_runner(args.database, args.role or None), start, end,
                           args.out, step=max(1.0, (end - start) / 240), rate_interval="1m"):
        print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
