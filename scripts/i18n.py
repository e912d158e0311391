"""The web app's catalogues: extract, update, add a language (docs/i18n.md).

    .venv/bin/python scripts/i18n.py check        # every key the code uses is in en.po
    .venv/bin/python scripts/i18n.py update       # write gympulse.pot, update every .po from it
    .venv/bin/python scripts/i18n.py init sv      # start a new language's .po from the template
    (--locale DIR before the command: another locale folder than dashboards/locale)

The English catalogue (``dashboards/locale/en/LC_MESSAGES/gympulse.po``) is the source: its
msgids are the symbolic keys, its msgstrs the English text. ``update`` writes the template
``dashboards/locale/gympulse.pot`` (generated, not committed) with every English key, the
English text as a translator's comment (``#. en: ...``) and where the code uses the key (found
by Babel's extractors with ``babel.cfg``: Python ``t``/``tn`` and the Jinja2 templates'
``_``/``gettext``/``ngettext``), then updates each other language from it the way
``pybabel update --no-fuzzy-matching`` does: a new key arrives with an empty translation
(``tests/test_web_i18n.py`` fails until it is written), a removed key becomes obsolete.
Keys built at run time (``'zone' ~ n``) are not found by extraction; they stay because the
template is made from the English catalogue, not only from what extraction finds.
"""

from __future__ import annotations

import contextlib
import io
import os
import sys
from collections.abc import Iterator
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po, write_po

ROOT = Path(__file__).resolve().parents[1]
LOCALE = ROOT / "dashboards" / "locale"
DOMAIN = "gympulse"
KEYWORDS = {"t": (2,), "tn": (2,), "_": None, "gettext": None, "ngettext": (1, 2)}


def _po(lang: str) -> Path:
    return LOCALE / lang / "LC_MESSAGES" / f"{DOMAIN}.po"


def _read(path: Path, lang: str | None = None) -> Catalog:
    with path.open("rb") as f:
        return read_po(f, locale=lang, domain=DOMAIN)


def _write(path: Path, catalog: Catalog) -> None:
    """A .po without source locations (they would change with every edit of the code and
    collide between colleagues); the .pot has them."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as f:
        write_po(f, catalog, width=100, no_location=path.suffix == ".po")


def used_keys() -> Iterator[tuple[str, str, int]]:
    """(key, file, line) for every literal key the code and templates use."""
    with (ROOT / "babel.cfg").open() as f:
        method_map, options_map = parse_mapping_cfg(f)

    def only_dashboards(path: str) -> bool:
        rel = Path(path).relative_to(ROOT) if Path(path).is_absolute() else Path(path)
        return rel.parts[:1] in ((), ("dashboards",)) and not any(
            p.startswith((".", "_")) for p in rel.parts
        )

    # Keys built at run time (f"hrr60_{reason}") are not literals: Babel skips them, rightly,
    # and says so on stderr for each; quiet here.
    with contextlib.redirect_stderr(io.StringIO()):
        found = list(
            extract_from_dir(
                ROOT,
                method_map,
                options_map,
                keywords=KEYWORDS,
                directory_filter=only_dashboards,
            )
        )
    for filename, lineno, message, _comments, _context in found:
        key = message[0] if isinstance(message, tuple) else message
        if key:
            yield key, filename, lineno


def template() -> tuple[Catalog, list[str]]:
    """The .pot made from the English catalogue, and the keys the code uses that it lacks."""
    english = _read(_po("en"), "en")
    pot = Catalog(
        domain=DOMAIN,
        project="gympulse",
        version="1",
        copyright_holder="gympulse",
        msgid_bugs_address="the coaches of the first site",
        header_comment=english.header_comment,
        fuzzy=False,
    )
    locations: dict[str, list[tuple[str, int]]] = {}
    for key, filename, lineno in used_keys():
        locations.setdefault(key, []).append((filename, lineno))
    known = set()
    for message in english:
        if not message.id:
            continue
        key = message.id[0] if isinstance(message.id, tuple) else message.id
        known.add(key)
        text = message.string
        english_text = " | ".join(text) if isinstance(text, tuple) else text
        pot.add(
            message.id,
            ("", "") if isinstance(message.id, tuple) else "",
            locations=locations.get(key, ()),
            auto_comments=[f"en: {english_text}"],
            flags=message.flags,
        )
    return pot, sorted(set(locations) - known)


def languages() -> list[str]:
    return sorted(d.name for d in LOCALE.iterdir() if (d / "LC_MESSAGES" / f"{DOMAIN}.po").exists())


def main(argv: list[str]) -> int:
    global LOCALE
    if argv[:1] == ["--locale"] and len(argv) >= 2:
        LOCALE, argv = Path(argv[1]).resolve(), argv[2:]
    command = argv[0] if argv else "check"
    pot, missing = template()
    for key in missing:
        print(f"{key}: used in the code but not in {_po('en')}", file=sys.stderr)
    if command == "check":
        return 1 if missing else 0
    _write(LOCALE / f"{DOMAIN}.pot", pot)
    if command == "update":
        for lang in languages():
            if lang == "en":
                continue
            catalog = _read(_po(lang), lang)
            catalog.update(pot, no_fuzzy_matching=True, update_creation_date=False)
            _write(_po(lang), catalog)
            print(f"{os.path.relpath(_po(lang))}: updated")
    elif command == "init" and len(argv) == 2:
        lang = argv[1]
        if _po(lang).exists():
            print(f"{_po(lang)} exists: use update", file=sys.stderr)
            return 2
        catalog = Catalog(
            locale=lang,
            domain=DOMAIN,
            project="gympulse",
            version="1",
            copyright_holder="gympulse",
            msgid_bugs_address="the coaches of the first site",
            last_translator="gympulse coaches",
            language_team=f"gympulse {lang}",
            header_comment=pot.header_comment,
            fuzzy=False,
        )
        catalog.update(pot, no_fuzzy_matching=True)
        _write(_po(lang), catalog)
        print(f"{os.path.relpath(_po(lang))}: {len(catalog)} keys to translate")
        print(f"then add {lang!r} to LANGUAGES in dashboards/i18n.py")
    else:
        print(__doc__, file=sys.stderr)
        return 2
    return 1 if missing else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
