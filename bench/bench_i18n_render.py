"""Benchmark: page render time with the gettext catalogues vs the old Python-dict catalogue.

It seeds the web tests' history (two guests, five sessions), asks the app in process for the
guest's pages (home, a session, progress, morning, consent) and the coach's login page in
English and Dutch, and records each page's template and context as the handler rendered it.
Then, in the same run, it renders each recorded page two ways, ``--repeat`` times per round,
in turns, and keeps the best of ``--rounds`` rounds:

(a) now: the real environment (Jinja2's i18n extension; ``_()``/``ngettext()`` look the word
    up in Babel's in-memory compiled catalogue, escape it, fill its ``%(name)s`` values);
(b) baseline: what the pages did before the catalogues moved to gettext: a second, identical
    environment without the extension, where ``_`` is the dict catalogue bound to the page
    language per render (``functools.partial``, a dict lookup and ``str.format``), the plural
    picked by hand.

It checks that (a) and (b) write the same HTML for every page, then prints per page and in
total the time per render and the ratio (a)/(b).

    .venv/bin/python bench/bench_i18n_render.py                 # 5 x 200 renders of each page
    .venv/bin/python bench/bench_i18n_render.py --repeat 1000
"""

from __future__ import annotations

import argparse
import functools
import re
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import jinja2
from markupsafe import Markup

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from gympulse.dashboards import i18n, templating  # noqa: E402
from tests.support.web import app_client, guest_token, seed_history  # noqa: E402

# The old catalogue: key -> language -> str.format text, as the dict modules held it.
OLD = {
    key: {lang: re.sub(r"%\((\w+)\)s", r"{\1}", s).replace("%%", "%") for lang, s in v.items()}
    for key, v in i18n.CATALOGUE.items()
}


def old_t(lang: str, key: str, **values: object) -> str:
    entry = OLD[key]
    text = entry.get(lang) or entry[i18n.DEFAULT]
    return text.format(**values) if values else text


def old_ngettext(lang: str, key: str, plural: str, n: int, **values: object) -> str:
    forms = i18n.PLURALS[key][lang]  # the hand-made pair: "one" if exactly 1, else "other"
    text = re.sub(r"%\((\w+)\)s", r"{\1}", forms[0] if n == 1 else forms[1])
    return text.format(**{"num": n, **values})


def record_pages() -> list[tuple[str, dict[str, Any]]]:
    """(template, context) of each page the app rendered for the requests below."""
    recorded: list[tuple[str, dict[str, Any]]] = []
    original = jinja2.Template.render

    def spy(self: jinja2.Template, *args: Any, **kwargs: Any) -> str:
        if self.name and not self.name.startswith("charts/"):
            recorded.append((self.name, dict(*args, **kwargs)))
        return original(self, *args, **kwargs)

    with tempfile.TemporaryDirectory() as tmp:
        seeded = seed_history(Path(tmp) / "gympulse.db")
        token = guest_token(seeded.db, seeded.athletes["Alice"])
        session = seeded.sessions["Alice"][-1]
        paths = ("", f"/sessions/{session}", "/progress", "/morning", "/consent")
        jinja2.Template.render = spy  # type: ignore[method-assign]
        try:
            with app_client(seeded.db) as client:
                for lang in ("en-GB", "nl-NL"):
                    headers = {"Accept-Language": lang}
                    for path in paths:
                        response = client.get(f"/me/{token}{path}", headers=headers)
                        assert response.status_code == 200, (path, response.status_code)
                    assert client.get("/coach/login", headers=headers).status_code == 200
        finally:
            jinja2.Template.render = original  # type: ignore[method-assign]
    return recorded


def baseline_env() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=templating.ENV.loader,
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        auto_reload=False,
    )
    env.filters.update(templating.ENV.filters)
    return env


def timed(render: Any, repeat: int) -> float:
    start = time.perf_counter()
    for _ in range(repeat):
        render()
    return (time.perf_counter() - start) / repeat


def best_of(rounds: int, repeat: int, *renders: Any) -> list[float]:
    """The best time per render of each, over ``rounds`` rounds taken in turn (so a busy
    moment of the machine does not favour one side)."""
    best = [float("inf")] * len(renders)
    for _ in range(rounds):
        for i, render in enumerate(renders):
            best[i] = min(best[i], timed(render, repeat))
    return best


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=200, help="renders per round")
    parser.add_argument("--rounds", type=int, default=5, help="best round counts")
    args = parser.parse_args()
    pages = record_pages()
    old_env = baseline_env()
    total_new = total_old = 0.0
    print(f"{'page':34} {'lang':4} {'now ms':>8} {'dicts ms':>9} {'ratio':>6}")
    for name, context in pages:
        lang = str(context["lang"])
        new_template = templating.ENV.get_template(name)
        old_template = old_env.get_template(name)
        old_context = {
            **context,
            "_": functools.partial(old_t, lang),
            "ngettext": functools.partial(old_ngettext, lang),
        }
        new_html = new_template.render(**context)
        old_html = old_template.render(**old_context)
        assert Markup(new_html) == Markup(old_html), f"{name} ({lang}) differs"
        now, then = best_of(
            args.rounds,
            args.repeat,
            lambda t=new_template, c=context: t.render(**c),
            lambda t=old_template, c=old_context: t.render(**c),
        )
        total_new += now
        total_old += then
        print(f"{name:34} {lang:4} {now * 1e3:8.3f} {then * 1e3:9.3f} {now / then:6.2f}")
    print(
        f"{len(pages)} pages, same HTML both ways; per page on average: now "
        f"{total_new / len(pages) * 1e3:.3f} ms, dict catalogue {total_old / len(pages) * 1e3:.3f}"
        f" ms, ratio {total_new / total_old:.2f}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
