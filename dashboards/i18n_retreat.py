"""Catalogue entries of the live board, the coach's retreat pages and the guest's phone
pages (merged into :data:`gympulse.dashboards.i18n.CATALOGUE`; kept apart so colleagues'
additions to the main catalogue do not collide)."""

from __future__ import annotations

RETREAT: dict[str, dict[str, str]] = {
    "live": {"en": "live", "nl": "live"},
    "reconnecting": {"en": "reconnecting…", "nl": "opnieuw verbinden…"},
    "zone": {"en": "zone", "nl": "zone"},
    "zone0": {"en": "warming up", "nl": "opwarmen"},
    "zone1": {"en": "easy", "nl": "rustig"},
    "zone2": {"en": "moderate", "nl": "gematigd"},
    "zone3": {"en": "steady", "nl": "stevig"},
    "zone4": {"en": "hard", "nl": "zwaar"},
    "zone5": {"en": "maximal", "nl": "maximaal"},
    "no_contact": {"en": "no contact", "nl": "geen contact"},
    "pts": {"en": "pts", "nl": "ptn"},
    "target": {"en": "Target", "nl": "Doel"},
    "starts_in": {"en": "starts in", "nl": "begint over"},
}
