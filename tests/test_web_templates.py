"""Pages come from autoescaped Jinja2 templates: a name can never become markup.

An athlete, a strap alias and a class are named with HTML; every page that shows them
(coach squad, athlete, admin, guest home, guest progress) prints the escaped text and
never the tag. The templates ship inside the package.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from jinja2 import nodes
from markupsafe import Markup

from gympulse import contract
from gympulse.dashboards import charts
from gympulse.dashboards.templating import ENV
from gympulse.pipeline.journal import Journal
from gympulse.pipeline.registry import Registry
from tests.support.web import app_client, guest_token, login, seed_history

EVIL = '<script>alert("x")</script>'
EVIL_ESCAPED = "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;"


def test_every_template_is_autoescaped_and_packaged() -> None:
    names = ENV.list_templates()
    assert {"base.html", "live.html", "guest/me.html", "coach/squad.html"} <= set(names)
    folder = resources.files("gympulse.dashboards") / "templates"
    assert folder.joinpath("base.html").is_file()
    assert ENV.autoescape is True
    assert ENV.loader is not None
    unescaped = []
    for name in names:
        source = ENV.loader.get_source(ENV, name)[0]
        tree = ENV.parse(source)  # a syntax error in any template fails here
        unescaped += [f"{name}: |{f.name}" for f in tree.find_all(nodes.Filter) if f.name == "safe"]
        unescaped += [
            f"{name}: autoescape off"
            for m in tree.find_all(nodes.ScopedEvalContextModifier)
            for kw in m.options
            if kw.key == "autoescape" and not (isinstance(kw.value, nodes.Const) and kw.value.value)
        ]
    assert unescaped == []  # markup comes from Markup objects built in Python, never |safe
    field = ENV.from_string('{% from "macros.html" import csrf_field %}{{ csrf_field(t) }}')
    assert field.render(t=EVIL).count("<script>") == 0


def test_charts_escape_their_texts() -> None:
    svg = charts.line_chart([(EVIL, [1.0, 2.0]), ("b", [2.0, 1.0])], [EVIL, "b"], title=EVIL)
    assert isinstance(svg, Markup) and "<script>" not in svg and EVIL_ESCAPED in svg
    bars = charts.zone_bars([60.0] * 6, [EVIL] * 6, title=EVIL)
    assert "<script>" not in bars
    curve = charts.hr_curve([(0, 100), (5000, 150)], 190, title=EVIL)
    assert "<script>" not in curve


def test_a_name_with_markup_stays_text_on_every_page(tmp_path: Path) -> None:
    seeded = seed_history(tmp_path / "gympulse.db")
    registry = Registry(seeded.db)
    evil_id = registry.add_athlete(EVIL, birth_year=1990)
    registry.set_sensor_label("evil-strap", EVIL)
    registry.assign("evil-strap", evil_id, contract.now_ms() - 1000)
    registry.close()
    journal = Journal(seeded.db)
    now = contract.now_ms()
    journal.add_class(EVIL, now - 60_000, now + 3_600_000, site="demo")
    journal.close()
    token = guest_token(seeded.db, evil_id)
    with app_client(seeded.db) as client:
        login(client, seeded.coach_user, seeded.coach_password)
        pages = [
            "/coach",
            f"/coach/athletes/{evil_id}",
            "/coach/admin",
            f"/me/{token}",
        ]
        for path in pages:
            for lang in ("en", "nl"):
                html = client.get(path, headers={"accept-language": lang}).text
                assert "<script>alert" not in html, path
                assert EVIL_ESCAPED in html, path
        assert "<script>alert" not in client.get(f"/me/{token}/progress").text
        assert "<script>alert" not in client.get("/live").text
