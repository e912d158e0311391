"""Convert the old Python-dict catalogues (``dashboards/i18n_*.py``: key -> {"en": .., "nl": ..})
into the gettext catalogues ``dashboards/locale/<lang>/LC_MESSAGES/gympulse.po``.

One-off, but re-runnable: the existing .po files are read first and every dict module still
present is merged in (a key already in the catalogue takes the dict's text, and the script
says so), so a colleague's new ``i18n_<area>.py`` dict module is converted by running this
again; delete the module after. The old main catalogue (``dashboards/i18n.py`` as a dict) is
read too while it still has a ``CATALOGUE`` dict literal.

What changes in the text: ``{name}`` (str.format) becomes ``%(name)s`` (python-format, the
placeholder gettext tools, Babel's checkers and Jinja2's newstyle gettext use); a literal
``%`` becomes ``%%``. Pairs of keys that were a plural by hand become one plural entry
(``PLURALS`` below).

Usage: ``.venv/bin/python scripts/i18n_dicts_to_po.py`` (from the repository root).
"""

from __future__ import annotations

import ast
import re
import sys
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.pofile import read_po, write_po

ROOT = Path(__file__).resolve().parents[1]
LOCALE = ROOT / "dashboards" / "locale"
DOMAIN = "gympulse"
LANGUAGES = ("en", "nl")

# new plural key -> (old key for exactly one, old key for the other counts); the count is
# the placeholder ``num``.
HEADER = (
    "# The gympulse web app's words (dashboards/i18n.py loads this; docs/i18n.md).\n"
    "# msgid is the symbolic key the code uses; msgstr is the text for this language."
)
PLURALS: dict[str, tuple[str, str]] = {"points_n": ("points_one", "points_short")}


def _python_format(text: str) -> str:
    text = text.replace("%", "%%")
    return re.sub(r"\{(\w+)\}", r"%(\1)s", text)


def _dict_literals(path: Path) -> list[tuple[str, dict[str, dict[str, str]]]]:
    """Every module-level ``NAME: dict[...] = {...}`` of key -> {lang: text} in ``path``,
    evaluated as a literal (string concatenation included), without importing the module."""
    found: list[tuple[str, dict[str, dict[str, str]]]] = []
    for node in ast.parse(path.read_text()).body:
        target, value = None, None
        if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            target, value = node.target.id, node.value
        elif isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name):
            target, value = node.targets[0].id, node.value
        if target is None or not isinstance(value, ast.Dict):
            continue
        try:
            literal = ast.literal_eval(value)
        except ValueError:
            continue
        if literal and all(
            isinstance(v, dict) and "en" in v and all(isinstance(s, str) for s in v.values())
            for v in literal.values()
        ):
            found.append((target, literal))
    return found


def _catalog(lang: str) -> Catalog:
    path = LOCALE / lang / "LC_MESSAGES" / f"{DOMAIN}.po"
    if path.exists():
        with path.open("rb") as f:
            return read_po(f, locale=lang, domain=DOMAIN)
    return Catalog(
        locale=lang,
        domain=DOMAIN,
        project="gympulse",
        version="1",
        copyright_holder="gympulse",
        msgid_bugs_address="the coaches of the first site",
        last_translator="gympulse coaches",
        language_team=f"gympulse {lang}",
        header_comment=HEADER,
        fuzzy=False,
    )


def main() -> int:
    modules = sorted((ROOT / "dashboards").glob("i18n*.py"))
    entries: dict[str, dict[str, str]] = {}
    origin: dict[str, str] = {}
    for module in modules:
        for name, literal in _dict_literals(module):
            for key, texts in literal.items():
                entries[key] = texts
                origin[key] = f"{module.name}:{name}"
    catalogs = {lang: _catalog(lang) for lang in LANGUAGES}
    english = {m.id: m.string for m in catalogs["en"] if m.id and isinstance(m.id, str)}
    converted = 0
    for key, texts in entries.items():
        if any(key in pair for pair in PLURALS.values()):
            continue
        if key in english and english[key] != _python_format(texts["en"]):
            print(f"{key}: {origin[key]} replaces the catalogue's text", file=sys.stderr)
        for lang, catalog in catalogs.items():
            text = texts.get(lang) or texts["en"]
            comments = [] if lang == "en" else [f"en: {_python_format(texts['en'])}"]
            catalog.delete(key)
            catalog.add(key, _python_format(text), auto_comments=comments, flags=_flags(text))
        converted += 1
    for key, (one, other) in PLURALS.items():
        if one not in entries or other not in entries:
            continue
        for lang, catalog in catalogs.items():
            forms = tuple(
                _python_format(entries[k].get(lang) or entries[k]["en"]).replace("%(n)s", "%(num)s")
                for k in (one, other)
            )
            comments = [] if lang == "en" else [f"en: {' | '.join(_english(entries, one, other))}"]
            catalog.delete(key)
            catalog.add(
                (key, f"{key}_plural"), forms, auto_comments=comments, flags=["python-format"]
            )
        converted += 1
    for lang, catalog in catalogs.items():
        path = LOCALE / lang / "LC_MESSAGES" / f"{DOMAIN}.po"
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("wb") as f:
            write_po(f, catalog, width=100, omit_header=False, no_location=True)
    print(f"{converted} entries from {len(modules)} modules into {', '.join(LANGUAGES)}")
    return 0


def _english(entries: dict[str, dict[str, str]], *keys: str) -> list[str]:
    return [_python_format(entries[k]["en"]).replace("%(n)s", "%(num)s") for k in keys]


def _flags(text: str) -> list[str]:
    return ["python-format"] if re.search(r"\{\w+\}", text) else []


if __name__ == "__main__":
    raise SystemExit(main())
