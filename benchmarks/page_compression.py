"""How small real page text gets under general-purpose compressors: the bound on what storing
the same content differently could save (the README's *Database size* has the file's figures).

The text is `benchmarks.db_size`'s real-like pages (the corpus' pages, then the installed
packages' READMEs; 20 pages of 4,500 characters and a snippet each per company), compressed
with the standard library's codecs three ways: each text alone (a row's own frame), each
company's texts in one frame, and 256 KiB runs of texts (the size of DuckDB's storage
blocks). Prints KB per company and run, and the CPU it cost.

    uv run python -m benchmarks.page_compression
"""

from __future__ import annotations

import lzma
import time
import zlib
from collections.abc import Callable, Iterator

from benchmarks.db_size import PAGES, real_pages, real_text_pool

SEGMENT_BYTES = 256 * 1024
SEGMENTS = f"{SEGMENT_BYTES // 1024} KiB segments"
LAYOUTS = ("each text", "per company", SEGMENTS)
CODECS: dict[str, Callable[[bytes], bytes]] = {
    "zlib 9": lambda data: zlib.compress(data, 9),
    # Preset 6's 8 MiB window covers any frame here; 9's 64 MiB only costs allocation.
    "xz 6e": lambda data: lzma.compress(data, preset=6 | lzma.PRESET_EXTREME),
}


def frames(companies: list[list[bytes]], how: str) -> Iterator[bytes]:
    """The texts as the frames `how` compresses them in: each alone, per company, per segment."""
    if how == "each text":
        yield from (text for texts in companies for text in texts)
    elif how == "per company":
        yield from (b"".join(texts) for texts in companies)
    elif how == SEGMENTS:
        run = b""
        for text in (text for texts in companies for text in texts):
            run += text
            if len(run) >= SEGMENT_BYTES:
                yield run
                run = b""
        if run:
            yield run
    else:
        raise ValueError(f"no layout {how!r}: one of {LAYOUTS}")


def main() -> None:
    pages = list(real_pages(real_text_pool()))
    starts = range(0, len(pages) - PAGES + 1, PAGES)
    # Tavily's advanced-search snippets are chunks of the page (here, verbatim): compressed in
    # the page's frame they cost next to nothing, in a frame of their own they do not.
    texts = {
        "pages and snippets": [
            [text.encode() for page in pages[i : i + PAGES] for text in page] for i in starts
        ],
        "pages alone": [[page.encode() for page, _ in pages[i : i + PAGES]] for i in starts],
        "snippets alone": [[snip.encode() for _, snip in pages[i : i + PAGES]] for i in starts],
    }
    for label, companies in texts.items():
        n = len(companies)
        raw = sum(len(text) for texts in companies for text in texts)
        print(f"real-like {label}: {n} companies, {raw / n / 1e3:.1f} KB/company (UTF-8)")
        for name, compress in CODECS.items():
            for how in LAYOUTS:
                start = time.process_time()
                size = sum(len(compress(frame)) for frame in frames(companies, how))
                cpu = (time.process_time() - start) / n * 1e3
                print(f"  {name:7} {how:18} {size / n / 1e3:6.1f} KB/company "
                      f"({raw / size:.2f}x), {cpu:6.1f} ms CPU/company")  # fmt: skip


if __name__ == "__main__":
    main()
