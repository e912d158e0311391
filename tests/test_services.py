"""The composition helper opens only what a command asks for and closes it all, in
reverse order, when the block ends — also when it ends with an error."""

from __future__ import annotations

from pathlib import Path

import pytest

from gympulse.pipeline.services import Services
from gympulse.pipeline.stores.base import WriteBatch
from gympulse.settings import Settings, StoreSettings


async def test_services_open_on_first_use_and_close_at_the_end(tmp_path: Path) -> None:
    settings = Settings(store=StoreSettings(path=str(tmp_path / "gympulse.db")))
    async with Services(settings) as services:
        registry = services.registry()
        assert services.registry() is registry  # one per container
        registry.add_athlete("Ann")
        store = await services.store()
        assert await services.store() is store
        await store.write(WriteBatch())
        journal = services.journal()
    with pytest.raises(RuntimeError, match="closed"):
        registry.athletes()
    with pytest.raises(RuntimeError, match="closed"):
        journal.classes()


async def test_services_close_when_the_block_fails(tmp_path: Path) -> None:
    settings = Settings(store=StoreSettings(path=str(tmp_path / "gympulse.db")))
    with pytest.raises(RuntimeError, match="boom"):
        async with Services(settings) as services:
            registry = services.registry()
            raise RuntimeError("boom")
    with pytest.raises(RuntimeError, match="closed"):
        registry.athletes()
