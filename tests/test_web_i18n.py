"""The gettext catalogues (dashboards/locale/<lang>/LC_MESSAGES/gympulse.po, read with Babel):
every key in every language with the same placeholders and no fuzzy entry; the languages
are the locale folders; a third language is one new .po file (made with scripts/i18n.py
init, as docs/i18n.md says); plurals follow each language's Plural-Forms on the guest's real
home page ("1 point", "2 points", "1 punt", "2 punten"); the language choice; the templates
use Jinja2's i18n calls and every literal key in the code is in the catalogue."""

from __future__ import annotations

import contextlib
import re
import shutil
import sqlite3
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog
from babel.messages.pofile import read_po, write_po

from gympulse.dashboards import i18n
from gympulse.dashboards.i18n import CATALOGUE, LANGUAGES, LOCALE_DIR, pick_language, t, tn
from tests.support.procs import Mosquitto
from tests.support.web import Seeded, guest_token, web_server

ROOT = Path(__file__).resolve().parents[1]
PLACEHOLDER = re.compile(r"%\((\w+)\)s")


def _catalogue(locale_dir: Path, lang: str) -> Catalog:
    with (locale_dir / lang / "LC_MESSAGES" / "gympulse.po").open("rb") as f:
        return read_po(f, locale=lang, domain="gympulse")


def _forms(string: object) -> tuple[str, ...]:
    """A message's text, or its plural forms, as strings ("" if untranslated)."""
    items = string if isinstance(string, tuple | list) else (string,)
    return tuple(item if isinstance(item, str) else "" for item in items)


def problems(locale_dir: Path, languages: tuple[str, ...]) -> list[str]:
    """What keeps these catalogues from being complete, the same and usable."""
    found: list[str] = []
    english = {m.id: m for m in _catalogue(locale_dir, "en") if m.id}
    for lang in languages:
        catalogue = _catalogue(locale_dir, lang)
        if catalogue.fuzzy:
            found.append(f"{lang}: the header is fuzzy")
        messages = {m.id: m for m in catalogue if m.id}
        found += [f"{lang}: {k!r} missing" for k in english.keys() - messages.keys()]
        found += [f"{lang}: {k!r} not in en" for k in messages.keys() - english.keys()]
        for key, message in messages.items():
            if key not in english:
                continue
            forms, want_forms = _forms(message.string), _forms(english[key].string)
            if message.fuzzy:
                found.append(f"{lang}: {key!r} is fuzzy")
            if not all(forms):
                found.append(f"{lang}: {key!r} untranslated")
            if isinstance(key, tuple) and len(forms) != catalogue.num_plurals:
                found.append(f"{lang}: {key!r} has {len(forms)} forms, not {catalogue.num_plurals}")
            names = {frozenset(PLACEHOLDER.findall(f)) for f in (*forms, *want_forms)}
            if len(names) != 1:
                found.append(f"{lang}: {key!r} placeholders differ from English: {names}")
            if any(re.search(r"\{\w+\}", f) for f in forms):
                found.append(f"{lang}: {key!r} has a str.format placeholder")
            for f in forms:
                try:
                    f % {n: 1 for n in PLACEHOLDER.findall(f)}
                except (ValueError, TypeError):
                    found.append(f"{lang}: {key!r} is not a valid %-format (a lone %?)")
        found += [f"{lang}: {e}" for _message, errors in catalogue.check() for e in errors]
    return found


def test_every_key_has_every_language_with_the_same_placeholders() -> None:
    assert problems(LOCALE_DIR, LANGUAGES) == []
    assert len(CATALOGUE) > 400 and "points_n" in i18n.PLURALS
    assert set(CATALOGUE) | set(i18n.PLURALS) == {
        (m.id[0] if isinstance(m.id, tuple) else m.id) for m in _catalogue(LOCALE_DIR, "en") if m.id
    }


def test_the_languages_are_the_locale_folders() -> None:
    folders = {p.parent.parent.name for p in LOCALE_DIR.glob("*/LC_MESSAGES/gympulse.po")}
    assert folders == set(LANGUAGES)
    assert not list(LOCALE_DIR.rglob("*.mo"))  # compiled in memory, never committed


def test_a_third_language_is_one_po_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    locale = tmp_path / "locale"
    shutil.copytree(LOCALE_DIR, locale, ignore=shutil.ignore_patterns("*.pot"))
    made = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "i18n.py"), "--locale", str(locale), "init", "sv"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert made.returncode == 0, made.stderr
    swedish = _catalogue(locale, "sv")
    assert swedish.plural_forms == "nplurals=2; plural=(n != 1);"  # from Babel's locale data
    # A new language starts empty, with the English text beside each key for the translator.
    assert "untranslated" in " ".join(problems(locale, ("en", "nl", "sv")))
    hello = swedish.get("hello")
    assert hello is not None and hello.auto_comments == ["en: Hello %(name)s"]

    # The translator writes every text (here: Swedish for two, English for the rest).
    english = _catalogue(locale, "en")
    for message in swedish:
        if message.id:
            message.string = english[message.id].string
    swedish["hello"].string = "Hej %(name)s"
    swedish[("points_n", "points_n_plural")].string = ("%(num)s poäng", "%(num)s poäng")
    with (locale / "sv" / "LC_MESSAGES" / "gympulse.po").open("wb") as f:
        write_po(f, swedish)
    assert problems(locale, ("en", "nl", "sv")) == []

    # ... and adds its code to LANGUAGES: the app speaks it.
    monkeypatch.setattr(i18n, "LANGUAGES", ("en", "nl", "sv"))
    monkeypatch.setattr(i18n, "TRANSLATIONS", i18n.load(locale, ("en", "nl", "sv")))
    assert pick_language("sv-SE,sv;q=0.9,en;q=0.5") == "sv"
    assert t("sv", "hello", name="Sara") == "Hej Sara"
    assert tn("sv", "points_n", 1) == "1 poäng" and tn("sv", "points_n", 7) == "7 poäng"
    assert t("nl", "hello", name="Sem") == "Hallo Sem"


def test_plural_forms_come_from_the_catalogue() -> None:
    assert [tn("en", "points_n", n) for n in (0, 1, 2)] == ["0 points", "1 point", "2 points"]
    assert [tn("nl", "points_n", n) for n in (0, 1, 2)] == ["0 punten", "1 punt", "2 punten"]
    assert i18n.PLURALS["points_n"]["nl"] == ("%(num)s punt", "%(num)s punten")
    # Every count a page writes next to a noun: HRR60 in beats, the login throttle's wait.
    assert [tn("en", "cs_beats", n, n=n) for n in (1, 12)] == ["1 beat", "12 beats"]
    assert [tn("nl", "cs_beats", n, n=n) for n in (1, 12)] == ["1 slag", "12 slagen"]
    assert "by 1 beat." in tn("en", "cs_hrr_known", 1, n=1)
    assert "met 1 slag." in tn("nl", "cs_hrr_known", 1, n=1)
    assert "Wait 1 second," in tn("en", "login_throttled", 1, s=1)
    assert "Wacht 30 seconden " in tn("nl", "login_throttled", 30, s=30)
    with pytest.raises(KeyError):
        t("en", "points_n")  # a plural needs its count: tn / ngettext


def _home(url: str, accept_language: str) -> list[str]:
    request = urllib.request.Request(url, headers={"Accept-Language": accept_language})
    with urllib.request.urlopen(request, timeout=10) as response:
        html = response.read().decode()
    return re.findall(r"<span>(\d+ \w+)</span>", html)


@pytest.mark.slow
def test_points_on_the_guest_home_page_take_the_plural_form(
    mosquitto: Mosquitto, seeded: Seeded
) -> None:
    alice = seeded.athletes["Alice"]
    with contextlib.closing(sqlite3.connect(seeded.db)) as db, db:
        points_of = (1.0, 2.0, 0.0, 1.0, 31.0)  # Alice's five sessions
        for points, session_id in zip(points_of, seeded.sessions["Alice"], strict=True):
            db.execute(
                "UPDATE session_summary SET points = ? WHERE session_id = ?", (points, session_id)
            )
    token = guest_token(seeded.db, alice)
    with web_server(mosquitto.url, seeded.db) as base:
        english = _home(f"{base}/me/{token}", "en-GB,en;q=0.9")
        dutch = _home(f"{base}/me/{token}", "nl-NL,nl;q=0.9")
    english_points = sorted(s for s in english if "point" in s)
    dutch_points = sorted(s for s in dutch if "punt" in s)
    assert english_points == ["0 points", "1 point", "1 point", "2 points", "31 points"]
    assert dutch_points == ["0 punten", "1 punt", "1 punt", "2 punten", "31 punten"]


def test_templates_use_the_i18n_extension() -> None:
    from gympulse.dashboards.templating import ENV

    assert "jinja2.ext.InternationalizationExtension" in ENV.extensions
    templates = ROOT / "dashboards" / "templates"
    old_calls = [
        f"{p.relative_to(templates)}:{n}"
        for p in templates.rglob("*")
        if p.is_file()
        for n, line in enumerate(p.read_text().splitlines(), 1)
        if re.search(r"(?<![\w.])t\(", line)
    ]
    assert old_calls == [], "use _('key') / ngettext(...) in templates"
    page = ENV.from_string(
        "{{ _('hello', name=who) }}|{{ _('reason_form_low') }}"
        "|{{ ngettext('points_n', 'points_n_plural', n) }}"
        "|{% trans %}hello{% endtrans %}"
    )
    # The text and the values are escaped, as {{ ... }} escapes everything.
    assert page.render(lang="nl", who="<b>Sem</b>", n=1) == (
        "Hallo &lt;b&gt;Sem&lt;/b&gt;|vorm &lt; −30|1 punt|Hallo %(name)s"
    )
    assert (
        page.render(lang="en", who="Ann", n=2) == "Hello Ann|form &lt; −30|2 points|Hello %(name)s"
    )
    with pytest.raises(KeyError):
        ENV.from_string("{{ _('no_such_key') }}").render(lang="en")


def test_every_literal_key_in_the_code_is_in_the_catalogue() -> None:
    """Babel's extractors (babel.cfg: Python t/tn, the templates' _/ngettext) find the keys."""
    check = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "i18n.py"), "check"],
        capture_output=True,
        text=True,
        check=False,
        cwd=ROOT,
    )
    assert check.returncode == 0, check.stderr


def test_language_choice() -> None:
    assert pick_language("nl-BE,nl;q=0.9,en;q=0.8") == "nl"
    assert pick_language("fr-FR,en;q=0.5") == "en"
    assert pick_language("fr-FR") == "en"
    assert pick_language(None) == "en"
    assert pick_language("en", preferred="nl") == "nl"  # the guest's profile wins
    # The browser's weights count, not only its order (RFC 9110 §12.5.4).
    assert pick_language("en;q=0.1, nl;q=0.9") == "nl"
    assert pick_language("en-GB;q=0.8, nl-NL;q=0.8") == "en"  # a tie keeps the order
    assert pick_language("nl;q=0, en") == "en"  # q=0: "not this one"
    assert pick_language("nl;q=oops, en;q=0.2") == "en"


def test_dutch_pages_write_a_decimal_comma() -> None:
    from gympulse.dashboards.templating import ENV

    page = ENV.from_string("{{ x | num(1) }} kg, {{ n | num }}")
    assert page.render(lang="nl", x=42.5, n=3) == "42,5 kg, 3"
    assert page.render(lang="en", x=42.5, n=3) == "42.5 kg, 3"
    assert t("nl", "hello", name="Sem") == "Hallo Sem"
    assert t("en", "zone_n", n=3) == "zone 3"
