"""gympulse.collectors — the edge side: heart-rate decoders, BLE centrals, disk buffer.

This folder is linked into the package (gympulse/collectors -> ../collectors) and has one name:
``gympulse.collectors``. Imported by its bare folder name (the repository root on sys.path)
every module would load a second time, with classes of its own that an ``except`` on the
real ones misses; so that import fails here (docs/architecture.md, "One identity per
module")."""

if __name__ != "gympulse.collectors":
    raise ImportError(f"import gympulse.collectors, not {__name__} (docs/architecture.md)")
