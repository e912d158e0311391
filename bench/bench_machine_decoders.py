"""Benchmark: machine decoders (Fitness Machine, Cycling Power, CSC) against the heart-rate
decoder, measured in the same run on the same machine.

A collector decodes every notification on its event loop: a class of 30 bikes at 4 Hz is
120 machine notifications a second next to the straps' 30. This prints, per characteristic,
decodes per second of typical notification values (the captures the tests use) through
:class:`gympulse.collectors.machines.MachineReader` (decode plus the wire fields), and the
ratio to ``hrm.decode`` of a strap's value (the baseline every collector already runs), and
the same for pycycling's parsers where it has one (an independent implementation).

    .venv/bin/python bench/bench_machine_decoders.py [--seconds 1.0]
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

from gympulse.collectors import cps, csc, ftms, hrm
from gympulse.collectors.machines import MachineReader

VALUES = {
    "indoor bike 0x2AD2": (ftms.INDOOR_BIKE_DATA, bytes.fromhex("5408e2067e00bb00004d000000")),
    "rower 0x2AD1": (ftms.ROWER_DATA, bytes.fromhex("F800260B00C7000000 2C001B000200")),
    "treadmill 0x2ACD": (
        ftms.TREADMILL_DATA,
        bytes.fromhex("9e04730233022500003c00ff7f0000ff7f0200ffffff1f00"),
    ),
    "cross trainer 0x2ACE": (
        ftms.CROSS_TRAINER_DATA,
        bytes.fromhex("be2f0073022d024500006000560098020e00ffff3c0050003d000600ffffff4c2e00"),
    ),
    "cycling power 0x2A63": (
        cps.CYCLING_POWER_MEASUREMENT,
        bytes.fromhex("14000000000000000000d503"),
    ),
    "csc 0x2A5B": (csc.CSC_MEASUREMENT, bytes.fromhex("03dc000000911403004e9f")),
}
HR_VALUE = bytes.fromhex("1678ff01ff010c01")  # a strap's value with three RR intervals


def rate(fn: Callable[[], object], seconds: float) -> float:
    """Calls per second of ``fn`` over about ``seconds`` (best of three rounds)."""
    best = 0.0
    for _ in range(3):
        n, start = 0, time.perf_counter()
        deadline = start + seconds / 3
        while True:
            for _ in range(200):
                fn()
            n += 200
            now = time.perf_counter()
            if now >= deadline:
                best = max(best, n / (now - start))
                break
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=1.0, help="per measurement")
    args = parser.parse_args()
    base = rate(lambda: hrm.decode(HR_VALUE), args.seconds)
    print(f"baseline hrm.decode: {base:,.0f} /s")
    reader = MachineReader()
    clock = iter(range(10**12))
    for name, (uuid, value) in VALUES.items():

        def read(u: int = uuid, v: bytes = value) -> object:
            return reader.read(u, v, float(next(clock)))

        r = rate(read, args.seconds)
        print(f"{name:22s} {r:>12,.0f} /s   ratio to hrm.decode {r / base:5.2f}")
    try:
        from pycycling.cycling_power_service import _parse_cycling_power_measurement
        from pycycling.ftms_parsers.indoor_bike_data import parse_indoor_bike_data
    except ImportError:
        return
    bike = VALUES["indoor bike 0x2AD2"][1]
    power = VALUES["cycling power 0x2A63"][1]
    ours_bike = rate(lambda: ftms.decode_indoor_bike(bike), args.seconds)
    theirs_bike = rate(lambda: parse_indoor_bike_data(bike), args.seconds)
    ours_power = rate(lambda: cps.decode(power), args.seconds)
    theirs_power = rate(lambda: _parse_cycling_power_measurement(power), args.seconds)
    print(f"indoor bike: ours {ours_bike:,.0f} /s, pycycling {theirs_bike:,.0f} /s")
    print(f"cycling power: ours {ours_power:,.0f} /s, pycycling {theirs_power:,.0f} /s")


if __name__ == "__main__":
    main()
