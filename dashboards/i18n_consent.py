"""Consent and access-log strings (guest consent page, the coach's consent form and access
log), EN and NL. Merged into :data:`gympulse.dashboards.i18n.CATALOGUE`.

Guests here may be in treatment: the words say plainly what each kind of data is for, that
no is a fine answer, and that a yes can be taken back at any time with one press.
"""

from __future__ import annotations

CONSENT: dict[str, dict[str, str]] = {
    "consent_nav": {"en": "Privacy", "nl": "Privacy"},
    "consent_title": {"en": "What you share with us", "nl": "Wat je met ons deelt"},
    "consent_intro": {
        "en": "You decide, one kind of data at a time, what we may keep and show. Nothing is"
        " switched on until you say yes, and you can change your mind here whenever you"
        " like: it takes effect straight away.",
        "nl": "Jij beslist, per soort gegevens, wat we mogen bewaren en laten zien. Niets staat"
        " aan voordat jij ja zegt, en je kunt hier altijd van gedachten veranderen: het geldt"
        " meteen.",
    },
    "consent_live": {"en": "Heart rate in class", "nl": "Hartslag tijdens de les"},
    "consent_live_explain": {
        "en": "Your strap's heart rate during classes: kept to show your sessions and"
        " progress, and shown on the screen in the room next to your first name. Without it"
        " the screen shows only your name.",
        "nl": "De hartslag van je band tijdens de lessen: bewaard om je trainingen en"
        " voortgang te tonen, en op het scherm in de zaal getoond naast je voornaam. Zonder"
        " dit toont het scherm alleen je naam.",
    },
    "consent_morning": {"en": "Morning heart-rate variability", "nl": "Ochtend-hartritmevariatie"},
    "consent_morning_explain": {
        "en": "A short reading in the morning, lying or sitting still, that shows how well"
        " you have recovered. Kept to build your own normal range.",
        "nl": "Een korte meting 's ochtends, liggend of stil zittend, die laat zien hoe goed je"
        " hersteld bent. Bewaard om jouw eigen normale bereik op te bouwen.",
    },
    "consent_wellness": {"en": "Wellness and mood", "nl": "Welzijn en stemming"},
    "consent_wellness_explain": {
        "en": "Your daily check-in: sleep, stress, mood, energy and soreness. Your coach sees"
        " it to adjust your training.",
        "nl": "Je dagelijkse check-in: slaap, stress, stemming, energie en spierpijn. Je coach"
        " ziet het om je training aan te passen.",
    },
    "consent_strength": {"en": "Strength log", "nl": "Krachtlogboek"},
    "consent_strength_explain": {
        "en": "The sets you lift (exercise, weight, repetitions), logged by you or your coach.",
        "nl": "De sets die je tilt (oefening, gewicht, herhalingen), door jou of je coach"
        " genoteerd.",
    },
    "consent_grafana": {"en": "Sharing a dashboard", "nl": "Een dashboard delen"},
    "consent_grafana_explain": {
        "en": "A personal Grafana dashboard of your data that opens with a link, without"
        " logging in. Saying no, or taking it back, removes the link.",
        "nl": "Een persoonlijk Grafana-dashboard van je gegevens dat met een link opent,"
        " zonder in te loggen. Nee zeggen, of het intrekken, haalt de link weg.",
    },
    "consent_yes": {"en": "Yes, I agree", "nl": "Ja, ik ga akkoord"},
    "consent_no": {"en": "No, thank you", "nl": "Nee, liever niet"},
    "consent_withdraw": {"en": "Take back my yes", "nl": "Mijn ja intrekken"},
    "consent_record_yes": {"en": "Record her yes", "nl": "Haar ja vastleggen"},
    "consent_given_on": {"en": "You said yes on {when}.", "nl": "Je zei ja op {when}."},
    "consent_refused_on": {
        "en": "You said no on {when}. Nothing of this is kept.",
        "nl": "Je zei nee op {when}. Hiervan wordt niets bewaard.",
    },
    "consent_unanswered": {
        "en": "Not answered yet, so nothing of this is kept.",
        "nl": "Nog niet beantwoord, dus hiervan wordt niets bewaard.",
    },
    "consent_assumed": {
        "en": "You agreed before we recorded it here; you can change it.",
        "nl": "Je gaf eerder toestemming, voordat we het hier vastlegden; je kunt het wijzigen.",
    },
    "consent_saved": {"en": "Saved. Thank you.", "nl": "Bewaard. Dank je wel."},
    "consent_footer": {
        "en": "Saying no never costs you a class. Your data stays with this gym.",
        "nl": "Nee zeggen kost je nooit een les. Je gegevens blijven bij deze sportschool.",
    },
    "consent_open": {"en": "Choose what you share", "nl": "Kies wat je deelt"},
    "consent_needed_title": {"en": "Only with your yes", "nl": "Alleen met jouw ja"},
    "consent_needed_live": {
        "en": "We keep your heart rate only when you have said yes to it.",
        "nl": "We bewaren je hartslag alleen als je daar ja op hebt gezegd.",
    },
    "consent_needed_morning": {
        "en": "A morning reading is kept only when you have said yes to it.",
        "nl": "Een ochtendmeting wordt alleen bewaard als je daar ja op hebt gezegd.",
    },
    "consent_needed_wellness": {
        "en": "Your check-in is kept only when you have said yes to it.",
        "nl": "Je check-in wordt alleen bewaard als je daar ja op hebt gezegd.",
    },
    "consent_needed_strength": {
        "en": "Your sets are kept only when you have said yes to it.",
        "nl": "Je sets worden alleen bewaard als je daar ja op hebt gezegd.",
    },
    "consent_needed_grafana": {
        "en": "A dashboard is shared only when you have said yes to it.",
        "nl": "Een dashboard wordt alleen gedeeld als je daar ja op hebt gezegd.",
    },
    "consent_coach_hint": {
        "en": "Record a decision she told you (on paper, at the desk): it is stamped with"
        " your name and the time. She can change it on her own page.",
        "nl": "Leg een beslissing vast die ze jou vertelde (op papier, aan de balie): met jouw"
        " naam en de tijd. Ze kan het op haar eigen pagina wijzigen.",
    },
    # ---- the access log (coach)
    "access_log": {"en": "Access log", "nl": "Inzagelog"},
    "access_log_intro": {
        "en": "Who looked at, exported or erased whose data, and when (the newest first).",
        "nl": "Wie wiens gegevens bekeek, exporteerde of wiste, en wanneer (nieuwste eerst).",
    },
    "access_when": {"en": "When", "nl": "Wanneer"},
    "access_who": {"en": "Who", "nl": "Wie"},
    "access_whom": {"en": "Whose data", "nl": "Wiens gegevens"},
    "access_what": {"en": "What", "nl": "Wat"},
    "access_view": {"en": "viewed", "nl": "bekeken"},
    "access_export": {"en": "exported", "nl": "geëxporteerd"},
    "access_consent": {"en": "recorded consent", "nl": "toestemming vastgelegd"},
    "access_erased": {"en": "erased on {when} by {who}", "nl": "gewist op {when} door {who}"},
    "access_none": {"en": "Nothing yet.", "nl": "Nog niets."},
}
