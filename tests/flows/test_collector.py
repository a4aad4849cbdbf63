"""The cyclic collector runs less often, and still collects: each check but the flow's runs in a
fresh process (the thresholds and the frozen objects are the whole process's); the flow's puts
back what it found."""

import gc
import subprocess
import sys
from pathlib import Path

from flows.collector import OLDER_THRESHOLDS, YOUNG_THRESHOLD
from tests.helpers import run_flow


def run(script: str) -> list[str]:
    """What `script` printed, line by line, run by this Python from the project's root."""
    root = Path(__file__).resolve().parents[2]
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, cwd=root
    )
    return done.stdout.split()


CYCLES = """
import gc, weakref
class Node:
    pass
gone = []
for _ in range(100_000):
    a, b = Node(), Node()
    a.other, b.other = b, a  # a cycle: only the collector frees it
    weakref.finalize(a, gone.append, 1)
    del a, b
print(len(gone) >= 90_000)
"""


def test_the_start_up_is_frozen_and_young_objects_are_collected_less_often():
    script = "import gc\nfrom flows.collector import collect_less_often\n"
    script += "print(collect_less_often(), gc.get_freeze_count() > 1000, *gc.get_threshold())\n"
    script += "print(collect_less_often())\n" + CYCLES
    first, frozen, *thresholds, second, collected = run(script)
    assert (first, frozen, second) == ("True", "True", "False")
    assert tuple(map(int, thresholds)) == (YOUNG_THRESHOLD, *OLDER_THRESHOLDS) == (10_000, 20, 20)
    assert collected == "True"  # cycles made after it still go, without an explicit collect


def test_a_users_own_higher_threshold_stands():
    script = "import gc\ngc.set_threshold(50_000, 5, 5)\n"
    script += "from flows.collector import collect_less_often\n"
    script += "print(collect_less_often(), gc.get_freeze_count(), *gc.get_threshold())\n"
    assert run(script) == ["False", "0", "50000", "5", "5"]


def test_the_territory_command_sets_it_before_its_work(tmp_path):
    # `results` with no database yet: refused at once, after the entry point's settings.
    script = "import gc\nfrom territory.cli import main\n"
    script += "print(main(['results', '--territory', 'x']), *gc.get_threshold())\n"
    root = Path(__file__).resolve().parents[2]
    done = subprocess.run(
        [sys.executable, "-c", f"import sys; sys.path.insert(0, {str(root)!r})\n" + script],
        capture_output=True,
        text=True,
        check=True,
        cwd=tmp_path,
    )
    assert done.stdout.split() == ["2", "10000", "20", "20"]
    assert "no database" in done.stderr


def test_a_flow_run_with_no_cli_in_front_sets_it_too(territory_env):
    """A deployment's run starts in a worker's process, not through `territory`: the flow
    itself sets the thresholds as it starts (here a run refused at its input, its cheapest)."""
    before = gc.get_threshold()
    gc.set_threshold(700, 10, 10)  # Python's defaults, as a worker's process has them
    gc.unfreeze()
    try:
        state = run_flow(companies_csv=str(territory_env / "missing.csv"))
        assert state.is_failed() and "missing.csv" in state.message
        assert gc.get_threshold() == (YOUNG_THRESHOLD, *OLDER_THRESHOLDS)
        assert gc.get_freeze_count() > 1000
    finally:
        gc.unfreeze()
        gc.set_threshold(*before)
