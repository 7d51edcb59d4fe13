"""Running the workflow from tests: the Snakemake CLI in a subprocess, as users run it."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import yaml

REPO = Path(__file__).resolve().parents[1]


def start_run(workdir: Path, *args: str) -> subprocess.Popen:
    """`snakemake all_results *args` in the background, in its own process
    group as a shell runs it; its output goes to driver-<time>.log."""
    cmd = [sys.executable, "-m", "snakemake", "--snakefile", str(REPO / "Snakefile"),
           "--directory", str(workdir), "all_results", *args]
    log = open(workdir / f"driver-{time.time_ns()}.log", "w")
    return subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)


def wait_for(condition, what: str, run: subprocess.Popen | None = None, timeout: float = 600) -> None:
    """Poll ``condition`` until true; fail if ``run`` ends first or time runs out."""
    deadline = time.monotonic() + timeout
    while not condition():
        if run is not None and run.poll() is not None:
            raise AssertionError(f"the run ended (rc {run.returncode}) before {what}")
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.2)


def kill_when(run: subprocess.Popen, condition, sig: signal.Signals, what: str) -> None:
    """Send ``sig`` to the run's process group once ``condition`` holds."""
    wait_for(condition, what, run)
    os.killpg(run.pid, sig)
    run.wait(timeout=120)


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


SMALL_SAE = {"name": "topk-w64-k4", "layer": 2, "architecture": "topk", "width": 64, "k": 4,
             "batch_size": 128, "lr": 0.003, "dead_tokens": 2000, "checkpoint_every": 20}


def small_config(model_dir: Path, sae_steps: int = 400) -> dict:
    """One model, two word datasets, a TopK SAE and two settings: about 30 jobs."""
    return {
        "datasets": {"reference": [], "user_csv_dir": "data", "max_rows": 150},
        "models": {"tiny": {"source": str(model_dir), "layers": [1, 2], "batch_size": 16,
                            "saes": [{**SMALL_SAE, "steps": sae_steps}]}},
        "probes": {"settings": {
            "normal": {"ks": [1, 4], "baselines": ["logreg_l2", "ridge"]},
            "label_noise": {"grid": [0.0, 0.3], "ks": [4]},
            "scarcity": {"enabled": False},
            "imbalance": {"enabled": False},
            "ood": {"enabled": False},
        }},
    }


def make_small_workdir(path: Path, config: dict) -> Path:
    (path / "data").mkdir(parents=True)
    write_word_dataset(path / "data" / "words_a.csv", 160, range(1, 4), range(100, 103), seed=1)
    write_word_dataset(path / "data" / "words_b.csv", 160, range(200, 203), range(300, 303), seed=2)
    write_config(path, config)
    return path


def result_tables(workdir: Path, model: str = "tiny") -> dict[str, pd.DataFrame]:
    """Every table of a model's results, rows in a fixed order."""
    tables = {}
    for path in sorted((workdir / f"results/{model}/tables").iterdir()):
        table = pd.read_parquet(path) if path.suffix == ".parquet" else pd.read_csv(path)
        tables[path.name] = table.sort_values(list(table.columns[:8])).reset_index(drop=True)
    return tables


def differing_results(first: Path, second: Path) -> list[str]:
    """The files under ``results/`` of two run folders that are not identical,
    as the README defines it: tables equal by value, figures by pixels,
    everything else byte for byte (a file in one run only differs too)."""
    from matplotlib.image import imread

    def files(run):
        return {p.relative_to(run) for p in (run / "results").rglob("*") if p.is_file()}

    differing = sorted(str(p) for p in files(first) ^ files(second))
    for path in sorted(files(first) & files(second)):
        a, b = first / path, second / path
        if path.suffix == ".parquet":
            same = pd.read_parquet(a).equals(pd.read_parquet(b))
        elif path.suffix == ".csv":
            same = pd.read_csv(a).equals(pd.read_csv(b))
        elif path.suffix == ".png":
            same = (imread(a).shape == imread(b).shape) and bool((imread(a) == imread(b)).all())
        else:
            same = a.read_bytes() == b.read_bytes()
        if not same:
            differing.append(str(path))
    return differing
