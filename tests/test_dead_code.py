"""No dead code: every function, class, method and property of the package, the tests and
the benches is used somewhere (vulture, statically), or is listed below with the reason it
stays. Route handlers, pytest hooks and fixtures are found through their decorators."""

from __future__ import annotations

from pathlib import Path

import vulture

ROOT = Path(__file__).resolve().parents[1]
FOLDERS = ("gympulse", "collectors", "pipeline", "dashboards", "tests", "bench")
DECORATORS = ["@*.get", "@*.post", "@*.put", "@*.delete", "@*.exception_handler",
              "@*.middleware", "@*.on_event", "@pytest.*", "@*.parametrize", "@FUZZ",
              "@field_validator", "@model_validator"]  # fmt: skip

# Used by something vulture cannot see, each with who calls it.
KEPT = {
    "record_reading": "the Python API the README documents for scripts",
    "BumbleCentral": "named by its import path in collectors/central.py's registry",
    "capture_signals": "uvicorn.Server hook, overridden so the app's own handlers stay",
    "pytest_collection_modifyitems": "pytest hook",
    "pytest_configure": "pytest hook",
    "log_message": "http.server.BaseHTTPRequestHandler hook (silences request logs)",
    "on_packet": "bumble transport sink protocol",
    "connection_made": "asyncio.Protocol hook",
    "connection_lost": "asyncio.Protocol hook",
    "is_connected": "bleak BleakClient protocol, implemented by the fake at the radio",
    "handle_DATA": "aiosmtpd handler hook (the test SMTP server's inbox)",
}


def _unused() -> list[str]:
    scan = vulture.Vulture(ignore_decorators=DECORATORS, ignore_names=list(KEPT))
    scan.scavenge([str(ROOT / f) for f in FOLDERS])
    kinds = ("function", "class", "method", "property", "unreachable_code")
    return sorted(
        f"{Path(item.filename).relative_to(ROOT)}:{item.first_lineno}: {item.typ} {item.name}"
        for item in scan.get_unused_code()
        if item.typ in kinds
    )


def test_every_function_class_method_and_property_is_used() -> None:
    assert _unused() == []
