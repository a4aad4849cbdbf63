"""Write `examples/companies.csv`: the sample territory, with a few realistic data warts.

Run `python -m simulators.make_sample_territory` (add `--check` to verify the
committed file is up to date). Output is deterministic.
"""

from __future__ import annotations

import argparse
import csv
import io
import random
import sys
from pathlib import Path

from simulators.sample_companies import sample_companies

HEADER = ("name", "domain", "owner", "region", "crm_id")
DEFAULT_OUTPUT = Path(__file__).resolve().parents[2] / "examples" / "companies.csv"
OWNERS = (
    "Dana Park", "Luis Ortega", "Amara Nwosu", "Jonas Weber", "Mei Tanaka",
    "Priya Shah", "Tom Gallagher", "Sofia Rossi", "Ken Adeyemi", "Hannah Berg",
)  # fmt: skip
REGIONS = ("AMER", "EMEA", "APAC", "LATAM")
# Row positions (in sample order) that get a wart; fixed so the file never changes.
_EMPTY_DOMAIN_AT = (20, 200)
_BLANK_LINE_AFTER = 120


def territory_rows() -> list[tuple[str, ...] | None]:
    """All CSV data rows in order; None stands for a blank line."""
    rng = random.Random(7)
    companies = sample_companies()
    rows: list[tuple[str, ...] | None] = []
    by_index: dict[int, tuple[str, ...]] = {}
    for index, company in enumerate(companies):
        domain = "" if index in _EMPTY_DOMAIN_AT else company.domain
        row = (
            company.name,
            domain,
            rng.choice(OWNERS),
            rng.choice(REGIONS),
            f"CRM-{100000 + index * 37:06d}",
        )
        by_index[index] = row
        rows.append(row)
        if index == _BLANK_LINE_AFTER:
            rows.append(None)

    def crm(n: int) -> str:
        return f"CRM-{900000 + n:06d}"

    # Duplicates a loader must collapse: case, whitespace, shared domain, and an exact copy.
    name, domain, owner, region, _ = by_index[10]
    rows.insert(60, (name.upper(), domain, owner, region, crm(1)))
    name, domain, owner, region, _ = by_index[42]
    rows.insert(140, ("  " + name.replace(" ", "   ") + " ", domain, owner, region, crm(2)))
    name, domain, owner, region, _ = by_index[77]
    rows.insert(230, (name + " Holdings", domain, owner, region, crm(3)))
    rows.append(by_index[150])
    return rows


def render_csv() -> str:
    """The CSV text (LF line endings, header first)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(HEADER)
    for row in territory_rows():
        if row is None:
            buffer.write("\n")
        else:
            writer.writerow(row)
    return buffer.getvalue()


def main(argv: list[str] | None = None) -> int:
    """Write (or with --check, verify) the sample territory CSV."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT)
    parser.add_argument("--check", action="store_true", help="fail if the file is out of date")
    args = parser.parse_args(argv)
    text = render_csv()
    if args.check:
        current = args.output.read_text(encoding="utf-8") if args.output.exists() else ""
        if current != text:
            print(f"{args.output} is out of date; rerun without --check", file=sys.stderr)
            return 1
        return 0
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(text, encoding="utf-8")
    print(f"wrote {args.output} ({text.count(chr(10))} lines)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
