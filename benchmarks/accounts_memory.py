"""What reading the accounts costs a run: CPU, and the memory held and at its highest.

    uv run python -m benchmarks.accounts_memory [--companies 100000]

A run parses its accounts at the start, then holds them packed, a chunk to a bytes object,
until each chunk opens: the objects at first, the packed chunks all run long. Two
files: the throughput benchmark's (name, domain, a CRM id) and a CRM export of 20 columns
(made up here, shaped like a CRM's account report). Each is read in a fresh process:
its resident memory after reading, over what it held before, and its high-water mark.
"""

from __future__ import annotations

import argparse
import csv
import random
import subprocess
import sys
import tempfile
from pathlib import Path

from benchmarks.throughput import write_territory

EXPORT_COLUMNS = (
    "Company", "Website", "Account ID", "Account Owner", "Industry", "Billing Country",
    "Billing State", "Billing City", "Employees", "Annual Revenue", "Type", "Created Date",
    "Last Activity", "Phone", "Parent Account", "Segment", "Region", "Lead Source", "Stage",
    "Description",
)  # fmt: skip

# Run in the child: read the file, print CPU seconds, MiB held and MiB of high-water mark.
_CHILD = """
import sys, time
def status(key):
    return next(int(l.split()[1]) >> 10 for l in open('/proc/self/status') if l.startswith(key))
from domain.accounts import read_accounts
import flows.research_run  # what the flow process has loaded before it reads
before, start = status('VmRSS'), time.process_time()
parsed = read_accounts(sys.argv[1])
print(len(parsed.accounts), time.process_time() - start, status('VmRSS') - before,
      status('VmHWM') - before, end=' ')
# What the run holds from its start on: the accounts packed a chunk (BATCH_SIZE) at a time.
from domain.account_chunks import packed_chunks
start = time.process_time()
chunks = packed_chunks(parsed.accounts, 50)
del parsed
print(time.process_time() - start, status('VmRSS') - before)
"""


def write_export(path: Path, n: int) -> None:
    """N accounts as a 20-column CRM export: short, repeating values, some cells empty."""
    pick = random.Random(7).choice
    with path.open("w", newline="") as fh:
        out = csv.writer(fh)
        out.writerow(EXPORT_COLUMNS)
        for i in range(n):
            out.writerow([
                f"Export Account {i:06d}", f"https://www.export{i:06d}.example", f"0015g{i:013d}",
                pick(["Ana Ruiz", "Bo Chen", "Cy Diaz"]), pick(["Software", "Biotech", "Retail"]),
                "United States", pick(["CA", "NY", "TX"]), pick(["Austin", "Seattle", "Boston"]),
                str(10 + i % 5000), str(100_000 + i * 37), pick(["Customer", "Prospect"]),
                f"2021-0{1 + i % 9}-1{i % 10}", f"2026-1{i % 2}-0{1 + i % 9}",
                f"+1 415 555 {i % 10_000:04d}",
                "", pick(["SMB", "MM", "ENT"]), pick(["West", "East"]), pick(["Web", "Event", ""]),
                pick(["Active", "Churned"]), pick(["", "Renewal due in Q3; champion left in May."]),
            ])  # fmt: skip


def measure(path: Path) -> str:
    out = subprocess.run(
        [sys.executable, "-c", _CHILD, str(path)], capture_output=True, text=True, check=True
    ).stdout.split()
    n, cpu, held, high = int(out[0]), float(out[1]), int(out[2]), int(out[3])
    pack_cpu, packed = float(out[4]), int(out[5])
    return (
        f"{path.name}: {n:,} accounts, {cpu:.2f} s CPU, +{held} MiB held after reading, "
        f"+{high} MiB at the highest ({held * 2**20 / n:.0f} B an account); packed in chunks "
        f"of 50 as a run holds them: +{packed} MiB ({pack_cpu:.2f} s CPU to pack)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--companies", type=int, default=100_000)
    n = parser.parse_args().companies
    with tempfile.TemporaryDirectory() as tmp:
        bench, export = Path(tmp) / "benchmark.csv", Path(tmp) / "crm-export.csv"
        write_territory(bench, n)
        write_export(export, n)
        for path in (bench, export):
            print(measure(path))


if __name__ == "__main__":
    main()
