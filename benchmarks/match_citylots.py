"""Deterministic city-lot-shaped events for benchmarks/match.py.

The real citylots2 file (213,068 San Francisco lots, used by event-ruler's benchmark) is not
available, so we generate events of the same shape with a seeded RNG and realistic values:
STREET names that begin and end the way the rule sets look for, BLKLOT/MAPBLKLOT ids including
the exact ones the EXACT rules name, and coordinate rings around San Francisco with the exact
floats the NUMERIC/COMPLEX_ARRAYS rules compare against appearing now and then.
"""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

RULES_FILE = Path(__file__).resolve().parent / "data" / "cl2-rules-and-counts.json"

STREETS = [
    "ACTON",
    "ACADIA",
    "BLAKE",
    "BLAIR",
    "BLUXOME",
    "DRUMM",
    "DRAKE",
    "FULTON",
    "FUNSTON",
    "FOLSOM",
    "RHODE ISLAND",
    "RHINE",
    "MASON",
    "JEFFERSON",
    "BEACH",
    "HYDE",
    "CHESTNUT",
    "17TH",
    "MISSION",
    "VAN NESS",
    "GEARY",
    "CLAY",
    "LAKE",
    "PARK",
    "FLEMING",
    "STERLING",
    "SAN DIEGO",
    "CHICAGO",
    "FOERSTER",
    "UNKNOWN",
    "ALABAMA",
    "BRYANT",
    "HARRISON",
    "WASHINGTON",
    "JACKSON",
    "POLK",
    "LINCOLN",
    "MADISON",
    "PRINCETON",
    "BURKE",
    "LOCKE",
    "GRAHAM",
    "TOMASO",
    "BRISTOL",
    "DOLORES",
]
ST_TYPES = ["ST", "ST", "ST", "AVE", "AVE", "WAY", "BLVD", "TER", "LN", None]
SPECIAL_LOTS = ["1430022", "2607117", "2607218", "3745012", "VACSTWIL"]
SPECIAL_X = [-122.42916360922355, -122.41600944012424, -122.46471267081272, -122.4063085128395]
SPECIAL_Y = [37.729900216217324]


def _lot(rng: random.Random) -> tuple[str, str, str]:
    if rng.random() < 0.02:
        lot = rng.choice(SPECIAL_LOTS)
        return lot, lot[:4], lot[4:]
    block = f"{rng.randrange(1, 7600):04d}" + ("A" if rng.random() < 0.03 else "")
    lot_num = f"{rng.randrange(1, 300):03d}"
    return block + lot_num, block, lot_num


def _point(rng: random.Random) -> dict[str, float]:
    x = rng.choice(SPECIAL_X) if rng.random() < 0.01 else -122.52 + rng.random() * 0.16
    y = rng.choice(SPECIAL_Y) if rng.random() < 0.01 else 37.70 + rng.random() * 0.12
    return {"x": x, "y": y, "z": 0.0 if rng.random() < 0.97 else 1.0}


def citylots_event(rng: random.Random) -> dict[str, Any]:
    """One lot: properties plus a polygon whose ring is a list of {x, y, z} objects."""
    mapblklot, block, lot_num = _lot(rng)
    from_st = str(rng.randrange(0, 3000))
    ring = [_point(rng) for _ in range(rng.randrange(4, 10))]
    multi = rng.random() < 0.002
    return {
        "type": "Feature",
        "properties": {
            "MAPBLKLOT": mapblklot,
            "BLKLOT": mapblklot,
            "BLOCK_NUM": block,
            "LOT_NUM": lot_num,
            "FROM_ST": "441" if rng.random() < 0.01 else from_st,
            "TO_ST": str(int(from_st) + rng.randrange(0, 40)),
            "STREET": rng.choice(STREETS),
            "ST_TYPE": rng.choice(ST_TYPES),
            "ODD_EVEN": rng.choice("EO"),
        },
        "geometry": {
            "type": "MultiPolygon" if multi else "Polygon",
            "coordinates": [ring],
            "firstCoordinates": dict(ring[0]),
        },
    }


def citylots_events(n: int, seed: int = 20240917) -> list[dict[str, Any]]:
    """``n`` deterministic city-lot events."""
    rng = random.Random(seed)
    return [citylots_event(rng) for _ in range(n)]


def citylots_rule_sets() -> dict[str, list[dict[str, Any]]]:
    """The fourteen event-ruler rule sets plus the PARTIAL_COMBO and COMBO composites."""
    data = json.loads(RULES_FILE.read_text())
    sets = {name: bench["rules"] for name, bench in data["benchmarks"].items()}
    for name in ("PARTIAL_COMBO", "COMBO"):
        sets[name] = [rule for part in data["composites"][name] for rule in sets[part]]
    return sets
