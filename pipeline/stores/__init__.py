"""Store registry: backend name -> constructor. Explicit, no registration by import."""

from __future__ import annotations

from collections.abc import Callable

from gympulse.pipeline.stores.base import Store
from gympulse.settings import StoreSettings


def _sqlite(settings: StoreSettings, zone: str) -> Store:
    from gympulse.pipeline.stores.sqlite import SqliteStore

    return SqliteStore(settings.path)


def _influxdb(settings: StoreSettings, zone: str) -> Store:
    from gympulse.pipeline.stores.influxdb import make_influx_store

    return make_influx_store(settings.influxdb, zone=zone)


# backend -> constructor(store settings, the site's time zone)
REGISTRY: dict[str, Callable[[StoreSettings, str], Store]] = {
    "sqlite": _sqlite,
    "influxdb": _influxdb,
}


def make_store(settings: StoreSettings, *, zone: str = "UTC") -> Store:
    """The store the settings name; not opened yet. ``zone``: the site's time zone
    (``Settings.timezone``), where the days of the derived tables begin (InfluxDB keeps a
    day as a point at its local midnight; SQLite keeps the date as text)."""
    try:
        factory = REGISTRY[settings.backend]
    except KeyError:
        raise ValueError(
            f"unknown store backend {settings.backend!r}; known: {', '.join(REGISTRY)}"
        ) from None
    return factory(settings, zone)
