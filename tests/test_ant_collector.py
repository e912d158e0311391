"""ANT+ straps through the real collector: a fake USB ANT stick (the only fake: there is no
ANT hardware here) replays captured ANT+ heart-rate broadcasts (tests/data/README.md) next to
virtual Bluetooth straps (bumble), through a real Mosquitto and a real `gympulse ingest`
process into SQLite."""

from __future__ import annotations

import asyncio
import sqlite3
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from gympulse.collectors.ant import AntError, scan_ant
from gympulse.collectors.ant_hrm import parse_frames
from gympulse.collectors.service import run_collector
from gympulse.settings import AntSettings, CollectorSettings, MqttSettings, Settings
from tests.support.fake_ant import FakeAntStick, Transmitter
from tests.support.pipeline import wait_for
from tests.support.procs import Mosquitto, gympulse_process
from tests.support.virtual_straps import StrapField
from tests.test_ant_hrm import ANTIFIER_FRAMES, ANTIFIER_LATER, GARMIN_HRM1_FRAME

pytestmark = pytest.mark.slow  # a real Mosquitto, an ingestion process, virtual straps

SITE = "demo"
LOOPS = 5


def _payloads(frames: list[str]) -> list[bytes]:
    messages, _, _ = parse_frames(b"".join(bytes.fromhex(f) for f in frames))
    return [m.data[1:9] for m in messages]


CAPTURE = _payloads([*ANTIFIER_FRAMES, *ANTIFIER_LATER])

# By hand, from the capture's event times (see test_ant_hrm.py): replaying its 8 frames in a
# loop gives a sample at each jump in the beat count (1 s of beat clock passed), carrying
# the intervals of the consecutive beats before it: 257, 360, 232 ticks of 1/1024 s, then
# 232, 361, 336 ticks. LOOPS loops: 2 * LOOPS - 1 samples (the last three beats wait for
# the next loop).
FIRST_RR = [251, 352, 227]
SECOND_RR = [227, 353, 328]
EXPECTED_RR = [FIRST_RR if i % 2 == 0 else SECOND_RR for i in range(2 * LOOPS - 1)]


def _settings(broker: Mosquitto, tmp_path: Path, **collector: object) -> Settings:
    options: dict[str, object] = {
        "name": "floor",
        "state_dir": str(tmp_path / "state"),
        "scan_seconds": 0.3,
        "confirm": "ingest",
    }
    options.update(collector)
    return Settings(
        site=SITE,
        mqtt=MqttSettings(url=broker.url),
        collector=CollectorSettings(**options),  # type: ignore[arg-type]
    )


def _rows(db: Path) -> list[tuple[str, int, int, int, str]]:
    if not db.exists():
        return []
    with sqlite3.connect(db) as conn:
        try:
            return list(
                conn.execute("SELECT sensor, ts, seq, bpm, rr FROM samples ORDER BY sensor, seq")
            )
        except sqlite3.OperationalError:
            return []


async def test_ant_and_ble_straps_side_by_side_stored_once_with_their_rr(
    mosquitto: Mosquitto, tmp_path: Path
) -> None:
    db = tmp_path / "g.db"
    config = tmp_path / "ingest.toml"
    config.write_text(f'site = "{SITE}"\n[mqtt]\nurl = "{mosquitto.url}"\n[store]\npath = "{db}"\n')
    ingest = gympulse_process(config, tmp_path / "ingest.log", "ingest")
    field = StrapField(2, rate_hz=4.0, first=40)
    await field.start()
    stick = FakeAntStick(
        [
            Transmitter(12345, CAPTURE, loops=LOOPS),
            # Transmission type 0x11: the upper nibble extends the device number to 20 bits.
            Transmitter(54321, CAPTURE, transmission_type=0x11, loops=LOOPS),
        ]
    )
    ant_sensors = ["ant-12345", f"ant-{0x10000 + 54321}"]
    settings = _settings(
        mosquitto,
        tmp_path,
        central="bumble",
        transport=field.transport,
        ant=AntSettings(enabled=True),
    )
    stop = asyncio.Event()
    task = asyncio.create_task(run_collector(settings, stop, ant_stick=lambda: stick))
    try:

        def stored() -> Counter[str]:
            return Counter(r[0] for r in _rows(db))

        await wait_for(
            lambda: (
                all(stored()[s] >= 2 * LOOPS - 1 for s in ant_sensors)
                and sum(n for s, n in stored().items() if s not in ant_sensors) >= 2 * 6
            ),
            90,
            "ANT+ and Bluetooth samples in the store",
        )
        assert stick.done.is_set()
        assert stick.channel_id_ext and stick.scanning and stick.key_ok
    finally:
        stop.set()
        summary = await task
        field.running = False
        ingest.terminate()
        ingest.wait(10)

    rows = _rows(db)
    assert len({(r[0], r[1]) for r in rows}) == len(rows)  # (sensor, ts): each stored once
    assert len({(r[0], r[2]) for r in rows}) == len(rows)
    for sensor in ant_sensors:
        mine = [r for r in rows if r[0] == sensor]
        assert [r[3] for r in mine] == [72] * (2 * LOOPS - 1)
        assert [[int(x) for x in r[4].split(",")] for r in mine] == EXPECTED_RR
        assert summary[sensor]["published"] == 2 * LOOPS - 1
        assert summary[sensor]["missed_beats"] == 13 * LOOPS + 235 * (LOOPS - 1)
    ble = {s for s in summary if s not in ant_sensors}
    assert len(ble) == 2 and all(summary[s]["published"] > 0 for s in ble)
    assert stick.closed


async def test_allow_list_aliases_and_ignores(mosquitto: Mosquitto, tmp_path: Path) -> None:
    stick = FakeAntStick([Transmitter(12345, CAPTURE, loops=2), Transmitter(777, CAPTURE, loops=2)])
    settings = _settings(
        mosquitto,
        tmp_path,
        ble=False,
        confirm="broker",
        ant=AntSettings(enabled=True, allow={"12345": "Strap 12"}),
    )
    stop = asyncio.Event()
    task = asyncio.create_task(run_collector(settings, stop, ant_stick=lambda: stick))
    await asyncio.to_thread(stick.done.wait, 30)
    stop.set()
    summary = await task
    assert set(summary) == {"strap-12"}
    assert summary["strap-12"]["published"] == 3


class _MuteStick(FakeAntStick):
    """A stick that takes commands and never answers (wrong firmware, another program
    holding it)."""

    def write(self, data: bytes) -> None:
        pass


async def test_a_stick_that_does_not_answer_ends_the_run(
    mosquitto: Mosquitto, tmp_path: Path
) -> None:
    stick = _MuteStick([])
    settings = _settings(mosquitto, tmp_path, ble=False, ant=AntSettings(enabled=True))
    with pytest.raises(AntError, match="did not answer"):
        await run_collector(settings, asyncio.Event(), ant_stick=lambda: stick)
    assert stick.closed


async def test_scan_lists_every_strap_heard() -> None:
    legacy = _payloads([GARMIN_HRM1_FRAME]) * 12  # a legacy strap: the toggle never flips
    stick = FakeAntStick(
        [
            Transmitter(12345, CAPTURE, loops=2),
            Transmitter(4242, legacy),
            Transmitter(9, CAPTURE, device_type=11),  # a power meter: not listed
        ]
    )
    rows = await scan_ant(AntSettings(allow={"12345": "strap-12"}), 0.5, stick=lambda: stick)
    by_number = {r["device_number"]: r for r in rows}
    assert set(by_number) == {12345, 4242}
    assert (by_number[12345]["sensor"], by_number[12345]["bpm"]) == ("strap-12", 72)
    assert by_number[12345]["legacy"] is False
    assert (by_number[4242]["sensor"], by_number[4242]["bpm"]) == (None, 93)
    assert by_number[4242]["legacy"] is True
    assert stick.closed


@pytest.mark.parametrize("command", ["scan", "collect"])
def test_without_a_stick_the_commands_say_so(tmp_path: Path, command: str) -> None:
    """The real openant + pyusb path on a machine without an ANT stick: exit 3, one line."""
    config = tmp_path / "ant.toml"
    config.write_text(
        f'[collector]\nble = false\nstate_dir = "{tmp_path / "state"}"\n'
        "[collector.ant]\nenabled = true\n"
    )
    done = subprocess.run(
        [sys.executable, "-m", "gympulse.cli", "--config", str(config), command],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 3, done.stderr
    assert "ANT" in done.stderr or "libusb" in done.stderr
    assert "Traceback" not in done.stderr
