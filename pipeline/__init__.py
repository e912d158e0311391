"""gympulse.pipeline — ingestion, stores, registry and journal, analytics.

This folder is linked into the package (gympulse/pipeline -> ../pipeline) and has one name:
``gympulse.pipeline``. Imported by its bare folder name (the repository root on sys.path)
every module would load a second time, with classes of its own that an ``except`` on the
real ones misses; so that import fails here (docs/architecture.md, "One identity per
module")."""

if __name__ != "gympulse.pipeline":
    raise ImportError(f"import gympulse.pipeline, not {__name__} (docs/architecture.md)")
