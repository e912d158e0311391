"""Every user-facing string of the web app, in one catalogue: key -> language -> text.

Adding a language is adding a column: put its code in ``LANGUAGES`` and a text for every
key (``tests/test_web_i18n.py`` checks that no key is missing). The language is the
guest's profile language if set, else the browser's ``Accept-Language``, else English.
"""

from __future__ import annotations

from gympulse.dashboards.i18n_consent import CONSENT
from gympulse.dashboards.i18n_experience import EXPERIENCE
from gympulse.dashboards.i18n_morning import MORNING
from gympulse.dashboards.i18n_numbers import NUMBERS
from gympulse.dashboards.i18n_retreat import RETREAT
from gympulse.dashboards.i18n_strength import STRENGTH
from gympulse.pipeline.domain import strap_label

LANGUAGES = ("en", "nl")
DEFAULT = "en"

CATALOGUE: dict[str, dict[str, str]] = {
    "app": {"en": "gympulse", "nl": "gympulse"},
    "hello": {"en": "Hello {name}", "nl": "Hallo {name}"},
    "your_sessions": {"en": "Your sessions", "nl": "Jouw trainingen"},
    "no_sessions": {
        "en": "No sessions yet. They appear here after your first class.",
        "nl": "Nog geen trainingen. Ze verschijnen hier na je eerste les.",
    },
    "date": {"en": "Date", "nl": "Datum"},
    "minutes": {"en": "Minutes", "nl": "Minuten"},
    "avg_hr": {"en": "Avg HR", "nl": "Gem. hartslag"},
    "peak_hr": {"en": "Peak HR", "nl": "Max. hartslag"},
    "kcal": {"en": "kcal", "nl": "kcal"},
    "points": {"en": "Points", "nl": "Punten"},
    "zone_minutes": {"en": "Minutes per zone", "nl": "Minuten per zone"},
    "zone_n": {"en": "zone {n}", "nl": "zone {n}"},
    "live_now": {"en": "Live now", "nl": "Nu live"},
    "no_signal": {"en": "no signal", "nl": "geen signaal"},
    "rpe_title": {"en": "How hard was it?", "nl": "Hoe zwaar was het?"},
    "rpe_hint": {
        "en": "0 = rest, 10 = maximal effort",
        "nl": "0 = rust, 10 = maximale inspanning",
    },
    "rpe_saved": {"en": "Thanks, your rating is saved.", "nl": "Bedankt, je score is bewaard."},
    "wellness_title": {"en": "Morning check-in", "nl": "Ochtendcheck"},
    "wellness_recovery": {
        "en": "Wellness and recovery, last 14 days",
        "nl": "Welzijn en herstel, laatste 14 dagen",
    },
    "wellness_saved": {"en": "Thanks, see you in class!", "nl": "Bedankt, tot in de les!"},
    "sleep": {"en": "Sleep", "nl": "Slaap"},
    "stress": {"en": "Stress", "nl": "Stress"},
    "mood": {"en": "Mood", "nl": "Humeur"},
    "energy": {"en": "Energy", "nl": "Energie"},
    "soreness": {"en": "Soreness", "nl": "Spierpijn"},
    "scale_low": {
        "en": "low",
        "nl": "laag",
    },
    "scale_high": {
        "en": "high",
        "nl": "hoog",
    },
    "save": {"en": "Save", "nl": "Opslaan"},
    "progress": {"en": "Your progress", "nl": "Jouw vooruitgang"},
    "trend_rest_down": {
        "en": "Your resting heart rate went down from {a} to {b} bpm: your heart works"
        " more efficiently.",
        "nl": "Je rusthartslag daalde van {a} naar {b} slagen per minuut: je hart werkt"
        " efficiënter.",
    },
    "trend_rest_up": {
        "en": "Your resting heart rate is around {b} bpm (it was {a}). It moves with sleep,"
        " stress and training; your coach looks at it with you.",
        "nl": "Je rusthartslag ligt rond {b} slagen per minuut (eerst {a}). Die beweegt mee"
        " met slaap, stress en training; je coach kijkt er met je naar.",
    },
    "trend_hrv_up": {
        "en": "Your heart-rate variability rose: a sign of good recovery.",
        "nl": "Je hartslagvariabiliteit steeg: een teken van goed herstel.",
    },
    "trend_hrv_down": {
        "en": "Your heart-rate variability changes from day to day, which is normal. Rest"
        " and good sleep help it along.",
        "nl": "Je hartslagvariabiliteit verschilt van dag tot dag, en dat is normaal. Rust"
        " en goed slapen helpen.",
    },
    "trend_hrr": {
        "en": "After exercise your heart rate drops {b} bpm in a minute (first: {a}).",
        "nl": "Na inspanning daalt je hartslag {b} slagen in een minuut (eerst: {a}).",
    },
    "trend_vo2": {
        "en": "Estimated fitness (VO2max, from your resting heart rate): {a} → {b} ml/kg/min.",
        "nl": "Geschatte conditie (VO2max, uit je rusthartslag): {a} → {b} ml/kg/min.",
    },
    "trend_none": {
        "en": "Come to a few more classes and your trends appear here.",
        "nl": "Kom nog een paar lessen en je trends verschijnen hier.",
    },
    "weekly_zone_minutes": {
        "en": "Minutes in zone 3 or higher per week",
        "nl": "Minuten in zone 3 of hoger per week",
    },
    "resting_hr": {"en": "Resting HR", "nl": "Rusthartslag"},
    "ln_rmssd": {"en": "ln RMSSD", "nl": "ln RMSSD"},
    "normal_range": {"en": "60-day normal range", "nl": "normaal bereik (60 dagen)"},
    "link_invalid_title": {"en": "Link not valid", "nl": "Link niet geldig"},
    "link_expired": {
        "en": "This link is not valid (any more). Ask your coach for a new one.",
        "nl": "Deze link is niet (meer) geldig. Vraag je coach om een nieuwe.",
    },
    "hr_curve": {"en": "Heart rate", "nl": "Hartslag"},
    "session": {"en": "Session", "nl": "Training"},
    "back": {"en": "Back", "nl": "Terug"},
    # coach
    "coach": {"en": "Coach", "nl": "Coach"},
    "login": {"en": "Log in", "nl": "Inloggen"},
    "logout": {"en": "Log out", "nl": "Uitloggen"},
    "username": {"en": "User name", "nl": "Gebruikersnaam"},
    "password": {"en": "Password", "nl": "Wachtwoord"},
    "login_failed": {"en": "Wrong user name or password.", "nl": "Verkeerde naam of wachtwoord."},
    "login_throttled": {
        "en": "Too many wrong passwords from this device. Wait {s} seconds, then try again.",
        "nl": (
            "Te vaak een verkeerd wachtwoord vanaf dit apparaat."
            " Wacht {s} seconden en probeer het dan opnieuw."
        ),
    },
    "busy_title": {"en": "One moment please", "nl": "Een ogenblik geduld"},
    "busy": {
        "en": "The server is busy for a moment. Please try again in a few seconds.",
        "nl": "De server is even bezig. Probeer het over een paar seconden opnieuw.",
    },
    "board_locked_title": {"en": "Live board", "nl": "Live scherm"},
    "board_locked": {
        "en": "The live board opens with its board link or a coach login.",
        "nl": "Het live scherm opent met de schermlink of als coach ingelogd.",
    },
    "squad": {"en": "Squad", "nl": "Groep"},
    "athlete": {"en": "Athlete", "nl": "Sporter"},
    "form": {"en": "Form (TSB)", "nl": "Vorm (TSB)"},
    "fitness": {"en": "Fitness (CTL)", "nl": "Fitheid (CTL)"},
    "fatigue": {"en": "Fatigue (ATL)", "nl": "Vermoeidheid (ATL)"},
    "acwr": {"en": "ACWR", "nl": "ACWR"},
    "load_7d": {"en": "7-day load", "nl": "Belasting 7 dagen"},
    "hrv_status": {"en": "HRV", "nl": "HRV"},
    "rest_status": {"en": "Resting HR", "nl": "Rusthartslag"},
    "flags": {"en": "Flags", "nl": "Signalen"},
    "in_range": {"en": "normal", "nl": "normaal"},
    "out_range": {"en": "outside normal", "nl": "buiten normaal"},
    "trimp": {"en": "TRIMP", "nl": "TRIMP"},
    "hrr60": {"en": "HRR60", "nl": "HRR60"},
    "as_of": {"en": "As of", "nl": "Stand van"},
    # why a session has no HRR60 (session_summary.hrr60_note, analytics.recovery.REASONS)
    "hrr60_no-signal": {
        "en": "No HRR60: no signal 60 s after the end of exercise (strap off or no contact)",
        "nl": (
            "Geen HRR60: geen signaal 60 s na het einde van de inspanning (band af of geen contact)"
        ),
    },
    "hrr60_rose": {
        "en": "No HRR60: the heart rate went up after the end of exercise",
        "nl": "Geen HRR60: de hartslag ging omhoog na het einde van de inspanning",
    },
    "hrr60_below-rest": {
        "en": "No HRR60: the value was implausible (below resting heart rate)",
        "nl": "Geen HRR60: de waarde was onwaarschijnlijk (onder de rusthartslag)",
    },
    "hrr60_light": {
        "en": "No HRR60: no exercise at moderate intensity or above",
        "nl": "Geen HRR60: geen inspanning van matige intensiteit of hoger",
    },
    "admin": {"en": "Admin", "nl": "Beheer"},
    "athletes": {"en": "Athletes", "nl": "Sporters"},
    "straps": {"en": "Straps", "nl": "Borstbanden"},
    "assign": {"en": "Assign straps for a class", "nl": "Borstbanden toewijzen voor een les"},
    "schedule": {"en": "Class schedule", "nl": "Lesrooster"},
    "add": {"en": "Add", "nl": "Toevoegen"},
    "name": {"en": "Name", "nl": "Naam"},
    "export": {"en": "CSV export", "nl": "CSV-export"},
    "guest_links": {"en": "Guest links", "nl": "Gastlinks"},
    "new_link": {"en": "New guest link", "nl": "Nieuwe gastlink"},
    "revoke": {"en": "Revoke", "nl": "Intrekken"},
    "extend": {"en": "Extend", "nl": "Verlengen"},
    "expires": {"en": "Expires", "nl": "Verloopt"},
    "live_board": {"en": "Live board", "nl": "Live scherm"},
    # live board (TV)
    "live_connecting": {"en": "connecting…", "nl": "verbinden…"},
    "live_waiting": {"en": "Waiting for heart-rate straps…", "nl": "Wachten op hartslagbanden…"},
    "class_summary": {"en": "Class summary", "nl": "Samenvatting van de les"},
    "data_rights": {"en": "Their data", "nl": "Hun gegevens"},
    "export_zip": {
        "en": "Download all of this person's data (zip: JSON and CSV)",
        "nl": "Alle gegevens van deze persoon downloaden (zip: JSON en CSV)",
    },
    "forget": {"en": "Erase everything", "nl": "Alles wissen"},
    "forget_confirm": {
        "en": "To erase all of {name}'s data for good, type their name:",
        "nl": "Typ de naam om alle gegevens van {name} definitief te wissen:",
    },
    "forget_done": {
        "en": "All data of this person has been erased.",
        "nl": "Alle gegevens van deze persoon zijn gewist.",
    },
    "board_links": {"en": "Live board links", "nl": "Links voor het live scherm"},
    "new_board_link": {"en": "New board link", "nl": "Nieuwe schermlink"},
    "change_password": {"en": "Change your password", "nl": "Wachtwoord wijzigen"},
    "old_password": {"en": "Current password", "nl": "Huidig wachtwoord"},
    "new_password": {"en": "New password", "nl": "Nieuw wachtwoord"},
    # strength-training log (guest phone pages)
    "strength": {"en": "Strength", "nl": "Kracht"},
    "strength_log": {"en": "Log a set", "nl": "Set invullen"},
    "strength_pick": {"en": "Choose an exercise", "nl": "Kies een oefening"},
    "strength_reps": {"en": "Reps", "nl": "Herhalingen"},
    "strength_kg": {"en": "Weight (kg)", "nl": "Gewicht (kg)"},
    "strength_rpe": {"en": "How hard (RPE, optional)", "nl": "Hoe zwaar (RPE, mag leeg)"},
    "strength_save": {"en": "Save set", "nl": "Set bewaren"},
    "strength_saved": {
        "en": "Saved. Well done — rest a moment before the next set.",
        "nl": "Bewaard. Goed gedaan — rust even voor de volgende set.",
    },
    "strength_last_time": {
        "en": "Last time: {reps} × {kg} kg",
        "nl": "Vorige keer: {reps} × {kg} kg",
    },
    "strength_first_time": {
        "en": "First time: start light, you can always add weight.",
        "nl": "De eerste keer: begin licht, je kunt altijd gewicht toevoegen.",
    },
    "strength_today": {"en": "Today", "nl": "Vandaag"},
    "strength_no_sets": {"en": "No sets yet today.", "nl": "Vandaag nog geen sets."},
    "strength_volume": {"en": "Volume: {kg} kg lifted", "nl": "Volume: {kg} kg getild"},
    "strength_class_plan": {"en": "Today's plan: {name}", "nl": "Plan van vandaag: {name}"},
    "strength_with_hr": {
        "en": "Recorded together with your heart-rate session",
        "nl": "Vastgelegd samen met je hartslagtraining",
    },
    "strength_progress": {"en": "Getting stronger", "nl": "Sterker worden"},
    "strength_e1rm": {"en": "Estimated 1RM (kg)", "nl": "Geschatte 1RM (kg)"},
    "strength_trend_up": {
        "en": "{lift}: your estimated max went from {a} to {b} kg. You are getting stronger.",
        "nl": "{lift}: je geschatte max ging van {a} naar {b} kg. Je wordt sterker.",
    },
    "strength_trend_steady": {
        "en": "{lift}: steady at about {b} kg. Keeping your strength is progress too.",
        "nl": "{lift}: stabiel rond {b} kg. Je kracht behouden is ook vooruitgang.",
    },
    "strength_record": {
        "en": "New personal record on {lift}: {kg} kg estimated ({day}).",
        "nl": "Nieuw persoonlijk record bij {lift}: {kg} kg geschat ({day}).",
    },
    "strength_none": {
        "en": "Log a few sessions and your progress shows here. Every session counts.",
        "nl": "Vul een paar trainingen in en je vooruitgang verschijnt hier. Elke training telt.",
    },
    "strength_weekly_volume": {
        "en": "Volume per week (kg lifted)",
        "nl": "Volume per week (kg getild)",
    },
    # strength: the coach's side
    "strength_squad": {"en": "Strength progress", "nl": "Krachtvooruitgang"},
    "strength_sets_7d": {"en": "Sets (7 d)", "nl": "Sets (7 d)"},
    "strength_volume_7d": {"en": "Volume (7 d, kg)", "nl": "Volume (7 d, kg)"},
    "strength_srpe_7d": {"en": "sRPE load (7 d)", "nl": "sRPE-belasting (7 d)"},
    "strength_records": {"en": "Records", "nl": "Records"},
    "strength_log_for": {"en": "Log a set for a guest", "nl": "Set invullen voor een gast"},
    "strength_add_exercise": {"en": "Add an exercise", "nl": "Oefening toevoegen"},
    "strength_template": {"en": "Class plan", "nl": "Lesplan"},
    "strength_template_hint": {
        "en": "One exercise per line: key sets x reps [kg], e.g. squat 3x5 60",
        "nl": "Eén oefening per regel: sleutel sets x herhalingen [kg], bv. squat 3x5 60",
    },
    # power (machines)
    "power": {"en": "Power", "nl": "Vermogen"},
    "avg_power": {"en": "Avg power", "nl": "Gem. vermogen"},
    "work": {"en": "Work", "nl": "Arbeid"},
    "strength_rir": {
        "en": "Reps left in the tank (RIR, optional)",
        "nl": "Herhalingen over (RIR, mag leeg)",
    },
    "strength_undo": {"en": "Remove my last set", "nl": "Mijn laatste set weghalen"},
}
CATALOGUE.update(MORNING)  # morning readings (dashboards/i18n_morning.py)
CATALOGUE.update(STRENGTH)  # a lifter's session (dashboards/i18n_strength.py)
CATALOGUE.update(RETREAT)  # live board, coach and guest pages (dashboards/i18n_retreat.py)
CATALOGUE.update(NUMBERS)  # load words, wellness words, RPE timing (dashboards/i18n_numbers.py)
CATALOGUE.update(EXPERIENCE)  # class summary, coach's today (dashboards/i18n_experience.py)
CATALOGUE.update(CONSENT)  # consent and the access log (dashboards/i18n_consent.py)


# The live board's texts (its script gets them from the page, in the site's language).
LIVE_KEYS = (
    "live", "reconnecting", "zone", "zone0", "zone1", "zone2", "zone3", "zone4", "zone5",
    "no_signal", "no_contact", "pts", "target", "starts_in",
)  # fmt: skip


def pick_language(accept_language: str | None, preferred: str = "") -> str:
    """The guest's profile language if set, else the supported browser language the browser
    weighs highest (``q``, RFC 9110 §12.5.4; equal weights keep the browser's order)."""
    if preferred in LANGUAGES:
        return preferred
    ranked: list[tuple[float, int, str]] = []
    for i, part in enumerate((accept_language or "").split(",")):
        code, *params = (p.strip() for p in part.split(";"))
        q = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        code = code.lower()[:2]
        if code in LANGUAGES and q > 0:
            ranked.append((-q, i, code))
    return min(ranked)[2] if ranked else DEFAULT


DECIMAL_COMMA = frozenset({"nl"})  # languages that write 42,5 (and 1.000)


def local_number(lang: str, text: str) -> str:
    """A number written in ``lang`` ("42.5" -> "42,5" in Dutch)."""
    return text.replace(".", ",") if lang in DECIMAL_COMMA else text


def sensor_label(lang: str, sensor: str, labels: dict[str, str]) -> str:
    """The name of a strap or machine on a page: the coach's label for it, else its kind and
    number in the page's language ("strap-12" -> "borstband 12"), else its id spaced out."""
    if sensor in labels:
        return labels[sensor]
    kind, _, number = sensor.partition("-")
    key = f"sensor_{kind}"
    if number and key in CATALOGUE:
        return t(lang, key, n=number.replace("-", " "))
    return strap_label(sensor)


def t(lang: str, key: str, **values: object) -> str:
    entry = CATALOGUE[key]
    text = entry.get(lang) or entry[DEFAULT]
    return text.format(**values) if values else text
