"""gympulse.dashboards — web app (live board, coach, guest) and Grafana dashboards as code.

This folder is linked into the package (gympulse/dashboards -> ../dashboards) and has one name:
``gympulse.dashboards``. Imported by its bare folder name (the repository root on sys.path)
every module would load a second time, with classes of its own that an ``except`` on the
real ones misses; so that import fails here (docs/architecture.md, "One identity per
module")."""

if __name__ != "gympulse.dashboards":
    raise ImportError(f"import gympulse.dashboards, not {__name__} (docs/architecture.md)")
