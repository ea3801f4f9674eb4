"""Benchmark: the bot's idle memory, in paired runs of two checkouts (``bench/bench_process.py``'s idle figure alone).

Run: ``.venv/bin/python bench/bench_idle.py [--pairs N] [--settle S] [--repo PATH] [--old PATH]``

Each sample starts the project's fake Discord and the bot (``python -m bot run``) exactly as
``bench/bench_process.py`` does, waits until the bot has synced its commands, lets it settle ``--settle``
seconds (2, as that benchmark does) and reads ``/proc/<pid>/status`` (``VmRSS``, ``RssAnon``, ``RssFile``),
and the number of threads. With ``--old PATH`` the samples alternate between that checkout and ``--repo``
(old first in odd pairs, new first in even ones), which is how a change's effect is judged on a loaded machine.
Nothing is written anywhere: the figures are printed.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.bench_process import processes  # noqa: E402


def status(pid: int) -> dict[str, float]:
    wanted = {"VmRSS", "RssAnon", "RssFile", "Threads"}
    out: dict[str, float] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in wanted:
            number = int(value.split()[0])
            out[key] = number if key == "Threads" else number / 1024
    return out


def sample(repo: Path, settle: float) -> dict[str, float]:
    import time

    with tempfile.TemporaryDirectory() as tmp, processes(Path(tmp), repo) as procs:
        time.sleep(settle)
        return status(procs.bot.pid)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--pairs", type=int, default=3)
    parser.add_argument("--settle", type=float, default=2.0)
    parser.add_argument("--repo", type=Path, default=ROOT)
    parser.add_argument("--old", type=Path, help="a checkout of the old code, sampled alternately")
    args = parser.parse_args()
    runs: dict[str, list[dict[str, float]]] = {"old": [], "new": []}
    print(f"load average {os.getloadavg()[0]:.2f}")
    for pair in range(args.pairs):
        order = [("old", args.old), ("new", args.repo)] if args.old else [("new", args.repo)]
        if pair % 2:
            order.reverse()
        for name, repo in order:
            got = sample(repo.resolve(), args.settle)
            runs[name].append(got)
            print(
                f"pair {pair + 1} {name}: VmRSS {got['VmRSS']:.1f} MB, anon {got['RssAnon']:.1f}, "
                f"file {got['RssFile']:.1f}, threads {got['Threads']:.0f}",
                flush=True,
            )
    for name, got in runs.items():
        if got:
            rss = [g["VmRSS"] for g in got]
            print(f"{name}: median VmRSS {statistics.median(rss):.1f} MB ({', '.join(f'{r:.1f}' for r in rss)})")
    print(f"load average {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
