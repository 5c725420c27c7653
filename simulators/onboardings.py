"""Sample onboarding events for the device-cloud simulator, drawn from the sample fleet.

Owners onboard new devices in their OEM's app; the device cloud reports the device with the
EAN of the connection it sits behind. The sample holds four good onboardings on existing sites,
one behind an EAN no site has (refused: unknown site) and one with a rated power of 0 (refused
at registry intake: non-positive rated power).
"""

import json
import sys
from pathlib import Path

from domain.ean import make_ean18
from simulators.fleet import Tables, sample_batches

OUTPUT = Path("data/sample/device_cloud/onboardings.json")


def sample_onboardings(initial: Tables) -> list[dict[str, object]]:
    """Six onboarding events on sites of the initial sample batch."""
    sites = initial["sites"]
    plan = [
        ("HP-NIBE-20250301", "heat_pump", "NIBE", "6.5", 180, sites[3]["ean"]),
        ("EV-ALFEN-20250302", "ev_charger", "Alfen", "11", 90, sites[10]["ean"]),
        ("BAT-SONNEN-20250303", "battery", "sonnen", "4.6", 35, sites[20]["ean"]),
        ("PV-SMA-20250304", "pv_inverter", "SMA", "5", -20, sites[30]["ean"]),
        ("EV-EASEE-20250305", "ev_charger", "Easee", "7.4", 110, make_ean18("87199999999999999")),
        ("BAT-VICTRON-20250306", "battery", "Victron", "0", 40, sites[40]["ean"]),
    ]
    return [
        {
            "sequence": number,
            "onboarded_at": f"2025-03-0{number}T09:00:00+01:00",
            "device_serial": serial,
            "device_type": device_type,
            "oem": oem,
            "rated_power_kw": power,
            "controllable": True,
            "owner_strike_price_eur_mwh": strike,
            "site_ean": ean,
        }
        for number, (serial, device_type, oem, power, strike, ean) in enumerate(plan, start=1)
    ]


def main() -> int:
    """Write the sample events to ``data/sample/device_cloud/onboardings.json``."""
    events = sample_onboardings(sample_batches()["2025-01-01_initial"])
    OUTPUT.parent.mkdir(parents=True, exist_ok=True)
    OUTPUT.write_text(json.dumps(events, indent=1) + "\n", encoding="utf-8")
    print(OUTPUT)
    return 0


if __name__ == "__main__":
    sys.exit(main())
