"""What the shared screen may show (``web.board_privacy``): the gym's TV is seen by the whole
room, so a site can keep health markers off it while each guest keeps the full numbers on
their own phone (the guest's pages read the hub directly, never through these views).

- ``full`` (the default): board names, heart rate, % HRmax, zone, kcal, points, a bike's
  watts; the class summary with kcal, peak HR and HRR60.
- ``zones``: the board name (the coach's alias for the guest), the zone and points only —
  no heart rate, % HRmax, kcal, watts or sparkline on a tile, no kcal, peak HR or HRR60 in
  the class summary.
- ``initials``: as ``zones``, with the board name's initials ("Anna de Vries" -> "AdV").

Pure functions over the JSON rows the hub produces; the board's routes and the hub's
board stream apply them, so private values never leave the server for the TV.
"""

from __future__ import annotations

from typing import Any, Literal

Privacy = Literal["full", "initials", "zones"]
PRIVACIES: tuple[Privacy, ...] = ("full", "initials", "zones")

# What a private board keeps of a tile and of a class-summary row.
TILE_KEEP = ("sensor", "name", "athlete_id", "zone", "ts", "received_ms", "state", "points")
SUMMARY_KEEP = ("sensor", "name", "athlete_id", "zone_minutes", "points")


def initials(name: str) -> str:
    """ "Anna de Vries" -> "AdV", "strap 12" -> "s1"; the first letter of each word (a
    word's own case kept), a digit run kept whole ("Bike 3" -> "B3")."""
    out = []
    for word in name.split():
        out.append(word if word.isdigit() else word[0])
    return "".join(out) or "?"


def board_tile(tile: dict[str, Any], privacy: Privacy) -> dict[str, Any]:
    """A tile event as the shared screen may show it."""
    if privacy == "full":
        return tile
    out = {k: tile.get(k) for k in TILE_KEEP}
    out["private"] = True  # the page draws zone and points only
    if privacy == "initials":
        out["name"] = initials(str(tile.get("name") or ""))
    return out


def board_summary(rows: list[dict[str, Any]], privacy: Privacy) -> list[dict[str, Any]]:
    """The class summary as the shared screen may show it."""
    if privacy == "full":
        return rows
    out = []
    for row in rows:
        kept = {k: row.get(k) for k in SUMMARY_KEEP}
        if privacy == "initials":
            kept["name"] = initials(str(row.get("name") or ""))
        out.append(kept)
    return out
