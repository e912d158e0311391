"""The page templates (Jinja2, ``dashboards/templates/``), autoescaped.

Every page is a template that extends ``base.html``. A handler calls :func:`render` with
the page's language and its data (plain values: names, numbers, rows); the template
escapes every value it prints, so an athlete's or a class's name can never become markup.
Words come from the gettext catalogues through Jinja2's i18n extension (newstyle):
``{{ _('key', name=...) }}`` and ``{{ ngettext('key', 'key_plural', n) }}`` in the page's
language (the ``lang`` every render passes); the text is escaped like any value, then its
``%(name)s`` placeholders are filled with escaped values (docs/i18n.md).
SVG charts are templates too (``templates/charts/``); :mod:`charts` renders them to
:class:`markupsafe.Markup` so a page can embed them as they are.
"""

from __future__ import annotations

from typing import Any

from fastapi.responses import HTMLResponse
from jinja2 import Environment, PackageLoader, StrictUndefined, pass_context
from jinja2.runtime import Context
from markupsafe import Markup, escape

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
    extensions=["jinja2.ext.i18n"],
)


def _lang(context: Context) -> str:
    return str(context.get("lang", i18n.DEFAULT))


def _fill(text: str, values: dict[str, Any]) -> Markup:
    """The catalogue's text escaped (a ``<`` in a translation stays text), then its
    placeholders filled with escaped values: what ``{{ t(...) }}`` printed before."""
    if not values:
        return escape(text.replace("%%", "%"))
    return escape(text) % values


@pass_context
def _gettext(context: Context, key: str, /, **values: Any) -> Markup:
    """``_('key', name=...)``: the word in the page's language."""
    return _fill(i18n.text(_lang(context), key), values)


@pass_context
def _ngettext(context: Context, key: str, plural: str, count: int, /, **values: Any) -> Markup:
    """``ngettext("key", "key_plural", count)``: the form the page language's Plural-Forms pick
    for ``count``; ``%(num)s`` is ``count`` unless given (give the locally written number)."""
    del plural  # symbolic msgids: the catalogue holds every form of ``key``
    values.setdefault("num", count)
    return _fill(i18n.plural_text(_lang(context), key, count), values)


# Newstyle gettext: ``{% trans %}`` blocks and ``_()`` call these with keyword values.
ENV.globals.update(gettext=_gettext, _=_gettext, ngettext=_ngettext, t=_gettext)
ENV.newstyle_gettext = True  # type: ignore[attr-defined]


@pass_context
def _num(context: Context, value: object, digits: int = 0) -> str:
    """``| num``: :func:`fmt` in the page's language (42,5 on a Dutch page)."""
    return i18n.local_number(str(context.get("lang", i18n.DEFAULT)), fmt(value, digits))


ENV.filters["num"] = _num


def render_markup(template: str, lang: str = i18n.DEFAULT, **context: Any) -> Markup:
    """A template rendered to safe markup (charts, fragments)."""
    return Markup(ENV.get_template(template).render(lang=lang, **context))


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
    html = ENV.get_template(template).render(lang=lang, title=title, **context)
    return HTMLResponse(html, status_code=status_code, headers=headers)
