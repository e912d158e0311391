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
    # wellness answers in words (1-5, 5 = best for every item: stress 5 = no stress)
    "w_sleep_1": {"en": "very badly", "nl": "heel slecht"},
    "w_sleep_2": {"en": "badly", "nl": "slecht"},
    "w_sleep_3": {"en": "so-so", "nl": "matig"},
    "w_sleep_4": {"en": "well", "nl": "goed"},
    "w_sleep_5": {"en": "very well", "nl": "heel goed"},
    "w_stress_1": {"en": "very much", "nl": "heel veel"},
    "w_stress_2": {"en": "much", "nl": "veel"},
    "w_stress_3": {"en": "some", "nl": "wat"},
    "w_stress_4": {"en": "a little", "nl": "een beetje"},
    "w_stress_5": {"en": "none", "nl": "geen"},
    "w_mood_1": {"en": "very low", "nl": "heel somber"},
    "w_mood_2": {"en": "low", "nl": "somber"},
    "w_mood_3": {"en": "okay", "nl": "gaat wel"},
    "w_mood_4": {"en": "good", "nl": "goed"},
    "w_mood_5": {"en": "very good", "nl": "heel goed"},
    "w_energy_1": {"en": "very little", "nl": "heel weinig"},
    "w_energy_2": {"en": "little", "nl": "weinig"},
    "w_energy_3": {"en": "some", "nl": "wat"},
    "w_energy_4": {"en": "good", "nl": "goed"},
    "w_energy_5": {"en": "plenty", "nl": "heel veel"},
    "w_soreness_1": {"en": "very sore", "nl": "veel spierpijn"},
    "w_soreness_2": {"en": "sore", "nl": "spierpijn"},
    "w_soreness_3": {"en": "somewhat sore", "nl": "wat spierpijn"},
    "w_soreness_4": {"en": "a little", "nl": "een beetje"},
    "w_soreness_5": {"en": "none", "nl": "geen"},
    "wellness_legend": {
        "en": "Each answer in the guest's own words. Every item reads the same way: green is"
        " good, red needs a look (stress \u201cnone\u201d and soreness \u201cnone\u201d are"
        " good). The number is the answer on the 1\u20135 scale, 5 = best.",
        "nl": "Elk antwoord in de woorden van de gast. Elk item leest op dezelfde manier: groen"
        " is goed, rood verdient aandacht (stress \u201cgeen\u201d en spierpijn \u201cgeen\u201d"
        " zijn goed). Het getal is het antwoord op de schaal 1\u20135, 5 = best.",
    },
    # a very low mood: the guest's reply and the coach's squad
    "reason_mood_very_low": {"en": "mood very low today", "nl": "stemming heel somber vandaag"},
    "wellness_care": {
        "en": "Thank you for telling us. A very low morning is hard, and you do not have to get"
        " through it alone. A coach sees your check-in now and will come and find you today."
        " If you would like to talk sooner, ask any coach: that is what we are here for.",
        "nl": "Dank je dat je het ons laat weten. Een heel sombere ochtend is zwaar, en je hoeft"
        " er niet alleen doorheen. Een coach ziet je check-in nu en komt je vandaag opzoeken."
        " Wil je eerder praten, vraag het gerust aan een coach: daar zijn we voor.",
    },
    "wellness_care_now": {
        "en": "If it feels like too much right now, do not wait: go to the nearest coach or"
        " member of staff.",
        "nl": "Voelt het nu te veel, wacht dan niet: ga naar de dichtstbijzijnde coach of"
        " medewerker.",
    },
    "care_title": {"en": "See today, in person", "nl": "Vandaag persoonlijk opzoeken"},
    "care_row": {
        "en": "{name} answered mood \u201cvery low\u201d this morning. Offer a talk today.",
        "nl": "{name} antwoordde vanochtend stemming \u201cheel somber\u201d. Bied vandaag een"
        " gesprek aan.",
    },
    # the load numbers in plain words (coach's charts and squad)
    "load_building": {"en": "building {n}/{of} d", "nl": "opbouw {n}/{of} d"},
    "load_building_long": {
        "en": "Building: {n} of {of} days so far. This number needs {of} days of this guest's"
        " training before it means anything, so it is not shown yet.",
        "nl": "In opbouw: {n} van {of} dagen. Dit getal heeft {of} dagen training van deze gast"
        " nodig voor het iets zegt, dus het wordt nog niet getoond.",
    },
    "acwr_title": {
        "en": "ACWR (load of the week / of the month)",
        "nl": "ACWR (belasting van de week / van de maand)",
    },
    "def_ctl": {
        "en": "Fitness (CTL): the average daily training load of about the last six weeks"
        " (heart-rate TRIMP, recent days weigh more). Shown from day 42.",
        "nl": "Fitheid (CTL): de gemiddelde dagelijkse trainingsbelasting van ongeveer de laatste"
        " zes weken (hartslag-TRIMP, recente dagen tellen zwaarder). Vanaf dag 42.",
    },
    "def_atl": {
        "en": "Fatigue (ATL): the same average over about the last week. Shown from day 7.",
        "nl": "Vermoeidheid (ATL): hetzelfde gemiddelde over ongeveer de laatste week. Vanaf"
        " dag 7.",
    },
    "def_tsb": {
        "en": "Form (TSB): yesterday's fitness minus yesterday's fatigue. Below zero: the last"
        " week was harder than usual; above zero: lighter than usual.",
        "nl": "Vorm (TSB): fitheid van gisteren min vermoeidheid van gisteren. Onder nul: de"
        " laatste week was zwaarder dan gewoonlijk; boven nul: lichter.",
    },
    "def_acwr": {
        "en": "ACWR: the average daily load of about the last week divided by that of about the"
        " last four weeks (recent days weigh more). 1.0 is a week like the month before; 1.5"
        " is half again as much. Shown from day 28.",
        "nl": "ACWR: de gemiddelde dagbelasting van ongeveer de laatste week gedeeld door die van"
        " ongeveer de laatste vier weken (recente dagen tellen zwaarder). 1,0 is een week als de"
        " maand ervoor; 1,5 is de helft meer. Vanaf dag 28.",
    },
    "def_acwr_limits": {
        "en": "Only a ratio of two loads: it does not predict injuries and has no safe"
        " \u201csweet spot\u201d (Impellizzeri et al.); the week is also part of the month.",
        "nl": "Alleen een verhouding van twee belastingen: het voorspelt geen blessures en heeft"
        " geen veilige \u201coptimale zone\u201d (Impellizzeri e.a.); de week telt ook mee in"
        " de maand.",
    },
    "def_ln_rmssd": {
        "en": "ln RMSSD: the natural log of how much the time between heartbeats varies in the"
        " morning reading. Higher usually means more rested; it is compared only with the"
        " person's own usual values.",
        "nl": "ln RMSSD: de natuurlijke log van hoeveel de tijd tussen hartslagen varieert in de"
        " ochtendmeting. Hoger is meestal meer uitgerust; het wordt alleen vergeleken met de"
        " eigen gewone waarden.",
    },
    "def_hr_rest": {
        "en": "Resting heart rate from the morning reading, in beats per minute.",
        "nl": "Rusthartslag uit de ochtendmeting, in slagen per minuut.",
    },
    "def_normal_range": {
        "en": "The band is the person's own normal range: the mean of their last 60 days \u00b1"
        " one standard deviation, from 7 readings on.",
        "nl": "De band is het eigen normale bereik: het gemiddelde van de laatste 60 dagen \u00b1"
        " \u00e9\u00e9n standaardafwijking, vanaf 7 metingen.",
    },
    "def_morning_hrv": {
        "en": "Each dot is one morning: how much the time between your heartbeats varied while"
        " you rested (shown as ln RMSSD). Higher usually means more rested. The band is your"
        " own usual range, once you have 7 mornings.",
        "nl": "Elke stip is een ochtend: hoeveel de tijd tussen je hartslagen varieerde terwijl"
        " je rustte (getoond als ln RMSSD). Hoger is meestal meer uitgerust. De band is je eigen"
        " gewone bereik, zodra je 7 ochtenden hebt.",
    },
}
