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
    # guest's phone
    "hello_first": {"en": "Hello {name}", "nl": "Hallo {name}"},
    "q_sleep": {"en": "How did you sleep?", "nl": "Hoe heb je geslapen?"},
    "q_stress": {"en": "How much stress do you feel?", "nl": "Hoeveel stress voel je?"},
    "q_mood": {"en": "How is your mood?", "nl": "Hoe is je stemming?"},
    "q_energy": {"en": "How much energy do you have?", "nl": "Hoeveel energie heb je?"},
    "q_soreness": {"en": "Any sore muscles?", "nl": "Heb je spierpijn?"},
    "lo_sleep": {"en": "very badly", "nl": "heel slecht"},
    "hi_sleep": {"en": "very well", "nl": "heel goed"},
    "lo_stress": {"en": "very much", "nl": "heel veel"},
    "hi_stress": {"en": "none", "nl": "geen"},
    "lo_mood": {"en": "very low", "nl": "heel somber"},
    "hi_mood": {"en": "very good", "nl": "heel goed"},
    "lo_energy": {"en": "very little", "nl": "heel weinig"},
    "hi_energy": {"en": "plenty", "nl": "heel veel"},
    "lo_soreness": {"en": "very sore", "nl": "veel spierpijn"},
    "hi_soreness": {"en": "none", "nl": "geen"},
    "checked_in_today": {
        "en": "You checked in today. Thank you!",
        "nl": "Je hebt vandaag ingecheckt. Dank je wel!",
    },
    "change_answers": {"en": "Change today's answers", "nl": "Antwoorden van vandaag aanpassen"},
    "week_view": {"en": "Your last 7 days", "nl": "Jouw laatste 7 dagen"},
    "week_hint": {
        "en": "5 is the best answer for every question; an empty day is fine.",
        "nl": "5 is bij elke vraag het beste antwoord; een lege dag is prima.",
    },
    "last_session": {"en": "Your last session", "nl": "Je laatste training"},
    "you_rated": {"en": "You rated it {rpe} out of 10.", "nl": "Jouw score: {rpe} van 10."},
    "rpe_thanks": {
        "en": "Thanks! You rated this session {rpe} out of 10.",
        "nl": "Dank je! Je gaf deze training een {rpe} van 10.",
    },
    "rated": {"en": "Rated {rpe}/10", "nl": "Score {rpe}/10"},
    "not_rated": {"en": "not rated yet", "nl": "nog geen score"},
    "trend_wait": {
        "en": "Your trends appear after {need} morning readings: {n} more to go.",
        "nl": "Je trends verschijnen na {need} ochtendmetingen: nog {n} te gaan.",
    },
    "minutes_short": {"en": "{n} min", "nl": "{n} min"},
    "points_short": {"en": "{n} points", "nl": "{n} punten"},
    "kcal_small": {"en": "about {n} kcal", "nl": "ongeveer {n} kcal"},
    "weekdays_short": {"en": "Mo Tu We Th Fr Sa Su", "nl": "ma di wo do vr za zo"},
}
