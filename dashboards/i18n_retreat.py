"""Catalogue entries of the live board, the coach's retreat pages and the guest's phone
pages (merged into :data:`gympulse.dashboards.i18n.CATALOGUE`; kept apart so colleagues'
additions to the main catalogue do not collide)."""

from __future__ import annotations

RETREAT: dict[str, dict[str, str]] = {
    "live": {"en": "live", "nl": "live"},
    "reconnecting": {"en": "reconnecting…", "nl": "opnieuw verbinden…"},
    "zone": {"en": "zone", "nl": "zone"},
    "zone0": {"en": "resting", "nl": "in rust"},  # below 50 % HRmax: before, between, after
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
    "points_one": {"en": "{n} point", "nl": "{n} punt"},  # exactly 1
    "kcal_small": {"en": "about {n} kcal", "nl": "ongeveer {n} kcal"},
    "weekdays_short": {"en": "Mo Tu We Th Fr Sa Su", "nl": "ma di wo do vr za zo"},
    # coach
    "profile_saved": {"en": "Profile saved.", "nl": "Profiel bewaard."},
    "stay_day": {"en": "Day {day} of {of}", "nl": "Dag {day} van {of}"},
    "no_stay": {"en": "No stay dates yet", "nl": "Nog geen verblijfsdata"},
    "board_shows": {"en": "the live board shows", "nl": "het live scherm toont"},
    "edit_profile": {"en": "Edit profile", "nl": "Profiel bewerken"},
    "display_name": {"en": "Name on the board", "nl": "Naam op het scherm"},
    "tip_display_name": {
        "en": "What the shared screen shows; empty: first name and initial.",
        "nl": "Wat het gedeelde scherm toont; leeg: voornaam en initiaal.",
    },
    "birth_year": {"en": "Birth year", "nl": "Geboortejaar"},
    "weight_kg": {"en": "Weight (kg)", "nl": "Gewicht (kg)"},
    "tip_hr_max": {
        "en": "Highest heart rate measured; empty: estimated from age (208 − 0.7 × age).",
        "nl": "Hoogste gemeten hartslag; leeg: geschat uit de leeftijd (208 − 0,7 × leeftijd).",
    },
    "tip_hr_rest": {
        "en": "Heart rate at rest, e.g. lying still in the morning.",
        "nl": "Hartslag in rust, bijvoorbeeld 's ochtends stil liggend.",
    },
    "arrival": {"en": "Arrival", "nl": "Aankomst"},
    "departure": {"en": "Departure", "nl": "Vertrek"},
    "no_data_yet": {
        "en": "No data yet: charts appear after the first class or morning reading.",
        "nl": "Nog geen gegevens: grafieken verschijnen na de eerste les of ochtendmeting.",
    },
    "notes": {"en": "Notes (coaches only)", "nl": "Notities (alleen coaches)"},
    "note_placeholder": {"en": "A note for the team…", "nl": "Een notitie voor het team…"},
    "add_note": {"en": "Add note", "nl": "Notitie toevoegen"},
    "no_notes": {"en": "No notes yet.", "nl": "Nog geen notities."},
    "revoke_confirm": {"en": "Yes, revoke this link", "nl": "Ja, trek deze link in"},
    "class": {"en": "Class", "nl": "Les"},
    "own_training": {"en": "own training", "nl": "eigen training"},
    "start": {"en": "Start time", "nl": "Begintijd"},
    "duration": {"en": "Duration", "nl": "Duur"},
    "tip_rpe": {
        "en": "How hard the guest found it, 0 (rest) to 10 (maximal).",
        "nl": "Hoe zwaar de gast het vond, 0 (rust) tot 10 (maximaal).",
    },
    # squad
    "stay_col": {"en": "Stay", "nl": "Verblijf"},
    "attendance": {"en": "Classes (7 days)", "nl": "Lessen (7 dagen)"},
    "last_rpe": {"en": "Last RPE", "nl": "Laatste RPE"},
    "wellness_today": {"en": "Check-in today", "nl": "Check-in vandaag"},
    "not_yet": {"en": "not yet", "nl": "nog niet"},
    "tip_readiness": {
        "en": "Today's status from the morning reading, the check-in and the last session.",
        "nl": "De status van vandaag uit de ochtendmeting, de check-in en de laatste training.",
    },
    "tip_stay": {
        "en": "Day of the stay, counted from the arrival day.",
        "nl": "Dag van het verblijf, geteld vanaf de aankomstdag.",
    },
    "tip_attendance": {
        "en": "Classes attended in the last 7 days, of those held since arrival.",
        "nl": "Bijgewoonde lessen in de laatste 7 dagen, van de lessen sinds aankomst.",
    },
    "tip_wellness_today": {
        "en": "Sum of today's five answers (5 = best each); hover for the answers.",
        "nl": "Som van de vijf antwoorden van vandaag (5 = telkens best); wijs aan voor details.",
    },
    "tip_load": {
        "en": "Training load of the last 7 days (heart-rate based, TRIMP).",
        "nl": "Trainingsbelasting van de laatste 7 dagen (op hartslag, TRIMP).",
    },
    "tip_readings": {
        "en": "Morning readings so far; 7 are needed for a personal normal range.",
        "nl": "Ochtendmetingen tot nu toe; er zijn er 7 nodig voor een eigen normaal bereik.",
    },
    "tip_tsb": {
        "en": "Form (TSB) = yesterday's fitness minus yesterday's fatigue. Below zero: the last"
        " week was harder than the usual six; above zero: lighter. Shown after 42 days.",
        "nl": "Vorm (TSB) = fitheid van gisteren min vermoeidheid van gisteren. Onder nul: de"
        " laatste week was zwaarder dan de gewone zes; boven nul: lichter. Na 42 dagen.",
    },
    "tip_acwr": {
        "en": "ACWR = this week's average daily load divided by the last four weeks'. 1.0: as"
        " usual; 1.5: half again as much. A ratio of loads, not an injury risk.",
        "nl": "ACWR = gemiddelde dagbelasting van deze week gedeeld door die van de laatste vier"
        " weken. 1,0: als gewoonlijk; 1,5: de helft meer. Een verhouding, geen blessurerisico.",
    },
    "tip_hrv": {
        "en": "ln RMSSD: the natural log of the beat-to-beat variation of the morning reading"
        " (higher usually means more rested), against the person's own normal range.",
        "nl": "ln RMSSD: de natuurlijke log van de variatie tussen hartslagen in de ochtendmeting"
        " (hoger is meestal meer uitgerust), tegenover het eigen normale bereik.",
    },
    "tip_rest": {
        "en": "Resting heart rate against the person's own normal range.",
        "nl": "Rusthartslag tegenover het eigen normale bereik.",
    },
    "last_used": {"en": "Last opened", "nl": "Laatst geopend"},
    "never_used": {"en": "not opened yet", "nl": "nog niet geopend"},
    "edit": {"en": "Edit", "nl": "Bewerken"},
    "delete": {"en": "Delete", "nl": "Verwijderen"},
    "delete_confirm": {"en": "Yes, delete this class", "nl": "Ja, verwijder deze les"},
    "repeat_weeks": {"en": "weekly, for weeks:", "nl": "wekelijks, aantal weken:"},
    "show_link": {"en": "Show link", "nl": "Link tonen"},
    # error pages (dashboards/error_pages.py): what happened, and what to do now
    "error_title": {"en": "That did not work", "nl": "Dat lukte niet"},
    "error_erase_name": {
        "en": "The name you typed does not match, so nothing was erased. Go back and type the"
        " name exactly as it is shown.",
        "nl": "De naam die je typte klopt niet, dus er is niets gewist. Ga terug en typ de naam"
        " precies zoals die er staat.",
    },
    "error_csrf": {
        "en": "This form had expired. Go back, reload the page and try again.",
        "nl": "Dit formulier was verlopen. Ga terug, laad de pagina opnieuw en probeer het nog"
        " eens.",
    },
    "error_403": {
        "en": "This page is not open to you. If you think it should be, ask your coach.",
        "nl": "Deze pagina is niet voor jou open. Denk je dat dat wel zou moeten, vraag het je"
        " coach.",
    },
    "error_404": {
        "en": "We could not find this page. The link may be old or mistyped.",
        "nl": "We konden deze pagina niet vinden. Misschien is de link oud of verkeerd"
        " overgenomen.",
    },
    "error_405": {
        "en": "This address cannot be opened like this. Go back and use the buttons on the page.",
        "nl": "Dit adres kan zo niet geopend worden. Ga terug en gebruik de knoppen op de pagina.",
    },
    "error_409": {
        "en": "Something changed in the meantime. Go back, reload the page and try again.",
        "nl": "Er is intussen iets veranderd. Ga terug, laad de pagina opnieuw en probeer het"
        " nog eens.",
    },
    "error_413": {
        "en": "That was too much to send at once. Try a smaller file or fewer lines.",
        "nl": "Dat was te veel om in één keer te versturen. Probeer een kleiner bestand of minder"
        " regels.",
    },
    "error_422": {
        "en": "Something in the form was not filled in as expected. Go back, check it and try"
        " again.",
        "nl": "Iets in het formulier is niet ingevuld zoals verwacht. Ga terug, kijk het na en"
        " probeer het nog eens.",
    },
    "error_429": {
        "en": "That was a lot of tries in a short time. Wait a minute, then try again.",
        "nl": "Dat waren veel pogingen in korte tijd. Wacht een minuut en probeer het dan opnieuw.",
    },
    "error_500": {
        "en": "Something went wrong on our side. Nothing you did caused it. Try again in a moment.",
        "nl": "Er ging bij ons iets mis. Het ligt niet aan jou. Probeer het zo nog eens.",
    },
    # charts: a week is labelled by the day its Monday falls on ("26 Oct")
    "months_short": {
        "en": "Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec",
        "nl": "jan feb mrt apr mei jun jul aug sep okt nov dec",
    },
}
