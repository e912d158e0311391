"""FIT import: real FIT files (tests/data/README.md) decoded, and imported through a real
``gympulse import`` process into SQLite, stamped to the athlete, idempotent, analysed."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

import fitdecode
import pytest

from gympulse.pipeline.fit_import import FitRefused, decode_fit, import_sensor
from gympulse.pipeline.registry import Registry

DATA = Path(__file__).parent / "data" / "fit"
EDGE_820 = DATA / "garmin-edge-820-bike.fit"  # heart rate, cadence, HRV messages
TRAINER = DATA / "sample-activity-indoor-trainer.fit"  # heart rate, power, cadence
SETTINGS = DATA / "Settings.fit"  # a device settings file: no activity
CUT = DATA / "activity-unexpected-eof.fit"  # an activity cut short
LIMIT = 16 * 1024 * 1024


def _hrv_ms(path: Path) -> list[int]:
    """Every RR interval of the file's HRV messages, read with fitdecode alone."""
    out = []
    with fitdecode.FitReader(str(path)) as reader:
        for frame in reader:
            if isinstance(frame, fitdecode.FitDataMessage) and frame.name == "hrv":
                out += [
                    int(t * 1000 + 0.5) for t in frame.get_value("time") if t is not None and t < 65
                ]
    return out


def test_edge_820_heart_rate_cadence_and_rr() -> None:
    data = EDGE_820.read_bytes()
    activity = decode_fit(data, max_bytes=LIMIT)
    assert activity.sensor == import_sensor(data) and activity.sensor.startswith("import-")
    assert len(activity.samples) == 15
    first = activity.samples[0]
    assert (first.ts, first.seq, first.bpm) == (1497283815000, 1, 101)  # 2017-06-12 16:10:15Z
    assert [s.seq for s in activity.samples] == list(range(1, 16))
    assert all(a.ts < b.ts for a, b in zip(activity.samples, activity.samples[1:], strict=False))
    # Every RR of the HRV messages lands on a sample, in file order, none lost.
    rr = [ms for s in activity.samples for ms in s.rr_ms]
    hrv = _hrv_ms(EDGE_820)
    assert rr == hrv[: len(rr)] and activity.rr_count == len(rr)
    assert len(hrv) - len(rr) < 6  # only the beats after the last record are left
    # The beats fit the heart rate the records say (mean RR against 60000 / mean bpm).
    mean_bpm = sum(s.bpm for s in activity.samples) / len(activity.samples)
    assert abs(sum(rr) / len(rr) - 60000 / mean_bpm) < 0.15 * 60000 / mean_bpm
    assert len(activity.machine) == 15 and activity.machine[0].cadence == 69.0


def test_trainer_power_and_cadence() -> None:
    activity = decode_fit(TRAINER.read_bytes(), max_bytes=LIMIT)
    assert len(activity.samples) == 2263 and activity.rr_count == 0
    assert activity.samples[0].ts == 1320238459000 and activity.samples[0].bpm == 81
    powered = [m for m in activity.machine if m.power_w is not None]
    assert len(powered) == 2222 and activity.machine[0].power_w == 102


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (SETTINGS.read_bytes(), "no-heart-rate"),
        (CUT.read_bytes(), "broken"),
        (EDGE_820.read_bytes()[:-2] + b"\x00\x00", "broken"),  # its CRC no longer holds
        (b"<html>not a watch file</html>", "not-fit"),
        (b"", "not-fit"),
    ],
)
def test_broken_or_foreign_files_refused(data: bytes, reason: str) -> None:
    with pytest.raises(FitRefused) as refused:
        decode_fit(data, max_bytes=LIMIT)
    assert refused.value.reason == reason


def test_too_large_refused_before_decoding() -> None:
    with pytest.raises(FitRefused) as refused:
        decode_fit(TRAINER.read_bytes(), max_bytes=1000)
    assert refused.value.reason == "too-large"


# ------------------------------------------------------------------ gympulse import


def _cli(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "gympulse.cli", "--config", str(config), *args],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )


def _count(db: Path, sql: str, *params: object) -> int:
    conn = sqlite3.connect(db)
    try:
        return int(conn.execute(sql, params).fetchone()[0])
    finally:
        conn.close()


def test_gympulse_import_stores_once_stamped_and_analysed(tmp_path: Path) -> None:
    db = tmp_path / "gympulse.db"
    config = tmp_path / "gympulse.toml"
    # The files are from 2011 and 2017: a retention long enough to keep them.
    config.write_text(f'site = "demo"\n[store]\npath = "{db}"\n[ingest]\nretention_days = 9000\n')
    registry = Registry(db)
    anna = registry.add_athlete(
        "Anna", birth_year=1990, sex="female", weight_kg=60, hr_max=190, hr_rest=55
    )
    registry.add_athlete("Bram", birth_year=1985, sex="male", weight_kg=80, hr_max=185)
    registry.close()

    done = _cli(config, "import", str(TRAINER), "--athlete", "Anna")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "2263 heart-rate samples" in done.stdout and "Traceback" not in done.stderr
    sensor = import_sensor(TRAINER.read_bytes())
    assert _count(db, "SELECT COUNT(*) FROM samples WHERE sensor = ?", sensor) == 2263
    assert _count(db, "SELECT COUNT(*) FROM samples WHERE athlete_id = ?", anna) == 2263
    machine = _count(db, "SELECT COUNT(*) FROM machine_samples WHERE sensor = ?", sensor)
    assert machine == 2222  # a row for each record with power or cadence
    assert _count(db, "SELECT COUNT(*) FROM quarantine") == 0

    again = _cli(config, "import", str(TRAINER), "--athlete", "Anna")
    assert again.returncode == 0 and " 0 new rows" in again.stdout, again.stdout + again.stderr
    assert _count(db, "SELECT COUNT(*) FROM samples") == 2263

    elsewhere = _cli(config, "import", str(TRAINER), "--athlete", "Bram")
    assert elsewhere.returncode == 1 and "someone else" in elsewhere.stderr

    for bad in (CUT, SETTINGS):
        refused = _cli(config, "import", str(bad), "--athlete", "Anna")
        assert refused.returncode == 1, refused.stdout + refused.stderr
        lines = refused.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("gympulse import: "), refused.stderr
    assert _count(db, "SELECT COUNT(*) FROM samples") == 2263
    assert _count(db, "SELECT COUNT(*) FROM quarantine") == 0

    analysed = _cli(config, "analyze", "--full")
    assert analysed.returncode == 0, analysed.stdout + analysed.stderr
    sessions = _count(db, "SELECT COUNT(*) FROM session_summary WHERE athlete_id = ?", anna)
    assert sessions >= 1, analysed.stdout
