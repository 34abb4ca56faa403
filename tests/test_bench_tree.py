"""The benches' process-tree sampling (bench/_common.py `Tree`): the CPU and memory of a pool's
worker processes count, which wait4 on the process that started them never sees."""

from __future__ import annotations

import sys
import time
from pathlib import Path

from bench._common import run_child

POOL = """
import multiprocessing

def burn(n):
    return sum(i * i for i in range(n))

if __name__ == "__main__":
    with multiprocessing.get_context("forkserver").Pool(2) as pool:
        print(sum(pool.map(burn, [2_000_000] * 4)))
"""


def test_a_pools_workers_are_counted(tmp_path: Path) -> None:
    script = tmp_path / "pool.py"
    script.write_text(POOL)
    child = run_child([sys.executable, str(script)], tree=True)
    assert child.returncode == 0, child.err
    # the work is done in the workers: the main process itself burns little. What four burns
    # cost depends on the machine, so one is timed here: the tree must show at least two more
    # than the main process (sampling every 0.1 s may miss a worker's last moments)
    started = time.process_time()
    sum(i * i for i in range(2_000_000))
    one = time.process_time() - started
    assert child.tree_cpu > child.cpu + 2 * one, (child.cpu, child.tree_cpu, one)
    # the main process, the forkserver and two workers were alive at once: more than twice one
    # interpreter's RSS (wait4's own figure will not do here: after a fork from a big parent it
    # keeps the parent's high-water mark)
    alone = run_child([sys.executable, "-c", "import time; time.sleep(0.5)"], tree=True)
    assert child.tree_rss_mb > 2 * alone.tree_rss_mb > 0, (alone.tree_rss_mb, child.tree_rss_mb)


def test_without_tree_nothing_is_sampled(tmp_path: Path) -> None:
    child = run_child([sys.executable, "-c", "print(1)"])
    assert child.out == "1\n" and child.tree_cpu == 0.0 and child.tree_rss_mb == 0.0
