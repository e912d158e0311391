"""The one catalogue holds every string in every language; the language choice."""

from __future__ import annotations

import re

from gympulse.dashboards.i18n import CATALOGUE, LANGUAGES, pick_language, t


def test_every_key_has_every_language_with_the_same_placeholders() -> None:
    for key, texts in CATALOGUE.items():
        assert set(texts) == set(LANGUAGES), key
        placeholders = {lang: set(re.findall(r"{(\w+)}", text)) for lang, text in texts.items()}
        assert len({frozenset(p) for p in placeholders.values()}) == 1, key


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
