"""The load numbers on the coach's pages (issue 20 item 3): a guest ten days into a stay sees
"building" instead of a form and an ACWR (the model's own rows, pipeline/analytics/load.py),
and every chart says in plain words, in English and Dutch, what CTL, ATL, TSB, ACWR and
ln RMSSD mean — ACWR as a ratio of loads, with no "sweet spot"."""

from __future__ import annotations

import asyncio
import datetime as dt
import html as markup
import re

import polars as pl

from gympulse.dashboards.i18n import t
from gympulse.pipeline.analytics.load import performance
from gympulse.pipeline.analytics.tables import DAILY_METRICS, conform
from gympulse.pipeline.stores import make_store
from gympulse.settings import StoreSettings
from tests.support.web import Seeded, app_client, login


def _ten_days(db: str, athlete_id: int) -> None:
    today = dt.datetime.now(dt.UTC).date()
    days = [today - dt.timedelta(days=9 - i) for i in range(10)]
    loads = [80.0, 0.0, 120.0, 60.0, 0.0, 140.0, 0.0, 90.0, 110.0, 0.0]
    frame = performance(
        pl.DataFrame({"athlete_id": [athlete_id] * 10, "date": days, "load": loads}),
        by=["athlete_id"],
    ).with_columns(
        sessions=pl.lit(1), minutes=pl.lit(45.0), srpe_load=pl.lit(0.0), updated_ms=pl.lit(0)
    )

    async def write() -> None:
        store = make_store(StoreSettings(path=db))
        await store.open()
        try:
            rows = conform(DAILY_METRICS, frame)
            await store.write_rows(DAILY_METRICS.name, rows, DAILY_METRICS.key)
        finally:
            await store.close()

    asyncio.run(write())


def _text(html: str) -> str:
    return re.sub(r"\s+", " ", markup.unescape(re.sub(r"<[^>]+>", " ", html)))


def test_building_and_the_words_of_every_chart(seeded: Seeded) -> None:
    alice = seeded.athletes["Alice"]
    _ten_days(str(seeded.db), alice)
    with app_client(seeded.db) as client:
        login(client, seeded.coach_user, seeded.coach_password)
        squad = {r["name"]: r for r in client.get("/api/coach/squad").json()}
        assert squad["Alice"]["history_days"] == 10
        assert squad["Alice"]["tsb"] is None and squad["Alice"]["acwr"] is None
        page = client.get("/coach").text
        row = next(r for r in page.split("<tr") if f'/coach/athletes/{alice}"' in r)
        assert 'class="tsb"><span class="building">building 10/43 d' in row
        assert 'class="acwr"><span class="building">building 10/28 d' in row
        assert t("en", "tip_acwr") in markup.unescape(page) and "injury risk" in t("en", "tip_acwr")
        for lang in ("en", "nl"):
            html = client.get(f"/coach/athletes/{alice}", headers={"Accept-Language": lang}).text
            words = _text(html)
            for key in ("def_ctl", "def_atl", "def_tsb", "def_acwr", "def_acwr_limits",
                        "def_ln_rmssd", "def_normal_range"):  # fmt: skip
                assert _text(t(lang, key)) in words, (lang, key)
            assert _text(t(lang, "load_building_long", n=10, of=42)) in words
            assert _text(t(lang, "load_building_long", n=10, of=28)) in words
            assert "0.8–1.3" not in html and "0,8–1,3" not in html  # the old "sweet spot"
            assert html.count('<figure class="chart-box">') == 4
