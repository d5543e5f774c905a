"""Run every benchmark script in this folder (``make bench``); each prints its own table."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def main() -> int:
    """Run ``*_bench.py`` scripts one after another with their defaults; return the failures."""
    failures = 0
    for script in sorted(Path(__file__).parent.glob("*_bench.py")):
        print(f"\n=== {script.name}", flush=True)
        failures += subprocess.call([sys.executable, str(script)]) != 0
    return failures


if __name__ == "__main__":
    sys.exit(main())
