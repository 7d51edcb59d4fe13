"""Wall and CPU time per rule, from the Snakemake benchmark files of a run.

    .venv/bin/python benchmarks/rule_times.py [--logs logs] [--wall-seconds 1234]

Every job writes ``logs/<job>.bench.tsv`` (``saeprobe.paths.job_benchmark``):
its wall seconds ``s`` and the ``cpu_time`` of its processes, as Snakemake's
psutil sampler saw them. This sums them per rule and prints a Markdown table,
the rules that cost most CPU first. ``--wall-seconds`` (the run's own wall
time, e.g. from ``time make results``) adds the run's total beside the jobs'.

The sampler looks at a job's processes every few seconds, so it misses part
of a short job's CPU (its start-up, mostly); the ``s`` column does not.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd

from saeprobe.paths import rules_of_benchmark


def rule_times(log_dir: Path) -> pd.DataFrame:
    rows = []
    for path in sorted(log_dir.rglob("*.bench.tsv")):
        rules = rules_of_benchmark(path.relative_to(log_dir.parent).as_posix())
        if not rules:
            continue
        bench = pd.read_csv(path, sep="\t")
        rows.append({"rule": " / ".join(rules), "wall_s": bench["s"].sum(), "cpu_s": bench["cpu_time"].sum()})
    if not rows:
        raise SystemExit(f"no Snakemake benchmark files under {log_dir}; run the workflow first")
    jobs = pd.DataFrame(rows)
    table = jobs.groupby("rule").agg(jobs=("wall_s", "size"), wall_s=("wall_s", "sum"), cpu_s=("cpu_s", "sum"),
                                     mean_wall_s=("wall_s", "mean"), max_wall_s=("wall_s", "max"))
    table["cpu_share"] = table["cpu_s"] / table["cpu_s"].sum()
    return table.sort_values("cpu_s", ascending=False)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--logs", type=Path, default=Path("logs"))
    parser.add_argument("--wall-seconds", type=float, help="the whole run's wall time")
    args = parser.parse_args()
    table = rule_times(args.logs)
    print("| rule | jobs | wall s (sum) | CPU s (sum) | share of CPU | wall s per job (mean / max) |")
    print("|---|---|---|---|---|---|")
    for rule, row in table.iterrows():
        print(f"| `{rule}` | {int(row.jobs)} | {row.wall_s:,.0f} | {row.cpu_s:,.0f} | {row.cpu_share:.0%} "
              f"| {row.mean_wall_s:.1f} / {row.max_wall_s:.0f} |")
    total = f"| all | {table.jobs.sum()} | {table.wall_s.sum():,.0f} | {table.cpu_s.sum():,.0f} | | |"
    print(total)
    if args.wall_seconds:
        print(f"\nThe run took {args.wall_seconds:,.0f} s of wall time; its jobs' wall seconds sum to "
              f"{table.wall_s.sum():,.0f} ({table.wall_s.sum() / args.wall_seconds:.2f} jobs at a time on average).")


if __name__ == "__main__":
    main()
