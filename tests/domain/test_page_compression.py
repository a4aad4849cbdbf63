"""benchmarks.page_compression's frames: each layout compresses every text once, in order."""

import pytest

from benchmarks.page_compression import LAYOUTS, SEGMENT_BYTES, SEGMENTS, frames

COMPANIES = [[bytes([c]) * 100_000 for c in b"ab"], [b"c" * 70_000], [b"d" * 1_000, b"e"]]
TEXT = b"".join(t for texts in COMPANIES for t in texts)


@pytest.mark.parametrize("how", LAYOUTS)
def test_every_text_is_in_one_frame_in_order(how):
    assert b"".join(frames(COMPANIES, how)) == TEXT


def test_frames_are_what_each_layout_says():
    assert list(frames(COMPANIES, "each text")) == [t for texts in COMPANIES for t in texts]
    assert list(frames(COMPANIES, "per company")) == [b"".join(texts) for texts in COMPANIES]
    runs = list(frames(COMPANIES, SEGMENTS))
    # A run closes at the text that takes it past a segment's size; the last holds the rest.
    assert [len(r) for r in runs] == [270_000, 1_001]
    assert all(len(r) >= SEGMENT_BYTES for r in runs[:-1])
