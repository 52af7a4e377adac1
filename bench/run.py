"""Benchmarks: ``make bench`` (or ``python bench/run.py [--feeds N] [--only poll|match]``).

Poll: the real ``python -m bot poll --once`` against a feed farm in another process, cold (empty
data dir) and warm (10% of feeds changed), timed against the naive baseline in the same run: a
sequential loop of ``feedparser.parse(url)``. Wall time, CPU time (the process and its
workers), and peak memory (the sum over the process tree, sampled every 50 ms).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable


@dataclass
class Measure:
    wall: float
    cpu: float
    peak_mb: float
    output: str


def _tree_rss_kb(root: int) -> int:
    parents: dict[int, int] = {}
    rss: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/status") as f:
                fields = dict(line.split(":", 1) for line in f if ":" in line)
        except OSError:
            continue
        pid = int(entry)
        parents[pid] = int(fields.get("PPid", "0").strip())
        rss[pid] = int(fields.get("VmRSS", "0 kB").split()[0]) if "VmRSS" in fields else 0
    total, stack = 0, [root]
    while stack:
        pid = stack.pop()
        total += rss.get(pid, 0)
        stack += [child for child, parent in parents.items() if parent == pid]
    return total


def measure(cmd: list[str], env: dict[str, str] | None = None) -> Measure:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.Popen(
        cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env
    )
    peak = 0
    out: list[str] = []
    reader = threading.Thread(target=lambda: out.append(proc.stdout.read() if proc.stdout else ""))
    reader.start()
    while proc.poll() is None:
        peak = max(peak, _tree_rss_kb(proc.pid))
        time.sleep(0.05)
    reader.join()
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({proc.returncode}):\n{''.join(out)[-3000:]}")
    return Measure(wall, cpu, peak / 1024, "".join(out))


NAIVE = """
import sys, json, feedparser
urls = json.load(open(sys.argv[1]))
n = 0
for url in urls:
    n += len(feedparser.parse(url).entries)
print(n, "entries")
"""


def median(runs: list[Measure]) -> Measure:
    ordered = sorted(runs, key=lambda m: m.wall)
    mid = ordered[len(ordered) // 2]
    return Measure(mid.wall, mid.cpu, max(m.peak_mb for m in runs), mid.output)


def bench_poll(feeds: int, hosts: int, skip_naive: bool, repeat: int) -> None:
    farm = subprocess.Popen(
        [PY, str(ROOT / "bench" / "feedfarm.py"), str(feeds), str(hosts)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert farm.stdout is not None
        info = json.loads(farm.stdout.readline())
        urls, control = info["urls"], info["control"]
        with tempfile.TemporaryDirectory() as tmp:
            cfg = Path(tmp) / "config"
            cfg.mkdir()
            lines = ["feeds:"] + [
                f"  - name: farm-{i:04d}\n    url: {u}" for i, u in enumerate(urls)
            ]
            (cfg / "feeds.yaml").write_text("\n".join(lines) + "\n")
            (cfg / "bot.yaml").write_text("timezone: Asia/Tokyo\n")
            shutil.copy(ROOT / "config" / "keywords.yaml", cfg / "keywords.yaml")
            print(
                f"poll: {feeds} feeds of ~50 items on {hosts} loopback hosts; 5% slow (1-2 s), 2% failing, 70% with ETag"
            )
            print(
                f"  {repeat} cold/warm cycles, each on a fresh data dir (this VM's speed varies run to run: medians below)"
            )
            colds, warms = [], []
            for r in range(repeat):
                data = Path(tmp) / f"data{r}"
                cmd = [
                    PY,
                    "-m",
                    "bot",
                    "--config",
                    str(cfg),
                    "--data-dir",
                    str(data),
                    "poll",
                    "--once",
                ]
                colds.append(measure(cmd))
                urllib.request.urlopen(control).read()
                # --force: the failing 2% are retried too, as the naive loop does
                warms.append(measure([*cmd, "--force"]))
                print(f"  run {r + 1}: cold {colds[-1].wall:.1f} s, warm {warms[-1].wall:.1f} s")
            cold, warm = median(colds), median(warms)
            print("  cold:", cold.output.strip().splitlines()[-1])
            print("  warm:", warm.output.strip().splitlines()[-1])
            naive = None
            if not skip_naive:
                url_file = Path(tmp) / "urls.json"
                url_file.write_text(json.dumps(urls))
                naive = measure([PY, "-c", NAIVE, str(url_file)])
                print("  naive:", naive.output.strip().splitlines()[-1])
        print(f"\n  {'':<28}{'wall s':>9}{'CPU s':>9}{'peak MB':>10}{'vs naive':>10}")
        for name, m in (
            ("poll --once, cold", cold),
            ("poll --once, warm (10% new)", warm),
            ("naive feedparser.parse loop", naive),
        ):
            if m is None:
                continue
            ratio = f"{naive.wall / m.wall:>9.1f}x" if naive else ""
            print(f"  {name:<28}{m.wall:>9.2f}{m.cpu:>9.2f}{m.peak_mb:>10.0f}{ratio}")
        if naive:
            print(
                f"\n  targets: cold >= 6x ({naive.wall / cold.wall:.1f}x), warm >= 15x ({naive.wall / warm.wall:.1f}x), peak < 250 MB ({max(cold.peak_mb, warm.peak_mb):.0f} MB)"
            )
    finally:
        if farm.stdin:
            farm.stdin.close()
        farm.wait(timeout=10)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--feeds", type=int, default=1000)
    parser.add_argument("--hosts", type=int, default=20)
    parser.add_argument("--skip-naive", action="store_true", help="skip the ~2 minute naive loop")
    parser.add_argument("--repeat", type=int, default=3, help="cold/warm cycles (median reported)")
    parser.add_argument("--only", choices=["poll", "match", "digest"])
    args = parser.parse_args()
    if args.only in (None, "poll"):
        bench_poll(args.feeds, args.hosts, args.skip_naive, args.repeat)
    if args.only in (None, "match"):
        try:
            from bench import match_bench
        except ImportError:
            print("\nmatch: not built yet")
        else:
            match_bench.main()
    if args.only in (None, "digest"):
        from bench import digest_bench

        print()
        digest_bench.run()


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    main()
