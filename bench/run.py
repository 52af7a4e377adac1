"""Benchmarks: ``make bench`` (or ``python bench/run.py [--feeds N] [--only poll|match]``).

Poll: the real ``python -m bot poll --once`` against a feed farm in another process, cold (empty
data dir) and warm (10% of feeds changed), timed against the naive baseline in the same run: a
sequential loop of ``feedparser.parse(url)``. Wall time, CPU time (the process and its
workers), and peak memory (the sum over the process tree, sampled every 50 ms).
"""

from __future__ import annotations

import argparse
import contextlib
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
from collections.abc import Iterator
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
    return measure_together([cmd], env)


def measure_together(cmds: list[list[str]], env: dict[str, str] | None = None) -> Measure:
    """Run the commands at once (replicas): wall time until the last ends, CPU time of all,
    peak of the summed memory of their process trees."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    procs = [
        subprocess.Popen(
            cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env
        )
        for cmd in cmds
    ]
    peak = 0
    outs: list[list[str]] = [[] for _ in procs]
    readers = [
        threading.Thread(target=lambda p=p, o=o: o.append(p.stdout.read() if p.stdout else ""))
        for p, o in zip(procs, outs, strict=True)
    ]
    for reader in readers:
        reader.start()
    while any(p.poll() is None for p in procs):
        peak = max(peak, sum(_tree_rss_kb(p.pid) for p in procs if p.poll() is None))
        time.sleep(0.05)
    for reader in readers:
        reader.join()
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    for cmd, proc, out in zip(cmds, procs, outs, strict=True):
        if proc.returncode != 0:
            raise SystemExit(f"{' '.join(cmd)} failed ({proc.returncode}):\n{''.join(out)[-3000:]}")
    return Measure(wall, cpu, peak / 1024, "\n".join("".join(o) for o in outs))


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


@contextlib.contextmanager
def feed_farm(
    feeds: int, hosts: int, latency: tuple[int, int] | None = None
) -> Iterator[tuple[list[str], str]]:
    """The farm's feed URLs and its control URL (each request changes 10% of the feeds)."""
    extra = [str(latency[0]), str(latency[1])] if latency else []
    farm = subprocess.Popen(
        [PY, str(ROOT / "bench" / "feedfarm.py"), str(feeds), str(hosts), *extra],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert farm.stdout is not None
        info = json.loads(farm.stdout.readline())
        yield info["urls"], info["control"]
    finally:
        if farm.stdin:
            farm.stdin.close()
        farm.wait(timeout=10)


def write_config(directory: Path, urls: list[str], bot_yaml: str = "") -> Path:
    cfg = directory / "config"
    cfg.mkdir(parents=True)
    lines = ["feeds:"] + [f"  - name: farm-{i:04d}\n    url: {u}" for i, u in enumerate(urls)]
    (cfg / "feeds.yaml").write_text("\n".join(lines) + "\n")
    (cfg / "bot.yaml").write_text("timezone: Asia/Tokyo\n" + bot_yaml)
    shutil.copy(ROOT / "config" / "keywords.yaml", cfg / "keywords.yaml")
    return cfg


def poll_cmd(cfg: Path, data: Path, *extra: str) -> list[str]:
    return [
        PY,
        "-m",
        "bot",
        "--config",
        str(cfg),
        "--data-dir",
        str(data),
        "poll",
        "--once",
        *extra,
    ]


STAGES = ("startup", "fetch", "parse", "match", "store", "workers_ready", "wall")


def timings(output: str) -> dict[str, float]:
    """The ``timings: {...}`` line ``poll --once --timings`` prints."""
    for line in output.splitlines():
        if line.startswith("timings: "):
            return {k: v for k, v in json.loads(line[len("timings: ") :]).items() if v is not None}
    return {}


def breakdown(runs: list[Measure]) -> str:
    """Median of each stage over the runs."""
    rows = [timings(m.output) for m in runs]
    parts = []
    for stage in STAGES:
        values = sorted(r[stage] for r in rows if stage in r)
        if values:
            parts.append(f"{stage} {values[len(values) // 2]:.2f}")
    return ", ".join(parts)


def bench_poll(
    urls: list[str],
    control: str,
    description: str,
    skip_naive: bool,
    repeat: int,
    targets: tuple[float, float],
) -> tuple[Measure, Measure]:
    """The poll cycle on the default engine (SQLite), cold and warm, against the naive loop,
    each ``repeat`` times (medians), with where the cycle's time goes."""
    with tempfile.TemporaryDirectory() as tmp:
        cfg = write_config(Path(tmp), urls)
        print(f"poll: {description}")
        print(
            f"  {repeat} cold/warm cycles, each on a fresh data dir (this VM's speed varies run to run: medians below)"
        )
        colds, warms, naives = [], [], []
        url_file = Path(tmp) / "urls.json"
        url_file.write_text(json.dumps(urls))
        for r in range(repeat):
            cmd = poll_cmd(cfg, Path(tmp) / f"data{r}", "--timings")
            colds.append(measure(cmd))
            urllib.request.urlopen(control).read()
            # --force: failing feeds are retried too, as the naive loop does
            warms.append(measure([*cmd, "--force"]))
            line = f"  run {r + 1}: cold {colds[-1].wall:.1f} s, warm {warms[-1].wall:.1f} s"
            if not skip_naive:
                naives.append(measure([PY, "-c", NAIVE, str(url_file)]))
                line += f", naive {naives[-1].wall:.1f} s"
            print(line)
        cold, warm = median(colds), median(warms)
        naive = median(naives) if naives else None
        print("  cold:", cold.output.strip().splitlines()[-1])
        print("  warm:", warm.output.strip().splitlines()[-1])
        if naive:
            print("  naive:", naive.output.strip().splitlines()[-1])
        print("  where the time goes (seconds; fetch and store summed over feeds, parse and")
        print("  match CPU in the workers, workers_ready: the pool up, from the cycle's start):")
        print("    cold:", breakdown(colds))
        print("    warm:", breakdown(warms))
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
        cold_x, warm_x = naive.wall / cold.wall, naive.wall / warm.wall
        print(
            f"\n  targets: cold >= {targets[0]:g}x ({cold_x:.1f}x), warm >= {targets[1]:g}x "
            f"({warm_x:.1f}x), peak < 250 MB ({max(cold.peak_mb, warm.peak_mb):.0f} MB)"
        )
    return cold, warm


def bench_storage(
    urls: list[str], control: str, repeat: int, sqlite: tuple[Measure, Measure] | None
) -> None:
    """The same cycle on PostgreSQL (a local server from the pgserver wheel), by one replica
    and by two replicas sharing the feeds (``poll --once --due-only`` in each, at once)."""
    try:
        import pgserver  # type: ignore[import-untyped]
        import psycopg
    except ImportError:
        print("\nstorage: PostgreSQL bench skipped (install the dev extras: pgserver)")
        return
    print(
        f"\nstorage: the {len(urls)}-feed cycle on PostgreSQL 16 (local, Unix socket), median of {repeat}"
    )
    with tempfile.TemporaryDirectory() as tmp:
        server = pgserver.get_server(Path(tmp) / "pg", cleanup_mode="stop")
        try:
            rows: list[tuple[str, Measure, Measure]] = []
            if sqlite:
                rows.append(("SQLite, 1 process", *sqlite))
            for replicas in (1, 2):
                colds, warms = [], []
                for r in range(repeat):
                    name = f"bench_{replicas}_{r}"
                    with psycopg.connect(server.get_uri(), autocommit=True) as conn:
                        conn.execute(f"CREATE DATABASE {name}")
                    url = server.get_uri(name)
                    cfg = write_config(Path(tmp) / name, urls, f"database_url: {url}\n")
                    cmds = [
                        poll_cmd(cfg, Path(tmp) / name / f"data{n}", "--due-only", "--force")
                        for n in range(replicas)
                    ]
                    colds.append(measure_together(cmds))
                    urllib.request.urlopen(control).read()
                    # every feed due again, as after its interval
                    with psycopg.connect(url, autocommit=True) as conn:
                        conn.execute("UPDATE feeds SET next_poll = now() - interval '1 second'")
                    warms.append(measure_together(cmds))
                    print(
                        f"  {replicas} replica(s), run {r + 1}: cold {colds[-1].wall:.1f} s, warm {warms[-1].wall:.1f} s"
                    )
                    if r == 0:  # how the replicas shared the feeds
                        for line in colds[-1].output.splitlines():
                            if line.startswith("total:"):
                                print("    cold,", line)
                label = "PostgreSQL, 1 replica" if replicas == 1 else "PostgreSQL, 2 replicas"
                rows.append((label, median(colds), median(warms)))
        finally:
            server.cleanup()
    print(
        f"\n  {'':<24}{'cold wall s':>12}{'CPU s':>8}{'peak MB':>9}{'warm wall s':>13}{'CPU s':>8}{'peak MB':>9}"
    )
    for label, cold, warm in rows:
        print(
            f"  {label:<24}{cold.wall:>12.2f}{cold.cpu:>8.1f}{cold.peak_mb:>9.0f}{warm.wall:>13.2f}{warm.cpu:>8.1f}{warm.peak_mb:>9.0f}"
        )
    print(
        "  (PostgreSQL's own server process is not in the peak: it is the database you already run)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--feeds", type=int, default=1000)
    parser.add_argument("--hosts", type=int, default=20)
    parser.add_argument("--skip-naive", action="store_true", help="skip the ~2 minute naive loop")
    parser.add_argument("--repeat", type=int, default=3, help="cold/warm cycles (median reported)")
    parser.add_argument(
        "--only", choices=["poll", "latency", "storage", "match", "digest", "fulltext"]
    )
    args = parser.parse_args()
    if args.only in (None, "latency"):
        # the latency-bound farm: few feeds per host, every answer 50-200 ms away
        with feed_farm(300, 30, (50, 200)) as (urls, control):
            bench_poll(
                urls,
                control,
                "300 feeds of ~50 items on 30 loopback hosts (10 each), every answer after "
                "50-200 ms, 70% with ETag",
                args.skip_naive,
                args.repeat,
                (8, 20),
            )
        print()
    if args.only in (None, "poll", "storage"):
        with feed_farm(args.feeds, args.hosts) as (urls, control):
            sqlite = None
            if args.only != "storage":
                sqlite = bench_poll(
                    urls,
                    control,
                    f"{len(urls)} feeds of ~50 items on {args.hosts} loopback hosts; 5% slow "
                    "(1-2 s), 2% failing, 70% with ETag",
                    args.skip_naive,
                    args.repeat,
                    (8, 25),
                )
            if args.only in (None, "storage"):
                bench_storage(urls, control, args.repeat, sqlite)
    if args.only in (None, "match"):
        try:
            from bench import match_bench
        except ImportError:
            print("\nmatch: not built yet")
        else:
            match_bench.main()
    if args.only in (None, "fulltext"):
        from bench import extract_compare, fulltext_cost, fulltext_gate

        print()
        fulltext_gate.main()
        print()
        fulltext_cost.main()
        print()
        extract_compare.main()
    if args.only in (None, "digest"):
        from bench import digest_bench

        print()
        digest_bench.run()


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    main()
