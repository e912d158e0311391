"""Catalogue entries of the load numbers' definitions, the wellness words, the kind reply to
a hard morning, the RPE question's timing and the board's privacy (merged into
:data:`gympulse.dashboards.i18n.CATALOGUE`; kept apart so colleagues' additions to the main
catalogue do not collide)."""

from __future__ import annotations

NUMBERS: dict[str, dict[str, str]] = {
    # RPE: asked once the session has ended
    "rpe_later_class": {
        "en": "You can rate this class once it has ended, at {time}.",
        "nl": "Je kunt deze les een score geven zodra ze voorbij is, om {time}.",
    },
    "rpe_later_auto": {
        "en": "You can rate this training a few minutes after you finish, at {time}.",
        "nl": "Je kunt deze training een score geven een paar minuten na afloop, om {time}.",
    },
    "rpe_not_yet": {
        "en": "This session has not ended yet. Rate it once it is over: how hard the whole"
        " session felt.",
        "nl": "Deze training is nog niet voorbij. Geef een score als ze klaar is: hoe zwaar de"
        " hele training voelde.",
    },
}
