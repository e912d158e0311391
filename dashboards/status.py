"""The daily status on the pages (:mod:`gympulse.pipeline.analytics.readiness`): every
athlete's status for the coach's squad, the guest's own status in kind, plain words, and
the guest's morning trend chart with their usual range."""

from __future__ import annotations

import datetime as dt
from typing import Any

from gympulse.dashboards import charts
from gympulse.dashboards.access import run_db
from gympulse.dashboards.data import Row
from gympulse.dashboards.i18n import t
from gympulse.dashboards.web import AppContext
from gympulse.pipeline.analytics.readiness import Status, attention_key, daily_status


def _today(ctx: AppContext) -> set[str]:
    from zoneinfo import ZoneInfo

    tz = ctx.settings.timezone
    local = dt.datetime.now(dt.UTC if tz == "UTC" else ZoneInfo(tz)).date()
    return {local.isoformat(), dt.datetime.now(dt.UTC).date().isoformat()}


def _wellness_today(ctx: AppContext, athlete_id: int) -> dict[str, int] | None:
    today = _today(ctx)
    for w in reversed(ctx.journal.wellness(athlete_id)):
        if w.date.isoformat() in today:
            return {
                "sleep": w.sleep,
                "stress": w.stress,
                "mood": w.mood,
                "energy": w.energy,
                "soreness": w.soreness,
            }
    return None


def _last_rpe(ctx: AppContext, athlete_id: int, last: Row | None) -> float | None:
    if last is None:
        return None
    rated = {r.session_id: r.rpe for r in ctx.journal.session_rpes(athlete_id)}
    value = rated.get(str(last.get("session_id")), last.get("rpe"))
    return None if value is None else float(value)


async def squad_statuses(ctx: AppContext) -> dict[int, Status]:
    """Every athlete's daily status (readings, today's wellness, last session's RPE)."""
    base = await ctx.data.recent_baselines()
    last = await ctx.data.last_sessions()
    daily = await ctx.data.latest_per_athlete("daily_metrics")
    return await run_db(_statuses, ctx, base, last, daily)


def _statuses(
    ctx: AppContext, base: dict[int, list[Row]], last: dict[int, Row], daily: dict[int, Row]
) -> dict[int, Status]:
    """(In a worker thread: it reads the journal.)"""
    out: dict[int, Status] = {}
    for a in ctx.registry.athletes():
        d = daily.get(a.id, {})
        out[a.id] = daily_status(
            base.get(a.id, []),
            wellness=_wellness_today(ctx, a.id),
            last_rpe=_last_rpe(ctx, a.id, last.get(a.id)),
            acwr=d.get("acwr_ewma"),
            tsb=d.get("tsb"),
        )
    return out


def status_fields(status: Status) -> dict[str, Any]:
    """The status as squad-row fields (JSON and the squad template)."""
    return {
        "status": status.level,
        "care": status.care,  # a very low mood today: seen first, in person
        "attention": status.score,
        "reasons": list(status.reasons),
        "readings": status.readings,
        # "building" until the 60-day window holds 7 daily values: never "normal" before
        "hrv_state": status.hrv.state,
        "hr_rest_state": status.hr_rest.state,
        "ln_rmssd_roll7": status.hrv.roll7,
        "ln_rmssd_range": None
        if status.hrv.low is None
        else [round(status.hrv.low, 3), round(status.hrv.high or 0.0, 3)],
        "hr_rest_roll7": status.hr_rest.roll7,
        "hr_rest_range": None
        if status.hr_rest.low is None
        else [round(status.hr_rest.low, 1), round(status.hr_rest.high or 0.0, 1)],
        **status.details,
    }


def sort_squad(rows: list[dict[str, Any]], statuses: dict[int, Status]) -> None:
    """People who need attention first (declining above improving), then by name."""
    rows.sort(key=lambda r: attention_key(statuses[r["athlete_id"]], str(r["name"])))


def status_words(lang: str, status: Status) -> str:
    """The guest's status in kind, plain words (no claim before the baseline exists)."""
    if status.level == "building":
        return t(lang, "status_building", n=min(status.readings, 7))
    return t(lang, f"status_{status.level}")


async def guest_status(ctx: AppContext, athlete_id: int) -> tuple[Status, list[Row]]:
    base = await ctx.data.baselines(athlete_id, days=60)
    last = await ctx.data.last_sessions()
    wellness = await run_db(_wellness_today, ctx, athlete_id)
    rpe = await run_db(_last_rpe, ctx, athlete_id, last.get(athlete_id))
    return daily_status(base, wellness=wellness, last_rpe=rpe), base


def trend_chart(lang: str, base: list[Row], status: Status) -> Any:
    """The guest's mornings with their usual range (only once the baseline exists)."""
    dates = [str(r["date"]) for r in base]
    lo: list[float | None] = []
    hi: list[float | None] = []
    for r in base:
        mean, sd = r.get("ln_rmssd_mean60"), r.get("ln_rmssd_sd60")
        ok = mean is not None and sd is not None
        lo.append(float(mean) - float(sd) if ok else None)  # type: ignore[arg-type]
        hi.append(float(mean) + float(sd) if ok else None)  # type: ignore[arg-type]
    band = (lo, hi) if status.level != "building" else None
    return charts.line_chart(
        [(t(lang, "morning_hrv_line"), [r.get("ln_rmssd") for r in base])],
        dates,
        title=t(lang, "morning_trend"),
        band=band,
        band_label=t(lang, "morning_band"),
        width=charts.PHONE_WIDTH,
    )
