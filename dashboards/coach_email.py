"""The coaches' morning email: the "today" list (:mod:`gympulse.dashboards.today`) sent to
every coach account with an address (``gympulse coach-user NAME --email ADDR --lang nl``),
each in the coach's language, through the mail server of settings ``[smtp]`` (password
from ``GYMPULSE_SMTP__PASSWORD`` only). ``gympulse coach-email`` runs it once; a site runs
that every morning (cron / a systemd timer, docs/deploy.md).

One message per coach: plain text and an HTML alternative (autoescaped template, so a
guest's name never becomes markup). Sending is blocking (smtplib) and runs in the command's
worker thread, never on an event loop.
"""

from __future__ import annotations

import smtplib
import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formataddr, make_msgid

from gympulse.dashboards.guest import day_label
from gympulse.dashboards.i18n import LANGUAGES, t
from gympulse.dashboards.templating import render_markup
from gympulse.dashboards.today import Attention, reason_text
from gympulse.pipeline.access_log import VIEW
from gympulse.settings import Settings, SmtpSettings

EMAIL_DETAIL = "coach email"  # the access log's "what" of a morning message


@dataclass(frozen=True, slots=True)
class Recipient:
    username: str
    address: str
    lang: str


def recipient_lang(account_lang: str, settings: Settings) -> str:
    for lang in (account_lang, settings.web.language):
        if lang in LANGUAGES:
            return lang
    return "en"


def compose(
    settings: Settings, to: Recipient, items: list[Attention], day_iso: str
) -> EmailMessage:
    """The message for one coach, in their language."""
    lang = to.lang
    day = day_label(lang, day_iso)
    lines = [t(lang, "today_email_hello", name=to.username), ""]
    lines.append(t(lang, "today_heading") + f" ({day}):")
    lines.append("")
    if not items:
        lines.append(t(lang, "today_nobody"))
    rows = []
    for n, a in enumerate(items, 1):
        reasons = [reason_text(lang, r) for r in a.reasons]
        rows.append({"name": a.name, "reasons": reasons})
        lines.append(f"{n}. {a.name}")
        lines.extend(f"   - {r}" for r in reasons)
    url = settings.web.public_url.rstrip("/")
    link = f"{url}/coach/today" if url else ""
    if link:
        lines += ["", t(lang, "today_email_open", url=link)]
    lines += ["", t(lang, "today_email_bye")]
    msg = EmailMessage()
    msg["Subject"] = t(lang, "today_email_subject", site=settings.site, day=day)
    msg["From"] = settings.smtp.sender
    msg["To"] = formataddr((to.username, to.address))
    msg["Message-ID"] = make_msgid(domain=settings.smtp.sender.rpartition("@")[2] or None)
    msg.set_content("\n".join(lines) + "\n")
    html = render_markup(
        "coach/today_email.html", lang, name=to.username, day=day, rows=rows, link=link
    )
    msg.add_alternative(str(html), subtype="html")
    msg["Content-Language"] = lang  # after the body: setting content clears Content-*
    return msg


def send(smtp: SmtpSettings, messages: list[EmailMessage]) -> None:
    """Send ``messages`` over one connection to the server of ``smtp`` (blocking)."""
    context = ssl.create_default_context()
    client: smtplib.SMTP
    if smtp.security == "tls":
        client = smtplib.SMTP_SSL(smtp.host, smtp.port, timeout=smtp.timeout_s, context=context)
    else:
        client = smtplib.SMTP(smtp.host, smtp.port, timeout=smtp.timeout_s)
    with client:
        if smtp.security == "starttls":
            client.starttls(context=context)
        if smtp.username:
            client.login(smtp.username, smtp.password)
        for msg in messages:
            client.send_message(msg)


async def morning_messages(
    settings: Settings, *, dry_run: bool = False
) -> tuple[list[Recipient], list[EmailMessage]]:
    """Every coach with an address and their message (the same list as /coach/today).
    Each person on the list goes into the access log as viewed by each coach (``dry_run``:
    printed for the operator, so once as the operator's view)."""
    import asyncio

    from gympulse.dashboards.live import LiveHub
    from gympulse.dashboards.today import attention_today, site_today
    from gympulse.dashboards.web import AppContext
    from gympulse.pipeline.registry import Registry
    from gympulse.pipeline.stores import make_store

    def open_ctx() -> AppContext:
        registry = Registry(settings.store.path)
        hub = LiveHub(settings, registry)  # never started: the list needs no live tiles
        store = make_store(settings.store, zone=settings.timezone)
        return AppContext(
            hub=hub, registry=registry, store=store, secret=b"", site=settings.site,
            settings=settings,
        )  # fmt: skip

    ctx = await asyncio.to_thread(open_ctx)
    try:
        await ctx.data.open_store()
        try:
            items = await attention_today(ctx)
            accounts = await asyncio.to_thread(ctx.accounts.recipients)
            # The access log (docs/privacy.md): each coach's message shows them each person
            # on its list, written as that coach's view before the message is sent.
            shown = [a.athlete_id for a in items]
            readers = ["operator"] if dry_run else [f"coach:{u}" for u, _, _ in accounts]
            for reader in readers if accounts else []:
                await asyncio.to_thread(
                    ctx.access_log.record_many, reader, shown, VIEW, EMAIL_DETAIL
                )
        finally:
            await ctx.data.close_store()
    finally:
        await asyncio.to_thread(ctx.close)
        await asyncio.to_thread(ctx.registry.close)
    day = site_today(settings.timezone).isoformat()
    recipients = [Recipient(u, a, recipient_lang(lang, settings)) for u, a, lang in accounts]
    return recipients, [compose(settings, r, items, day) for r in recipients]
