"""Settings: defaults < TOML < environment; secrets only from the environment."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from gympulse import settings

EXAMPLE = Path(__file__).parent.parent / "config" / "gympulse.example.toml"


def test_defaults_work_without_a_file() -> None:
    s = settings.load(None, environ={})
    assert s.store.backend == "sqlite"
    assert s.mqtt.protocol == "3.1.1"
    assert s.simulator.participants == 12


def test_toml_then_environment(tmp_path: Path) -> None:
    f = tmp_path / "g.toml"
    f.write_text('site = "gym-a"\n[mqtt]\nurl = "mqtt://broker:1883"\nprotocol = "5"\n')
    s = settings.load(
        f,
        environ={
            "GYMPULSE_MQTT__URL": "mqtt://other:1884",
            "GYMPULSE_INGEST__BATCH_SIZE": "250",
            "GYMPULSE_MQTT__PASSWORD": "s3cret-of-the-site",
            "UNRELATED": "x",
        },
    )
    assert s.site == "gym-a"
    assert s.mqtt.protocol == "5"
    assert s.mqtt.url == "mqtt://other:1884"
    assert s.ingest.batch_size == 250
    assert s.mqtt.password == "s3cret-of-the-site"


def test_secrets_in_the_file_are_refused(tmp_path: Path) -> None:
    f = tmp_path / "g.toml"
    f.write_text('[mqtt]\npassword = "oops"\n')
    with pytest.raises(settings.SettingsError, match="environment"):
        settings.load(f, environ={})


def test_unknown_keys_and_bad_values_are_errors(tmp_path: Path) -> None:
    f = tmp_path / "g.toml"
    f.write_text("[mqtt]\nurll = 'x'\n")
    with pytest.raises(settings.SettingsError):
        settings.load(f, environ={})
    with pytest.raises(settings.SettingsError):
        settings.load(None, environ={"GYMPULSE_INGEST__BATCH_SIZE": "many"})


def test_example_file_lists_every_setting_with_its_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GYMPULSE_CONSENT__REQUIRED")  # the suite's own (tests/conftest.py)
    example = tomllib.loads(EXAMPLE.read_text())
    assert example == settings.defaults_as_toml_dict()
    assert settings.load(EXAMPLE, environ={}) == settings.Settings()
