"""One composition helper: the store, registry and journal of one settings object.

Every command that works on the data needs the same three things, opened from
``settings.store`` and closed again in reverse order, also when it fails. :class:`Services`
does that once (in the spirit of svcs: a factory per service, created on first use, closed
with the container)::

    async with Services(settings) as services:
        store = await services.store()
        report = await analyze(store, services.registry(), services.journal())

Only what a command asks for is opened: ``gympulse assign`` never touches the journal, and
a command that fails before it needs the store never connects to InfluxDB.
"""

from __future__ import annotations

import contextlib
from types import TracebackType
from typing import Self

from gympulse.pipeline.journal import Journal
from gympulse.pipeline.registry import Registry
from gympulse.pipeline.stores import make_store
from gympulse.pipeline.stores.base import Store
from gympulse.settings import Settings


class Services:
    """Lazily opened store / registry / journal; closed when the ``async with`` ends."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._exit = contextlib.AsyncExitStack()
        self._store: Store | None = None
        self._registry: Registry | None = None
        self._journal: Journal | None = None

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self._exit.aclose()
        self._store = self._registry = self._journal = None

    async def store(self) -> Store:
        """The time-series store the settings name, opened (``Store.open``) on first use."""
        if self._store is None:
            store = make_store(self.settings.store, zone=self.settings.timezone)
            await store.open()
            self._exit.push_async_callback(store.close)
            self._store = store
        return self._store

    def registry(self) -> Registry:
        """Athletes, straps and assignments (the SQLite file ``store.path``)."""
        if self._registry is None:
            registry = Registry(self.settings.store.path)
            self._exit.callback(registry.close)
            self._registry = registry
        return self._registry

    def journal(self) -> Journal:
        """Classes, RPE, wellness and morning recordings (the SQLite file ``store.path``)."""
        if self._journal is None:
            journal = Journal(self.settings.store.path)
            self._exit.callback(journal.close)
            self._journal = journal
        return self._journal
