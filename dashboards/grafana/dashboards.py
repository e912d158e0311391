"""Grafana dashboards as code (grafana-foundation-sdk builders, InfluxQL queries).

Four dashboards on the InfluxDB schema of ``pipeline/stores/README.md`` (measurement ``hr``
and the derived tables of :mod:`gympulse.pipeline.analytics.tables`):

- **live class** (``gympulse-live``): a stat tile per participant, repeated over the
  ``athlete`` variable: % of the athlete's own HRmax coloured by zone, bpm alongside, 1 s
  refresh, "no signal" when a strap is silent 10 s;
- **coach — squad recovery** (``gympulse-coach``): form, ACWR, HRV and resting HR status per
  athlete, and the flags raised;
- **athlete detail** (``gympulse-athlete``): fitness/fatigue/form, ACWR band, ln RMSSD and
  resting HR against their normal bands, sessions, heart rate — chosen by a variable;
- **guest** (``gympulse-guest-{id}``): the athlete-detail panels with the athlete written
  into every query. It has no template variables at all: variables are not a security
  boundary, and Grafana's shared (public) dashboards do not take them anyway.

The SDK has no InfluxDB query type, so :class:`InfluxQLQuery` is a small custom dataquery
emitting Grafana's InfluxDB target JSON (``rawQuery`` InfluxQL).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal, Self

from grafana_foundation_sdk.builders import common as common_builders
from grafana_foundation_sdk.builders import dashboard as dash
from grafana_foundation_sdk.builders import stat, table, timeseries
from grafana_foundation_sdk.cog import builder as cogbuilder
from grafana_foundation_sdk.cog import variants as cogvariants
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models import common
from grafana_foundation_sdk.models import dashboard as model

DATASOURCE_UID = "gympulse-influxdb"
DATASOURCE = model.DataSourceRef(type_val="influxdb", uid=DATASOURCE_UID)
FOLDER_STAFF = "gympulse"
FOLDER_GUESTS = "gympulse-guests"
LIVE_UID = "gympulse-live"
COACH_UID = "gympulse-coach"
ATHLETE_UID = "gympulse-athlete"

# Zone lower bounds in % of HRmax (docs/design.md): [50,60) zone 1 … >= 90 zone 5.
ZONE_COLOURS = ("#8e8e8e", "#5794f2", "#73bf69", "#fade2a", "#ff9830", "#f2495c")
ZONE_BOUNDS_PCT = (50, 60, 70, 80, 90)
ACWR_BANDS: list[tuple[float | None, str]] = [
    (None, "blue"),
    (0.8, "green"),
    (1.3, "orange"),
    (1.5, "red"),
]
SIGNAL_WINDOW = "10s"  # a strap silent this long shows "no signal"
# The athletes seen in the last 15 minutes. Not ``SHOW TAG VALUES ... WHERE time > ...``:
# InfluxDB 1.x ignores time there (influxdb#5668) and returns everyone ever written. The
# inner query has one row per athlete with a sample in the window; Grafana's InfluxQL
# variable parser takes the second column of each row (after ``time``) as the value.
LIVE_ATHLETES_QUERY = (
    'SELECT distinct("athlete") FROM (SELECT last("bpm"), "athlete" FROM "hr"'
    ' WHERE time > now() - 15m GROUP BY "athlete")'
)


def guest_uid(athlete_id: int) -> str:
    return f"gympulse-guest-{athlete_id}"


# --------------------------------------------------------------------------- InfluxQL query


class InfluxQLQuery(cogvariants.Dataquery):
    """Grafana's InfluxDB (InfluxQL) target."""

    def __init__(
        self,
        query: str = "",
        ref_id: str | None = None,
        result_format: Literal["time_series", "table"] = "time_series",
        alias: str | None = None,
        hide: bool | None = None,
    ) -> None:
        self.query = query
        self.ref_id = ref_id
        self.result_format = result_format
        self.alias = alias
        self.hide = hide

    def to_json(self) -> dict[str, object]:
        payload: dict[str, object] = {
            "datasource": {"type": "influxdb", "uid": DATASOURCE_UID},
            "query": self.query,
            "rawQuery": True,
            "resultFormat": self.result_format,
        }
        if self.ref_id is not None:
            payload["refId"] = self.ref_id
        if self.alias is not None:
            payload["alias"] = self.alias
        if self.hide is not None:
            payload["hide"] = self.hide
        return payload


class InfluxQL(cogbuilder.Builder[InfluxQLQuery]):
    def __init__(self, query: str, ref_id: str = "A") -> None:
        self._internal = InfluxQLQuery(query=query, ref_id=ref_id)

    def build(self) -> InfluxQLQuery:
        return self._internal

    def table(self) -> Self:
        self._internal.result_format = "table"
        return self

    def alias(self, alias: str) -> Self:
        self._internal.alias = alias
        return self


# --------------------------------------------------------------------------- helpers


def _thresholds(steps: list[tuple[float | None, str]]) -> dash.ThresholdsConfig:
    return (
        dash.ThresholdsConfig()
        .mode(model.ThresholdsMode.ABSOLUTE)
        .steps([model.Threshold(value=v, color=c) for v, c in steps])
    )


def zone_thresholds() -> list[tuple[float | None, str]]:
    """Thresholds of the 5 zones on ``pct_max`` (% of the athlete's own HRmax)."""
    steps: list[tuple[float | None, str]] = [(None, ZONE_COLOURS[0])]
    for pct, colour in zip(ZONE_BOUNDS_PCT, ZONE_COLOURS[1:], strict=True):
        steps.append((float(pct), colour))
    return steps


def _athlete_filter(athlete: int | None, tag: str = "athlete_id") -> str:
    """The WHERE clause part naming the athlete: the variable, or a fixed id (guests)."""
    value = "$athlete" if athlete is None else str(int(athlete))
    return f"\"{tag}\" = '{value}'"


def _banded(panel: timeseries.Panel, steps: list[tuple[float | None, str]]) -> timeseries.Panel:
    """Thresholds drawn as coloured bands and lines (without ``custom.thresholdsStyle`` a
    time series panel uses the thresholds for nothing visible)."""
    return panel.thresholds(_thresholds(steps)).thresholds_style(
        common_builders.GraphThresholdsStyleConfig().mode(
            common.GraphTresholdsStyleMode.LINE_AND_AREA
        )
    )


def _ts(title: str, unit: str = "none") -> timeseries.Panel:
    return (
        timeseries.Panel()
        .title(title)
        .datasource(DATASOURCE)
        .unit(unit)
        .span(12)
        .height(8)
        .span_nulls(True)
    )


# --------------------------------------------------------------------------- live class


def live_class(zone: str = "browser") -> dash.Dashboard:
    """One stat tile per participant seen in the last 15 minutes.

    Each tile shows the athlete's latest ``pct_max`` (% of their own effective HRmax, stamped
    by ingestion) coloured by the zone thresholds, the way gym boards show effort, and the
    bpm of the same sample beside it (a neutral, uncoloured value). Both come from one point
    (``ORDER BY time DESC LIMIT 1``), never from two different samples. No HRmax is needed
    here any more: a squad-wide reference HRmax coloured a 60-year-old's 150 bpm like a
    20-year-old's.
    """
    athlete_var = (
        dash.QueryVariable("athlete")
        .label("Athlete")
        .datasource(DATASOURCE)
        .query(LIVE_ATHLETES_QUERY)
        .refresh(model.VariableRefresh.ON_TIME_RANGE_CHANGED)
        .multi(True)
        .include_all(True)
        .current(model.VariableOption(selected=True, text="All", value="$__all"))
        .sort(model.VariableSort.NUMERICAL_ASC)
    )
    tile = (
        stat.Panel()
        .title("Athlete $athlete")
        .datasource(DATASOURCE)
        .repeat("athlete")
        .repeat_direction("h")
        .span(4)
        .height(6)
        .unit("percent")
        .decimals(0)
        .no_value("no signal")
        .color_mode(common.BigValueColorMode.BACKGROUND)
        .graph_mode(common.BigValueGraphMode.NONE)
        .text_mode(common.BigValueTextMode.VALUE_AND_NAME)
        .reduce_options(common_builders.ReduceDataOptions().calcs(["lastNotNull"]))
        .thresholds(_thresholds(zone_thresholds()))
        .override_by_name("pct_max", [model.DynamicConfigValue("displayName", "% HRmax")])
        .override_by_name(
            "bpm",
            [
                model.DynamicConfigValue("displayName", "bpm"),
                model.DynamicConfigValue("unit", "none"),
                model.DynamicConfigValue("color", {"mode": "fixed", "fixedColor": "transparent"}),
            ],
        )
        .with_target(
            InfluxQL(
                'SELECT "pct_max", "bpm" FROM "hr"'
                f" WHERE \"athlete\" = '$athlete' AND time > now() - {SIGNAL_WINDOW}"
                # Only samples with a % (a contact-loss sample has bpm alone): never a bpm
                # beside "no signal".
                ' AND "pct_max" >= 0'
                " ORDER BY time DESC LIMIT 1"
            ).alias("$col")  # series named by column, as the overrides expect
        )
    )
    return (
        dash.Dashboard("gympulse — live class")
        .uid(LIVE_UID)
        .tags(["gympulse", "live"])
        .refresh("1s")
        .time("now-5m", "now")
        .timezone(zone)
        .readonly()
        .with_variable(athlete_var)
        .with_panel(tile)
    )


# --------------------------------------------------------------------------- coach


def coach_squad(zone: str = "browser") -> dash.Dashboard:
    status = (
        table.Panel()
        .title("Squad: load and form (latest day)")
        .datasource(DATASOURCE)
        .span(12)
        .height(9)
        .with_target(
            InfluxQL(
                'SELECT last("ctl") AS "fitness", last("atl") AS "fatigue",'
                ' last("tsb") AS "form", last("acwr_ewma") AS "acwr"'
                ' FROM "daily_metrics" WHERE $timeFilter GROUP BY "athlete_id"'
            ).table()
        )
    )
    recovery = (
        table.Panel()
        .title("Squad: HRV and resting HR against normal (latest day)")
        .datasource(DATASOURCE)
        .span(12)
        .height(9)
        .with_target(
            InfluxQL(
                'SELECT last("ln_rmssd_roll7") AS "ln_rmssd_7d",'
                ' last("ln_rmssd_mean60") AS "ln_rmssd_normal",'
                ' last("hr_rest_roll7") AS "hr_rest_7d",'
                ' last("hr_rest_mean60") AS "hr_rest_normal", last("flags") AS "flags"'
                ' FROM "baselines" WHERE $timeFilter GROUP BY "athlete_id"'
            ).table()
        )
    )
    form = _banded(
        _ts("Form (TSB) per athlete"), [(None, "red"), (-30.0, "orange"), (-10.0, "green")]
    ).with_target(
        InfluxQL(
            'SELECT mean("tsb") AS "form" FROM "daily_metrics" WHERE $timeFilter'
            ' GROUP BY time(1d), "athlete_id" fill(none)'
        ).alias("athlete $tag_athlete_id")
    )
    acwr = _banded(_ts("ACWR (EWMA 7/28) per athlete"), ACWR_BANDS).with_target(
        InfluxQL(
            'SELECT mean("acwr_ewma") AS "acwr" FROM "daily_metrics" WHERE $timeFilter'
            ' GROUP BY time(1d), "athlete_id" fill(none)'
        ).alias("athlete $tag_athlete_id")
    )
    flags = (
        table.Panel()
        .title("Flags raised")
        .datasource(DATASOURCE)
        .span(24)
        .height(8)
        .with_target(
            InfluxQL(
                'SELECT "flags" FROM "baselines" WHERE $timeFilter AND "flags" != \'\''
                ' GROUP BY "athlete_id"'
            ).table()
        )
    )
    return (
        dash.Dashboard("gympulse — coach: squad recovery")
        .uid(COACH_UID)
        .tags(["gympulse", "coach"])
        .refresh("5m")
        .time("now-42d", "now")
        .timezone(zone)
        .readonly()
        .with_panel(status)
        .with_panel(recovery)
        .with_panel(form)
        .with_panel(acwr)
        .with_panel(flags)
    )


# --------------------------------------------------------------------------- athlete / guest


def _athlete_panels(athlete: int | None) -> list[cogbuilder.Builder[model.Panel]]:
    who = _athlete_filter(athlete)
    pmc = _ts("Fitness, fatigue and form").with_target(
        InfluxQL(
            'SELECT mean("ctl") AS "fitness", mean("atl") AS "fatigue",'
            ' mean("tsb") AS "form" FROM "daily_metrics"'
            f" WHERE {who} AND $timeFilter GROUP BY time(1d) fill(none)"
        )
    )
    acwr = _banded(_ts("Acute:chronic workload ratio"), ACWR_BANDS).with_target(
        InfluxQL(
            'SELECT mean("acwr_ewma") AS "acwr" FROM "daily_metrics"'
            f" WHERE {who} AND $timeFilter GROUP BY time(1d) fill(none)"
        )
    )
    hrv = _ts("Morning HRV (ln RMSSD) and normal range").with_target(
        InfluxQL(
            'SELECT mean("ln_rmssd") AS "ln_rmssd", mean("ln_rmssd_roll7") AS "7-day mean",'
            ' mean("ln_rmssd_mean60") - mean("ln_rmssd_sd60") AS "normal low",'
            ' mean("ln_rmssd_mean60") + mean("ln_rmssd_sd60") AS "normal high"'
            f' FROM "baselines" WHERE {who} AND $timeFilter GROUP BY time(1d) fill(none)'
        )
    )
    rest = _ts("Resting heart rate and normal range", "bpm").with_target(
        InfluxQL(
            'SELECT mean("hr_rest") AS "hr_rest", mean("hr_rest_roll7") AS "7-day mean",'
            ' mean("hr_rest_mean60") - mean("hr_rest_sd60") AS "normal low",'
            ' mean("hr_rest_mean60") + mean("hr_rest_sd60") AS "normal high"'
            f' FROM "baselines" WHERE {who} AND $timeFilter GROUP BY time(1d) fill(none)'
        )
    )
    sessions = (
        table.Panel()
        .title("Sessions")
        .datasource(DATASOURCE)
        .span(24)
        .height(9)
        .with_target(
            InfluxQL(
                'SELECT "session_id", "kind", "duration_s", "hr_avg", "hr_max",'
                ' "trimp_banister", "kcal", "points", "hrr60", "hrr60_note", "rmssd"'
                f' FROM "session_summary" WHERE {who} AND $timeFilter'
            ).table()
        )
    )
    heart = _ts("Heart rate", "bpm").with_target(
        InfluxQL(
            'SELECT mean("bpm") AS "bpm" FROM "hr"'
            f" WHERE {_athlete_filter(athlete, 'athlete')} AND $timeFilter"
            " GROUP BY time($__interval) fill(none)"
        )
    )
    return [pmc, acwr, hrv, rest, sessions, heart]


def athlete_detail(zone: str = "browser") -> dash.Dashboard:
    athlete_var = (
        dash.QueryVariable("athlete")
        .label("Athlete")
        .datasource(DATASOURCE)
        .query('SHOW TAG VALUES FROM "daily_metrics" WITH KEY = "athlete_id"')
        .refresh(model.VariableRefresh.ON_DASHBOARD_LOAD)
        .sort(model.VariableSort.NUMERICAL_ASC)
    )
    d = (
        dash.Dashboard("gympulse — athlete detail")
        .uid(ATHLETE_UID)
        .tags(["gympulse", "coach"])
        .refresh("5m")
        .time("now-90d", "now")
        .timezone(zone)
        .readonly()
        .with_variable(athlete_var)
    )
    for panel in _athlete_panels(None):
        d = d.with_panel(panel)
    return d


def guest(athlete_id: int, name: str, zone: str = "browser") -> dash.Dashboard:
    """One athlete's own view. No variables: the athlete is fixed in every query."""
    d = (
        dash.Dashboard(f"gympulse — {name}")
        .uid(guest_uid(athlete_id))
        .tags(["gympulse", "guest"])
        .refresh("5m")
        .time("now-90d", "now")
        .timezone(zone)
        .readonly()
    )
    for panel in _athlete_panels(athlete_id):
        d = d.with_panel(panel)
    return d


# --------------------------------------------------------------------------- JSON


@dataclass(frozen=True)
class Generated:
    uid: str
    folder_uid: str
    model: dict[str, Any]


def to_json(board: dash.Dashboard) -> dict[str, Any]:
    """The dashboard model as Grafana's JSON (a plain dict)."""
    import json

    encoded: dict[str, Any] = json.loads(JSONEncoder(sort_keys=True).encode(board.build()))
    number_panels(encoded)
    conform_to_schema(encoded)
    return encoded


# Grafana 11.4's stat options that the SDK (built for 10.1) does not know, at Grafana's
# defaults; its schema requires them (tests/test_grafana_schema.py).
STAT_OPTIONS = {
    "percentChangeColorMode": "standard",
    "showPercentChange": False,
    "wideLayout": True,
}


def conform_to_schema(model_json: dict[str, Any]) -> None:
    """What the SDK emits that Grafana 11.4's dashboard schema (``@grafana/schema``) does
    not have, or lacks: checked by tests/test_grafana_schema.py."""
    model_json.pop("style", None)  # the pre-8 theme field
    for panel in model_json.get("panels", []):
        if panel.get("options", {}) is None:
            del panel["options"]  # the SDK's null; the schema has an object or nothing
        if panel.get("type") == "stat":
            panel["options"] = {**STAT_OPTIONS, **panel.get("options", {})}
    for variable in model_json.get("templating", {}).get("list", []):
        variable.pop("id", None)
        if variable.get("type") != "interval":  # the SDK adds interval-only fields to all
            for key in ("auto", "auto_count", "auto_min"):
                variable.pop(key, None)


def number_panels(model_json: dict[str, Any]) -> None:
    """Give every panel (rows' nested panels too) a unique ``id``, 1, 2, ... in order: a
    public dashboard finds a panel's queries by that id, and the SDK sets none."""
    next_id = 1
    for panel in model_json.get("panels", []):
        for p in [panel, *panel.get("panels", [])]:
            p["id"] = next_id
            next_id += 1


def staff_dashboards(zone: str = "browser") -> list[Generated]:
    """``zone``: the dashboards' time zone — the site's (``settings.timezone``, what
    ``gympulse grafana sync`` passes), so a daily point, at the local midnight of the site's
    day, is drawn on that day; the provisioned files keep ``browser`` (no site known)."""
    return [
        Generated(LIVE_UID, FOLDER_STAFF, to_json(live_class(zone))),
        Generated(COACH_UID, FOLDER_STAFF, to_json(coach_squad(zone))),
        Generated(ATHLETE_UID, FOLDER_STAFF, to_json(athlete_detail(zone))),
    ]


def guest_dashboard(athlete_id: int, name: str, zone: str = "browser") -> Generated:
    return Generated(guest_uid(athlete_id), FOLDER_GUESTS, to_json(guest(athlete_id, name, zone)))


def iter_targets(model_json: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """(panel title, target) of every panel query of a dashboard JSON."""
    found: list[tuple[str, dict[str, Any]]] = []
    for panel in model_json.get("panels", []):
        for target in panel.get("targets", []) or []:
            found.append((panel.get("title", ""), target))
    return found


def export(directory: str) -> list[str]:
    """Write the staff dashboards as provisioning JSON files; returns the file names."""
    import json
    from pathlib import Path

    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    names = []
    for board in staff_dashboards():
        path = out / f"{board.uid}.json"
        path.write_text(json.dumps(board.model, indent=2, sort_keys=True) + "\n", encoding="utf-8")
        names.append(path.name)
    return names


if __name__ == "__main__":
    import sys

    print("\n".join(export(sys.argv[1] if len(sys.argv) > 1 else "config/grafana/dashboards")))
