"""The page templates (Jinja2, ``dashboards/templates/``), autoescaped.

Every page is a template that extends ``base.html``. A handler calls :func:`render` with
the page's language and its data (plain values: names, numbers, rows); the template
escapes every value it prints, so an athlete's or a class's name can never become markup.
The catalogue is passed in as ``t`` (``t('key', name=...)``) bound to the page's language.
SVG charts are templates too (``templates/charts/``); :mod:`charts` renders them to
:class:`markupsafe.Markup` so a page can embed them as they are.
"""

from __future__ import annotations

import functools
from typing import Any

from fastapi.responses import HTMLResponse
from jinja2 import Environment, PackageLoader, StrictUndefined, pass_context
from jinja2.runtime import Context
from markupsafe import Markup

from gympulse.dashboards import i18n


def fmt(value: object, digits: int = 0) -> str:
    """A number for display ("—" for none)."""
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


ENV = Environment(
    loader=PackageLoader("gympulse.dashboards", "templates"),
    autoescape=True,  # every template, whatever its extension (.html, .svg)
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
    auto_reload=False,
)


@pass_context
def _num(context: Context, value: object, digits: int = 0) -> str:
    """``| num``: :func:`fmt` in the page's language (42,5 on a Dutch page)."""
    return i18n.local_number(str(context.get("lang", i18n.DEFAULT)), fmt(value, digits))


ENV.filters["num"] = _num


def translator(lang: str) -> Any:
    """The catalogue bound to ``lang``: ``t('key', **values)``."""
    return functools.partial(i18n.t, lang)


def render_markup(template: str, lang: str = i18n.DEFAULT, **context: Any) -> Markup:
    """A template rendered to safe markup (charts, fragments)."""
    return Markup(ENV.get_template(template).render(lang=lang, t=translator(lang), **context))


def render(
    template: str,
    lang: str,
    *,
    title: str,
    status_code: int = 200,
    headers: dict[str, str] | None = None,
    **context: Any,
) -> HTMLResponse:
    """A whole page: ``template`` (extends ``base.html``) in ``lang``."""
    html = ENV.get_template(template).render(lang=lang, t=translator(lang), title=title, **context)
    return HTMLResponse(html, status_code=status_code, headers=headers)
