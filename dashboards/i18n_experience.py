"""Catalogue entries of the guest's class summary and the coach's "today" page and morning
email (merged into :data:`gympulse.dashboards.i18n.CATALOGUE`; kept apart so colleagues'
additions to the main catalogue do not collide).

The guests of a retreat may be recovering from burnout, depression or addiction: the words
about a session never grade it; a light one counts as much as a hard one.
"""

from __future__ import annotations

EXPERIENCE: dict[str, dict[str, str]] = {
    # ---- the guest's class summary
    "cs_title": {"en": "Your summary: {name}", "nl": "Jouw samenvatting: {name}"},
    "cs_link": {"en": "Your summary of {name}", "nl": "Jouw samenvatting van {name}"},
    "cs_effort_brief": {
        "en": "You came along today, and that counts. Whatever you could do is enough.",
        "nl": "Je was er vandaag bij, en dat telt. Wat je kon doen, is genoeg.",
    },
    "cs_effort_gentle": {
        "en": "A gentle session: you kept to an easy pace. Easy training builds your base,"
        " and on some days it is exactly what body and mind need.",
        "nl": "Een rustige training: je hield een rustig tempo aan. Rustig trainen bouwt je"
        " basis op, en sommige dagen is dat precies wat lichaam en hoofd nodig hebben.",
    },
    "cs_effort_steady": {
        "en": "A steady session, with about {working} minutes of solid work. Well done for"
        " staying with it.",
        "nl": "Een stevige training, met ongeveer {working} minuten flink werk. Knap dat je"
        " het volhield.",
    },
    "cs_effort_strong": {
        "en": "You worked hard today: about {working} minutes of solid work. Drink some"
        " water, eat well and give yourself a calm evening; rest is where training turns"
        " into strength.",
        "nl": "Je hebt vandaag hard gewerkt: ongeveer {working} minuten flink werk. Drink wat"
        " water, eet goed en gun jezelf een rustige avond; in de rust wordt training"
        " kracht.",
    },
    "cs_hrr_waiting": {
        "en": "Your heart-rate recovery (how far your heart rate comes down in the first"
        " minute after class) appears here once today's numbers are worked out.",
        "nl": "Je hartslagherstel (hoeveel je hartslag daalt in de eerste minuut na de les)"
        " verschijnt hier zodra de cijfers van vandaag zijn verwerkt.",
    },
    "cs_hrr_known": {
        "en": "In the first minute after class your heart rate came down by {n} beats. It"
        " shows how your heart settles after effort; it changes with rest and sleep too.",
        "nl": "In de eerste minuut na de les daalde je hartslag met {n} slagen. Dat laat zien"
        " hoe je hart tot rust komt na inspanning; het verandert ook met rust en slaap.",
    },
    "cs_thanks": {
        "en": "Thank you for training with us.",
        "nl": "Dank je wel dat je met ons meetrainde.",
    },
    "cs_hrr": {"en": "Recovery (1 min)", "nl": "Herstel (1 min)"},
    "cs_hrr_tip": {
        "en": "HRR60: heart rate at the end of the effort minus heart rate 60 seconds later",
        "nl": "HRR60: hartslag aan het eind van de inspanning min hartslag 60 seconden later",
    },
    "cs_hrr_later": {"en": "later today", "nl": "later vandaag"},
    "cs_beats": {"en": "{n} beats", "nl": "{n} slagen"},
    "bpm_unit": {"en": "bpm", "nl": "slagen/min"},
    # ---- the coach's "today" (page and morning email)
    "today_title": {"en": "Today", "nl": "Vandaag"},
    "today_heading": {"en": "Who needs attention today", "nl": "Wie vandaag aandacht nodig heeft"},
    "today_intro": {
        "en": "{day}: most need first. Each line says why.",
        "nl": "{day}: wie het meest nodig heeft eerst. Elke regel zegt waarom.",
    },
    "today_nobody": {
        "en": "Nobody stands out today: every guest staying has checked in, taken a"
        " reading and shows no concern.",
        "nl": "Vandaag valt niemand op: iedere gast die er is heeft ingecheckt, een meting"
        " gedaan en laat geen zorgen zien.",
    },
    "today_mood_low": {
        "en": "mood {mood} of 5 in today's check-in",
        "nl": "stemming {mood} van 5 in de ochtendcheck van vandaag",
    },
    "today_wellness_low": {
        "en": "low check-in today ({total} of 25)",
        "nl": "lage ochtendcheck vandaag ({total} van 25)",
    },
    "today_readiness_down": {"en": "readiness down: {signs}", "nl": "minder hersteld: {signs}"},
    "today_sign_hrv_below": {
        "en": "morning HRV below their usual range this week",
        "nl": "ochtend-HRV deze week onder hun gewone bereik",
    },
    "today_sign_hrv_low_today": {
        "en": "this morning's HRV below their usual range",
        "nl": "HRV van vanochtend onder hun gewone bereik",
    },
    "today_sign_hr_rest_above": {
        "en": "resting heart rate above their usual range",
        "nl": "rusthartslag boven hun gewone bereik",
    },
    "today_load_spike": {
        "en": "load spike: this week's load is {acwr} times their usual (ACWR)",
        "nl": "piek in belasting: deze week {acwr} keer hun gewone belasting (ACWR)",
    },
    "today_hard_session": {
        "en": "last session felt very hard (RPE {rpe})",
        "nl": "laatste training voelde heel zwaar (RPE {rpe})",
    },
    "today_form_low": {"en": "tired: form below −30", "nl": "vermoeid: vorm onder −30"},
    "today_no_reading": {
        "en": "no morning reading yet today",
        "nl": "nog geen ochtendmeting vandaag",
    },
    "today_no_checkin": {"en": "no check-in yet today", "nl": "nog geen ochtendcheck vandaag"},
    "today_email_subject": {
        "en": "{site}: who needs attention today, {day}",
        "nl": "{site}: wie vandaag aandacht nodig heeft, {day}",
    },
    "today_email_hello": {"en": "Good morning {name},", "nl": "Goedemorgen {name},"},
    "today_email_open": {"en": "The whole list: {url}", "nl": "De hele lijst: {url}"},
    "today_email_bye": {
        "en": "Have a good day with the group.",
        "nl": "Een fijne dag met de groep.",
    },
    # ---- the coach's guest links
    "guest_link": {"en": "Guest link", "nl": "Gastlink"},
    "link_valid_days": {"en": "Valid for (days)", "nl": "Geldig (dagen)"},
    "link_extend_days": {"en": "Extend by (days)", "nl": "Verlengen met (dagen)"},
}
