"""The workflow run from a folder whose path has a space: the clone, its venv and the working directory."""

import site
import subprocess
import sys

import pandas as pd

from conftest import build_tiny_llama
from workflow_helpers import REPO, write_config, write_word_dataset


def venv_under(folder):
    """A venv at ``folder`` that sees this one's packages (a .pth file): its
    interpreter's path, ``sys.executable`` in every process it starts, has
    the space. Making it takes seconds, where installing takes minutes."""
    subprocess.run([sys._base_executable, "-m", "venv", "--without-pip", str(folder)], check=True)
    [site_packages] = (folder / "lib").glob("python3*/site-packages")
    (site_packages / "parent_venv.pth").write_text(f"import site; site.addsitedir({site.getsitepackages()[0]!r})\n")
    return folder / "bin" / "python"


def test_the_workflow_runs_under_a_path_with_a_space(tmp_path):
    home = tmp_path / "Jane Doe"
    home.mkdir()
    python = venv_under(home / "venv")
    (home / "saeprobe").symlink_to(REPO)
    work = home / "my run"
    (work / "data").mkdir(parents=True)
    write_word_dataset(work / "data" / "words.csv", 160, range(1, 4), range(100, 103), seed=1)
    model = build_tiny_llama(home / "tiny llama")
    write_config(work, {
        "datasets": {"reference": [], "user_csv_dir": "data"},
        "models": {"tiny": {"source": str(model), "layers": [1], "batch_size": 16}},
    })
    # Script jobs of three kinds: a dataset, the model, an extraction.
    result = subprocess.run(
        [str(python), "-m", "snakemake", "--snakefile", str(home / "saeprobe" / "Snakefile"), "--cores", "2",
         "results/tiny/activations/words"],
        cwd=work, capture_output=True, text=True,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert len(pd.read_parquet(work / "resources/datasets/words.parquet")) == 160
    assert (work / "results/tiny/activations/words/layer_1.npy").is_file()
