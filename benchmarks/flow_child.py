"""Run `territory <args>` in this process, then write this process's own CPU use as JSON.

Usage: python -m benchmarks.flow_child RUSAGE.json territory-args...
"""

from __future__ import annotations

import json
import resource
import sys

from territory.cli import main


def _run() -> int:
    out, argv = sys.argv[1], sys.argv[2:]
    try:
        code = main(argv)
    finally:
        usage = resource.getrusage(resource.RUSAGE_SELF)
        with open(out, "w") as fh:
            json.dump(
                {"cpu_seconds": usage.ru_utime + usage.ru_stime, "max_rss_kib": usage.ru_maxrss},
                fh,
            )
    return code


if __name__ == "__main__":
    sys.exit(_run())
