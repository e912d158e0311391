"""Every user-facing string of the web app, in gettext catalogues read with Babel.

The words live in ``dashboards/locale/<lang>/LC_MESSAGES/gympulse.po``, one file per
language; the ``msgid`` is a symbolic key (``"hello"``), the ``msgstr`` the text
(``"Hallo %(name)s"``), plurals carry the language's ``Plural-Forms``. They are read once, at
import, and compiled in memory (no .mo files). Python code calls :func:`t` / :func:`tn`;
templates call ``_()`` / ``ngettext()`` (Jinja2's i18n extension, see
:mod:`gympulse.dashboards.templating`). Adding a word, adding a language (Swedish: one new
.po file and its code in ``LANGUAGES``) and the extract/update commands: docs/i18n.md.
``tests/test_web_i18n.py`` checks that every key has every language with the same
placeholders. The language is the guest's profile language if set, else the browser's
``Accept-Language``, else English.
"""

from __future__ import annotations

from io import BytesIO
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import Translations

from gympulse.pipeline.domain import strap_label

LANGUAGES = ("en", "nl")
DEFAULT = "en"
DOMAIN = "gympulse"
LOCALE_DIR = Path(__file__).resolve().with_name("locale")  # package data (pyproject.toml)


def read_catalogue(locale_dir: Path, lang: str) -> Catalog:
    """The catalogue of ``lang`` as Babel reads it from its .po file."""
    with (locale_dir / lang / "LC_MESSAGES" / f"{DOMAIN}.po").open("rb") as f:
        return read_po(f, locale=lang, domain=DOMAIN)


def load(locale_dir: Path, languages: tuple[str, ...]) -> dict[str, Translations]:
    """Each language's translations, compiled in memory from its .po file; a text missing
    in a language falls back to English (the tests keep every language complete)."""
    loaded: dict[str, Translations] = {}
    for lang in (DEFAULT, *(code for code in languages if code != DEFAULT)):
        mo = BytesIO()
        write_mo(mo, read_catalogue(locale_dir, lang))
        mo.seek(0)
        loaded[lang] = Translations(mo, domain=DOMAIN)
        if lang != DEFAULT:
            loaded[lang].add_fallback(loaded[DEFAULT])
    return loaded


def _texts(
    translations: dict[str, Translations],
) -> tuple[dict[str, dict[str, str]], dict[str, dict[str, tuple[str, ...]]]]:
    singular: dict[str, dict[str, str]] = {}
    plural: dict[str, dict[str, tuple[str, ...]]] = {}
    english = translations[DEFAULT]._catalog
    for msgid in english:
        if isinstance(msgid, tuple):  # (msgid, plural form index)
            key = msgid[0]
            plural[key] = {
                lang: tuple(tr.ngettext(key, key, n) for n in _examples(tr))
                for lang, tr in translations.items()
            }
        elif msgid:
            singular[msgid] = {lang: tr.gettext(msgid) for lang, tr in translations.items()}
    return singular, plural


def _examples(tr: Translations) -> tuple[int, ...]:
    """A count for each plural form of ``tr`` (the first n in 0..199 that picks it)."""
    found: dict[int, int] = {}
    for n in range(200):
        found.setdefault(tr.plural(n), n)
    return tuple(found[i] for i in sorted(found))


TRANSLATIONS = load(LOCALE_DIR, LANGUAGES)
# key -> language -> text, for code that lists words (tests, sensor_label); plurals apart:
# key -> language -> its forms in Plural-Forms order.
CATALOGUE, PLURALS = _texts(TRANSLATIONS)


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


def _format(text: str, values: dict[str, object]) -> str:
    return text % values if values else text.replace("%%", "%")


def text(lang: str, key: str) -> str:
    """The unformatted text of ``key`` in ``lang`` (``%(name)s`` placeholders left in)."""
    if key not in CATALOGUE:
        raise KeyError(key)  # a typo must not put a key on a guest's page
    return str(TRANSLATIONS.get(lang, TRANSLATIONS[DEFAULT]).gettext(key))


def plural_text(lang: str, key: str, n: int) -> str:
    """The unformatted form of plural ``key`` for the count ``n`` in ``lang``."""
    if key not in PLURALS:
        raise KeyError(key)
    return str(TRANSLATIONS.get(lang, TRANSLATIONS[DEFAULT]).ngettext(key, f"{key}_plural", n))


def t(lang: str, key: str, /, **values: object) -> str:
    """``key`` in ``lang``, its ``%(name)s`` placeholders filled from ``values``."""
    return _format(text(lang, key), values)


def tn(lang: str, key: str, count: int, /, **values: object) -> str:
    """Plural ``key`` for ``count`` in ``lang`` (``%(num)s`` is ``count`` unless given)."""
    return _format(plural_text(lang, key, count), {"num": count, **values})
