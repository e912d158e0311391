"""The morning-reading strings (guest page, coach station, coach corrections), EN and NL.

Merged into :data:`gympulse.dashboards.i18n.CATALOGUE`. Guest-facing words are plain and
kind: no jargon, no alarm, no judgment before the baseline exists.
"""

from __future__ import annotations

MORNING: dict[str, dict[str, str]] = {
    # ---- guest: taking a reading
    "morning_reading": {"en": "Morning reading", "nl": "Ochtendmeting"},
    "morning_intro": {
        "en": "Each morning, a few quiet minutes with your strap on tell us how your body is"
        " recovering.",
        "nl": "Elke ochtend vertellen een paar rustige minuten met je borstband om ons hoe je"
        " lichaam herstelt.",
    },
    "morning_strap": {"en": "Your strap", "nl": "Jouw borstband"},
    "morning_your_strap": {"en": "{label} (yours)", "nl": "{label} (van jou)"},
    # A strap or machine without a name from the coach: its kind and number ("strap-12").
    "sensor_strap": {"en": "strap {n}", "nl": "borstband {n}"},
    "sensor_bike": {"en": "bike {n}", "nl": "fiets {n}"},
    "sensor_rower": {"en": "rower {n}", "nl": "roeitrainer {n}"},
    "sensor_treadmill": {"en": "treadmill {n}", "nl": "loopband {n}"},
    "morning_pick_strap": {
        "en": "Put on your strap and choose it here:",
        "nl": "Doe je borstband om en kies hem hier:",
    },
    "morning_no_straps": {
        "en": "No strap is sending right now. Put yours on, wet the sensors a little, and wait"
        " a moment.",
        "nl": "Er zendt nu geen borstband. Doe de jouwe om, maak de sensoren een beetje nat en"
        " wacht even.",
    },
    "morning_start": {"en": "Start", "nl": "Beginnen"},
    "morning_cancel": {"en": "Stop", "nl": "Stoppen"},
    "morning_again": {"en": "Try again", "nl": "Opnieuw"},
    "morning_calm": {
        "en": "Lie or sit still, breathe calmly and let your shoulders drop. You don't need to"
        " do anything else.",
        "nl": "Lig of zit stil, adem rustig en laat je schouders zakken. Verder hoef je niets"
        " te doen.",
    },
    "morning_saving": {"en": "One moment…", "nl": "Even geduld…"},
    "morning_cancelled": {
        "en": "Stopped. Start again whenever you are ready.",
        "nl": "Gestopt. Begin opnieuw wanneer je er klaar voor bent.",
    },
    "morning_done": {
        "en": "Thank you, your reading is saved.",
        "nl": "Dank je, je meting is bewaard.",
    },
    "morning_values": {
        "en": "Heart-rate variability {hrv} · resting heart rate {hr} bpm",
        "nl": "Hartslagvariabiliteit {hrv} · rusthartslag {hr} slagen per minuut",
    },
    "morning_bpm": {"en": "bpm", "nl": "slagen/min"},
    # refusals: a kind request to repeat
    "refused_no-signal": {
        "en": "We could not hear your strap. Check that it is on and close by, then let's try"
        " again.",
        "nl": "We konden je borstband niet horen. Kijk of hij aan staat en dichtbij is, en"
        " probeer het dan nog eens.",
    },
    "refused_no-contact": {
        "en": "The strap lost touch with your skin. Wet the sensors a little, tighten the strap"
        " and let's try again.",
        "nl": "De borstband verloor contact met je huid. Maak de sensoren een beetje nat, trek"
        " de band iets strakker en probeer het nog eens.",
    },
    "refused_too-few-beats": {
        "en": "We did not catch enough heartbeats. Let's try once more, lying still and"
        " breathing calmly.",
        "nl": "We hebben niet genoeg hartslagen opgevangen. Probeer het nog eens, stil liggend"
        " en rustig ademend.",
    },
    "refused_too-many-corrected": {
        "en": "There was a bit too much movement for a clear reading. Let's try once more,"
        " as still as you can.",
        "nl": "Er was iets te veel beweging voor een duidelijke meting. Probeer het nog eens,"
        " zo stil als je kunt.",
    },
    "refused_after-training": {
        "en": "Your body is still busy with the training you just did, so this is not a"
        " resting reading yet. Well done on the training! Take your reading tomorrow"
        " morning, soon after waking — or rest for half an hour and try again.",
        "nl": "Je lichaam is nog bezig met de training die je net deed, dus dit is nog geen"
        " rustmeting. Goed gedaan, die training! Doe je meting morgenochtend, kort na het"
        " wakker worden — of rust een half uur en probeer het dan opnieuw.",
    },
    "refused_not-at-rest": {
        "en": "Your heart rate was well above your usual resting level, so this does not count"
        " as a resting reading — nothing is wrong with that. Lie or sit quietly for a few"
        " minutes and try again, ideally soon after waking, before coffee or training.",
        "nl": "Je hartslag was duidelijk hoger dan je gewone rustniveau, dus dit telt niet als"
        " rustmeting — daar is niets mis mee. Ga een paar minuten rustig liggen of zitten en"
        " probeer het opnieuw, het liefst kort na het wakker worden, vóór koffie of training.",
    },
    "refused_not-settled": {
        "en": "Your heart rate was still settling during the reading. Give yourself two quiet"
        " minutes lying or sitting first, then let's try again.",
        "nl": "Je hartslag was tijdens de meting nog aan het zakken of stijgen. Neem eerst twee"
        " rustige minuten, liggend of zittend, en probeer het dan opnieuw.",
    },
    "refused_error": {
        "en": "Something went wrong on our side. Please try again in a moment.",
        "nl": "Er ging bij ons iets mis. Probeer het zo nog eens.",
    },
    # ---- guest: what it means
    "status_building": {
        "en": "You are building your baseline: {n} of 7 mornings. After 7 mornings we can tell"
        " you what your numbers mean for you.",
        "nl": "Je bouwt je basislijn op: {n} van 7 ochtenden. Na 7 ochtenden kunnen we je"
        " vertellen wat je cijfers voor jou betekenen.",
    },
    "status_good": {
        "en": "Your body is recovering well.",
        "nl": "Je lichaam herstelt goed.",
    },
    "status_ok": {
        "en": "Your body is doing as usual: your mornings are in your own normal range.",
        "nl": "Je lichaam doet het zoals gewoonlijk: je ochtenden liggen in je eigen normale"
        " bereik.",
    },
    "status_watch": {
        "en": "Your body asks for a little extra care today: go gently and rest well.",
        "nl": "Je lichaam vraagt vandaag om wat extra zorg: doe het rustig aan en rust goed uit.",
    },
    "status_rest": {
        "en": "An easier day would do you good today.",
        "nl": "Een rustigere dag zou je vandaag goed doen.",
    },
    "morning_trend": {"en": "Your mornings", "nl": "Jouw ochtenden"},
    "morning_band": {"en": "your usual range", "nl": "jouw gewone bereik"},
    "morning_hrv_line": {"en": "heart-rate variability", "nl": "hartslagvariabiliteit"},
    # ---- Web Bluetooth (at home)
    "ble_title": {"en": "At home, with your own strap", "nl": "Thuis, met je eigen borstband"},
    "ble_connect": {"en": "Connect my strap", "nl": "Verbind mijn borstband"},
    "ble_connected": {"en": "Connected: {name}", "nl": "Verbonden: {name}"},
    "ble_failed": {
        "en": "Your strap did not connect. Check that it is on and not connected to another"
        " app, then try again.",
        "nl": "Je borstband maakte geen verbinding. Kijk of hij aan staat en niet met een"
        " andere app verbonden is, en probeer het opnieuw.",
    },
    "ble_missing": {
        "en": "This browser cannot talk to a heart-rate strap (iPhone and iPad browsers cannot)."
        " Use Chrome on an Android phone or on a computer, or take your reading at the"
        " morning station with your coach.",
        "nl": "Deze browser kan niet met een borstband praten (browsers op iPhone en iPad"
        " kunnen dat niet). Gebruik Chrome op een Android-telefoon of een computer, of doe je"
        " meting bij het ochtendstation met je coach.",
    },
    # ---- coach
    "morning_station": {"en": "Morning station", "nl": "Ochtendstation"},
    "station_intro": {
        "en": "One row per strap that is sending now. Choose who wears it and tap Start.",
        "nl": "Eén rij per borstband die nu zendt. Kies wie hem draagt en tik op Start.",
    },
    "station_nobody": {"en": "— who? —", "nl": "— wie? —"},
    "station_pick": {"en": "Choose who wears this strap.", "nl": "Kies wie deze band draagt."},
    "readings": {"en": "Morning readings", "nl": "Ochtendmetingen"},
    "reading_time": {"en": "Time", "nl": "Tijd"},
    "reading_minutes": {"en": "Minutes", "nl": "Minuten"},
    "reading_corrected": {"en": "Corrected beats", "nl": "Gecorrigeerde slagen"},
    "reading_method": {"en": "Taken", "nl": "Genomen"},
    "reading_status": {"en": "Status", "nl": "Status"},
    "reading_delete": {"en": "Delete", "nl": "Verwijderen"},
    "reading_confirm": {"en": "Confirm", "nl": "Bevestigen"},
    "reading_mark": {"en": "Mark a window as a reading", "nl": "Markeer een venster als meting"},
    "reading_show_morning": {
        "en": "Heart rate on the morning of",
        "nl": "Hartslag op de ochtend van",
    },
    "reading_show": {"en": "Show", "nl": "Toon"},
    "reading_from": {"en": "From", "nl": "Van"},
    "reading_until": {"en": "Until", "nl": "Tot"},
    "reading_refused": {"en": "Not saved: {reason}", "nl": "Niet bewaard: {reason}"},
    "method_guest": {"en": "guest page", "nl": "gastpagina"},
    "method_station": {"en": "station", "nl": "station"},
    "method_coach": {"en": "coach", "nl": "coach"},
    "method_auto": {"en": "automatic", "nl": "automatisch"},
    "method_bluetooth": {"en": "own strap (Bluetooth)", "nl": "eigen band (Bluetooth)"},
    "method_cli": {"en": "command line", "nl": "opdrachtregel"},
    "status_counted": {"en": "counted", "nl": "telt mee"},
    "status_proposed": {"en": "proposed", "nl": "voorgesteld"},
    "readiness": {"en": "Today", "nl": "Vandaag"},
    "readiness_readings": {"en": "Readings", "nl": "Metingen"},
    "readiness_building": {"en": "building {n}/7", "nl": "opbouw {n}/7"},
    "level_rest": {"en": "needs rest", "nl": "rust nodig"},
    "level_watch": {"en": "watch", "nl": "opletten"},
    "level_ok": {"en": "in range", "nl": "in bereik"},
    "level_good": {"en": "good signs", "nl": "goede tekens"},
    "level_building": {"en": "building baseline", "nl": "basislijn in opbouw"},
    "reason_hrv_below": {"en": "HRV 7-day below range", "nl": "HRV 7 dagen onder bereik"},
    "reason_hr_rest_above": {
        "en": "resting HR 7-day above range",
        "nl": "rusthartslag 7 dagen boven bereik",
    },
    "reason_hrv_low_today": {"en": "today's HRV low", "nl": "HRV vandaag laag"},
    "reason_wellness_low": {"en": "low wellness", "nl": "laag welzijn"},
    "reason_hard_session": {"en": "last session RPE ≥ 8", "nl": "laatste training RPE ≥ 8"},
    "reason_acwr_high": {
        "en": "this week's load 1.5× the month's",
        "nl": "belasting deze week 1,5× die van de maand",
    },
    "reason_form_low": {"en": "form < −30", "nl": "vorm < −30"},
    "reason_hrv_above": {"en": "HRV above range", "nl": "HRV boven bereik"},
    "reason_hr_rest_below": {"en": "resting HR below range", "nl": "rusthartslag onder bereik"},
}
