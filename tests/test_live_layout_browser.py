"""The live board's tiles on a 1920×1080 TV in real headless Chromium (``gympulse web`` under
uvicorn): at 10, 24 and 40 tiles every name and heart rate is on screen, inside its tile, not
covered by another part of the tile, not cut, large enough to read across the room, and in
a colour that stands out from its tile's zone colour (WCAG contrast 4.5:1).

Tiles are added through the page's own ``upsert()`` (what the live stream calls), a mix of
people with a strap only, riders on a bike (watts and cadence under the heart rate), every
zone, and a strap that dropped."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

import pytest

from tests.support.procs import Mosquitto
from tests.support.web import artifact, board_token, chromium, web_server

pytestmark = pytest.mark.slow  # a real Mosquitto, uvicorn and headless Chromium

NAMES = [
    "Anna V.", "Maximiliaan D.", "Sem", "Anne-Sophie B.", "Jan-Willem K.", "Femke",
    "Bram O.", "Lotte H.", "Mohammed E.", "Ingrid S.", "Noor", "Thijs P.",
]  # fmt: skip
NAME_FLOOR_PX = 18  # the smallest name a coach can read from across the room
BPM_FLOOR_PX = 32  # ... and heart rate

# Adds the tiles and measures them in one synchronous step (tiles go grey when no update
# comes for 5 s, which must not happen between adding and measuring).
MEASURE = """([tiles]) => {
  tiles.forEach((t) => upsert({...t, ts: Date.now(), received_ms: Date.now()}));
  const box = (el) => {
    const range = document.createRange();
    range.selectNodeContents(el);  // the glyphs, not the grid cell
    const r = range.getBoundingClientRect();
    return [r.left, r.top, r.right, r.bottom];
  };
  const rgb = (s) => s.match(/[\\d.]+/g).slice(0, 3).map(Number);
  return [...document.querySelectorAll('.tile')].map((tile) => {
    const t = tile.getBoundingClientRect();
    const parts = {};
    for (const cls of ['name', 'bpm', 'zone', 'pct', 'machine', 'pts', 'kcal']) {
      const el = tile.querySelector('.' + cls);
      if (el.hidden || !el.textContent) continue;
      const b = box(el);
      const hit = document.elementFromPoint((b[0] + b[2]) / 2, (b[1] + b[3]) / 2);
      parts[cls] = {box: b, text: el.textContent, size: parseFloat(getComputedStyle(el).fontSize),
        cut: el.scrollWidth > el.clientWidth + 1, seen: el.contains(hit) || el === hit,
        color: rgb(getComputedStyle(el).color)};
    }
    return {sensor: tile.dataset.sensor, tile: [t.left, t.top, t.right, t.bottom],
      bg: rgb(getComputedStyle(tile).backgroundColor), parts};
  });
}"""


def _tiles(n: int) -> list[dict[str, Any]]:
    tiles = []
    for i in range(n):
        zone = i % 6
        tile: dict[str, Any] = {
            "sensor": f"strap-{i:02d}",
            "name": NAMES[i % len(NAMES)] if i < len(NAMES) else f"{NAMES[i % len(NAMES)]} {i}",
            "athlete_id": i + 1,
            "bpm": 100 + 15 * zone,
            "pct_max": 45 + 10 * zone,
            "zone": zone,
            "state": "live",
            "kcal": 180.0 + i,
            "points": 31.0 + i,
            "machine": None,
        }
        if i % 4 == 1:  # a rider on a bike
            tile["machine"] = {"sensor": f"bike-{i}", "kind": "bike", "power_w": 215,
                               "cadence": 88}  # fmt: skip
        if i == 2:  # a strap that dropped
            tile.update(state="no-signal", bpm=None, pct_max=None)
        tiles.append(tile)
    return tiles


def _overlap(a: list[float], b: list[float]) -> bool:
    """More than a pixel of one box lies over the other (sub-pixel rounding aside)."""
    w = min(a[2], b[2]) - max(a[0], b[0])
    h = min(a[3], b[3]) - max(a[1], b[1])
    return w > 1 and h > 1


def _luminance(rgb: list[float]) -> float:
    def channel(c: float) -> float:
        c /= 255
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (channel(c) for c in rgb)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def _contrast(fg: list[float], bg: list[float]) -> float:
    hi, lo = sorted((_luminance(fg), _luminance(bg)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


def _problems(measured: list[dict[str, Any]]) -> list[str]:
    found = []
    for tile in measured:
        parts, box, who = tile["parts"], tile["tile"], tile["sensor"]
        for required in ("name", "bpm", "pts"):
            if required not in parts:
                found.append(f"{who}: no {required}")
        for cls, part in parts.items():
            b = part["box"]
            if b[0] < box[0] - 1 or b[1] < box[1] - 1 or b[2] > box[2] + 1 or b[3] > box[3] + 1:
                found.append(f"{who}: {cls} {part['text']!r} {b} outside its tile {box}")
            if not part["seen"]:
                found.append(f"{who}: {cls} {part['text']!r} is covered")
            if part["cut"]:
                found.append(f"{who}: {cls} {part['text']!r} is cut off")
            if _contrast(part["color"], tile["bg"]) < 4.5:
                found.append(f"{who}: {cls} {part['color']} on {tile['bg']} is hard to read")
        names = sorted(parts)
        for i, a in enumerate(names):
            for b in names[i + 1 :]:
                if _overlap(parts[a]["box"], parts[b]["box"]):
                    found.append(f"{who}: {a} and {b} overlap")
        if "name" in parts and parts["name"]["size"] < NAME_FLOOR_PX:
            found.append(f"{who}: name at {parts['name']['size']} px")
        if "bpm" in parts and parts["bpm"]["size"] < BPM_FLOOR_PX:
            found.append(f"{who}: bpm at {parts['bpm']['size']} px")
    return found


async def test_every_name_and_heart_rate_is_readable_at_10_24_and_40_tiles(
    mosquitto: Mosquitto, tmp_path: Path
) -> None:
    db = tmp_path / "gympulse.db"
    token = board_token(db)
    with web_server(mosquitto.url, db) as base:
        async with chromium() as browser:
            for lang in ("en", "nl"):
                context = await browser.new_context(
                    viewport={"width": 1920, "height": 1080}, locale=lang,
                    extra_http_headers={"Accept-Language": lang},
                )  # fmt: skip
                page = await context.new_page()
                await page.goto(f"{base}/board/{token}")  # opens /live
                for n in (10, 24, 40):
                    await page.goto(f"{base}/live")
                    measured = await page.evaluate(MEASURE, [_tiles(n)])
                    await page.screenshot(path=artifact(f"live-layout-{n}-{lang}.png"))
                    assert len(measured) == n
                    problems = _problems(measured)
                    print(measured[0])
                    assert not problems, f"{n} tiles ({lang}):\n" + "\n".join(problems[:20])
                    # Every tile says whose it is, and the riders' watts are there.
                    assert sorted(t["parts"]["name"]["text"] for t in measured) == sorted(
                        x["name"] for x in _tiles(n)
                    )
                    riders = [t for t in measured if "machine" in t["parts"]]
                    assert len(riders) == len([x for x in _tiles(n) if x["machine"]])
                    assert await page.evaluate("document.documentElement.scrollHeight") <= 1080
                with contextlib.suppress(Exception):
                    await context.close()
