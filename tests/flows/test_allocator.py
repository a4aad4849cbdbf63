"""Large blocks get mappings of their own, handed back when freed, even after a larger block
was freed (glibc would otherwise raise its threshold and keep them in its heaps), in the
process that sets it and in the processes it starts; each check runs in a fresh process."""

import ctypes
import subprocess
import sys
from pathlib import Path

import pytest

from flows.allocator import LARGE_BLOCK, THRESHOLD_VARIABLE, hand_back_large_blocks

NAMES = ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks",
         "fordblks", "keepcost")  # fmt: skip


# Run as a script in a child process: where glibc puts a search answer's size of block once a
# larger block was freed.
PLACED = f"""
import ctypes
class MallInfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in {NAMES!r}]
libc = ctypes.CDLL(None)
libc.mallinfo2.restype = MallInfo2
freed = bytearray(8 * 2**20)
del freed
before = libc.mallinfo2().hblkhd
block = bytearray(2 * {LARGE_BLOCK})
print("own mapping" if libc.mallinfo2().hblkhd >= before + 2 * {LARGE_BLOCK} else "heap")
"""


@pytest.fixture
def glibc(monkeypatch):
    if not sys.platform.startswith("linux") or not hasattr(ctypes.CDLL(None), "mallinfo2"):
        pytest.skip("glibc 2.33 or later only")
    monkeypatch.delenv(THRESHOLD_VARIABLE, raising=False)  # as a user's shell has it


def test_a_large_block_gets_its_own_mapping_after_a_larger_one_was_freed(glibc):
    # In a process of its own: other tests' threads free mapped blocks of their own meanwhile.
    # Without the setting, freeing a mapped 8 MiB block raised glibc's threshold to 8 MiB: the
    # blocks of a search answer's size then went into the heaps and stayed there once freed.
    script = "from flows.allocator import hand_back_large_blocks\n"
    script += "assert hand_back_large_blocks() is True\n" + PLACED
    assert placed(script) == "own mapping"


def placed(script: str = PLACED) -> str:
    """What `script` printed, run by this Python from the project's root."""
    root = Path(__file__).resolve().parents[2]
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, cwd=root
    )
    return done.stdout.strip()


def test_the_processes_it_starts_do_the_same_and_a_users_own_value_stands(glibc, monkeypatch):
    assert placed() == "heap"  # glibc's own way, as before
    hand_back_large_blocks()
    assert placed() == "own mapping"  # e.g. the ephemeral Prefect server, Dask workers
    monkeypatch.setenv(THRESHOLD_VARIABLE, str(4 * 2**20))
    assert hand_back_large_blocks() is False
    assert placed() == "heap"  # the user's 4 MiB stands
