"""The reliability suite: short forms run in `make test`, long forms with BILLSYNC_RELIABILITY=full.

Every test ends by printing one `RELIABILITY <name>: key=value ...` line with the figures it
measured (cases run, kills, faults injected, duplicates, losses); `make reliability` runs with
`-s` so they are shown. With BILLSYNC_RELIABILITY_FIGURES=<path> they are also appended there as
JSON lines, for the README.
"""

from __future__ import annotations

import json
import os

FULL = os.environ.get("BILLSYNC_RELIABILITY", "").lower() == "full"


def scale(short: int, full: int) -> int:
    """The short figure under `make test`, the full one under `make reliability`."""
    return full if FULL else short


def report_figures(name: str, **figures: object) -> None:
    """Print the test's figures on one line (and append them to the figures file when asked)."""
    line = " ".join(f"{key}={value}" for key, value in figures.items())
    print(f"\nRELIABILITY {name} ({'full' if FULL else 'short'}): {line}", flush=True)
    path = os.environ.get("BILLSYNC_RELIABILITY_FIGURES")
    if path:
        with open(path, "a", encoding="utf-8") as out:
            out.write(json.dumps({"test": name, "form": "full" if FULL else "short", **figures}, default=str) + "\n")
