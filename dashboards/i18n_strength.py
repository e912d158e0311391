"""The strength-log strings of a lifter's session (rest timer, routines, warm-ups, a lift's
history), EN and NL. Merged into :data:`gympulse.dashboards.i18n.CATALOGUE`.

Guests here are often rebuilding: the words praise showing up, never push, and a session
that did not go up is still a session.
"""

from __future__ import annotations

STRENGTH: dict[str, dict[str, str]] = {
    # ---- warm-ups
    "strength_warmup": {
        "en": "Warm-up set (does not count)",
        "nl": "Opwarmset (telt niet mee)",
    },
    "strength_warmup_mark": {"en": "warm-up", "nl": "opwarming"},
    "strength_warmup_save": {"en": "Save warm-up", "nl": "Opwarmset bewaren"},
    "strength_warmups": {"en": "Warm-up", "nl": "Opwarmen"},
    # ---- the rest timer (also read by strength.js from data attributes)
    "strength_rest": {"en": "Rest", "nl": "Rust"},
    "strength_rest_over": {
        "en": "Rest is over — start your next set when you feel ready.",
        "nl": "De rust is voorbij — begin aan je volgende set als je er klaar voor bent.",
    },
    "strength_rest_skip": {"en": "Skip rest", "nl": "Rust overslaan"},
    "strength_rest_more": {"en": "+30 s", "nl": "+30 s"},
    # ---- records
    "strength_new_record": {
        "en": "A new personal record: {kg} kg estimated 1RM. Well earned!",
        "nl": "Een nieuw persoonlijk record: {kg} kg geschatte 1RM. Dik verdiend!",
    },
    "strength_baseline": {
        "en": "Your first session of this lift: it is your starting point. Records count"
        " from next time.",
        "nl": "Je eerste training van deze oefening: dit is je startpunt. Records tellen vanaf"
        " de volgende keer.",
    },
    # ---- routines (the coach's class plans)
    "strength_routines": {"en": "Routines from your coach", "nl": "Schema's van je coach"},
    "strength_routine_start": {"en": "Start {name}", "nl": "{name} starten"},
    "strength_routine_target": {
        "en": "{sets} × {reps} reps",
        "nl": "{sets} × {reps} herhalingen",
    },
    "strength_suggest_up": {
        "en": "Last time every set reached {reps} reps at {last} kg. Today: {kg} kg.",
        "nl": "Vorige keer haalde je bij {last} kg in elke set {reps} herhalingen."
        " Vandaag: {kg} kg.",
    },
    "strength_suggest_repeat": {
        "en": "Today {kg} kg again: once every set reaches {reps} reps, the weight goes up.",
        "nl": "Vandaag weer {kg} kg: als elke set {reps} herhalingen haalt, gaat het gewicht"
        " omhoog.",
    },
    "strength_suggest_plan": {
        "en": "Your coach's starting weight: {kg} kg.",
        "nl": "Het startgewicht van je coach: {kg} kg.",
    },
    "strength_suggest_none": {
        "en": "Choose a weight you can lift {reps} times with good form.",
        "nl": "Kies een gewicht dat je {reps} keer met een goede techniek kunt tillen.",
    },
    "strength_set_n": {"en": "Set {n}", "nl": "Set {n}"},
    "strength_set_done": {"en": "Done", "nl": "Klaar"},
    "strength_routine_done": {
        "en": "All sets of {lift} done. Well done!",
        "nl": "Alle sets van {lift} gedaan. Goed gedaan!",
    },
    "strength_progression_rule": {
        "en": "How the weight goes up: when every set of a lift reaches its target reps, the"
        " next session suggests 2.5 kg more. Otherwise you stay at the same weight until it"
        " does.",
        "nl": "Zo gaat het gewicht omhoog: als elke set van een oefening het doel haalt, stelt"
        " de volgende training 2,5 kg meer voor. Anders blijf je op hetzelfde gewicht tot het"
        " lukt.",
    },
    "strength_no_routine": {
        "en": "This routine is not available any more. Ask your coach for today's plan.",
        "nl": "Dit schema bestaat niet meer. Vraag je coach naar het plan van vandaag.",
    },
    # ---- a lift's history
    "strength_history": {"en": "History", "nl": "Geschiedenis"},
    "strength_history_of": {"en": "{lift}: every session", "nl": "{lift}: alle trainingen"},
    "strength_history_link": {
        "en": "Every session of this lift",
        "nl": "Alle trainingen van deze oefening",
    },
    "strength_history_none": {
        "en": "No sets of this lift yet.",
        "nl": "Nog geen sets van deze oefening.",
    },
    "strength_best_e1rm": {
        "en": "best estimated 1RM {kg} kg",
        "nl": "beste geschatte 1RM {kg} kg",
    },
    "strength_record_mark": {"en": "personal record", "nl": "persoonlijk record"},
    "strength_first_mark": {"en": "starting point", "nl": "startpunt"},
    "strength_session_volume": {"en": "{kg} kg lifted", "nl": "{kg} kg getild"},
    "strength_coach_history": {
        "en": "{name} · {lift}",
        "nl": "{name} · {lift}",
    },
    "strength_pick_lift": {"en": "Lift", "nl": "Oefening"},
    "strength_show": {"en": "Show", "nl": "Tonen"},
}
