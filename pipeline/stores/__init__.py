"""Store registry: backend name -> constructor. Explicit, no registration by import."""

from __future__ import annotations

from collections.abc import Callable

from gympulse.pipeline.stores.base import Store
from gympulse.settings import StoreSettings


def _sqlite(settings: StoreSettings) -> Store:
    from gympulse.pipeline.stores.sqlite import SqliteStore

    return SqliteStore(settings.path)


def _influxdb(settings: StoreSettings) -> Store:
    from gympulse.pipeline.stores.influxdb import make_influx_store

    return make_influx_store(settings.influxdb)


REGISTRY: dict[str, Callable[[StoreSettings], Store]] = {
    "sqlite": _sqlite,
    "influxdb": _influxdb,
}


def make_store(settings: StoreSettings) -> Store:
    """The store the settings name; not opened yet."""
    try:
        factory = REGISTRY[settings.backend]
    except KeyError:
        raise ValueError(
            f"unknown store backend {settings.backend!r}; known: {', '.join(REGISTRY)}"
        ) from None
    return factory(settings)
