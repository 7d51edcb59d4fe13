"""Running the workflow from tests: the Snakemake CLI in a subprocess, as users run it."""

from __future__ import annotations

import random
import subprocess
import sys
from pathlib import Path

import pandas as pd
import yaml

REPO = Path(__file__).resolve().parents[1]


def snakemake(workdir: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "snakemake", "--snakefile", str(REPO / "Snakefile"),
           "--directory", str(workdir), "--cores", "2", *args]
    result = subprocess.run(cmd, capture_output=True, text=True)
    if check and result.returncode != 0:
        raise AssertionError(f"snakemake {' '.join(args)} failed:\n{result.stdout[-3000:]}\n{result.stderr[-6000:]}")
    return result


def write_config(workdir: Path, config: dict) -> None:
    (workdir / "config").mkdir(parents=True, exist_ok=True)
    (workdir / "config" / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))


def write_word_dataset(path: Path, n_rows: int, positive_words: range, negative_words: range, seed: int) -> None:
    """A CSV whose class is told by which word range a prompt's last word is
    drawn from, after shared filler words: the signal sits at the probed
    (last) token, so even a random model's activations separate the classes."""
    rng = random.Random(seed)
    rows = []
    for i in range(n_rows):
        label = i % 2
        words = positive_words if label else negative_words
        tokens = [f"w{rng.randrange(600, 990)}" for _ in range(rng.randint(1, 6))]
        tokens.append(f"w{rng.choice(words)}")
        rows.append({"prompt": " ".join(tokens), "target": "pos" if label else "neg"})
    pd.DataFrame(rows).to_csv(path, index=False)


def job_counts(workdir: Path, *targets: str) -> dict[str, int]:
    """Rule -> number of jobs a run of ``targets`` would execute (dry run)."""
    out = snakemake(workdir, "-n", *targets, "--quiet", "rules").stdout
    counts = {}
    in_table = False
    for line in out.splitlines():
        parts = line.split()
        if parts[:2] == ["job", "count"]:
            in_table = True
        elif in_table and len(parts) == 2 and parts[1].isdigit():
            counts[parts[0]] = int(parts[1])
        elif in_table and counts and not parts:
            break
    counts.pop("total", None)
    return counts
