"""Probing datasets: the SAE-Probes reference sets and user CSV folders.

Every dataset is normalised to one parquet table with the columns

    text        the prompt fed to the model
    label       int64, 0/1, classes sorted as sklearn's LabelEncoder sorts them
    label_name  the original class value, as a string
    source_row  row number in the source file
    dataset     the path-safe dataset name
    source_file where the rows came from (provenance)
    source_link upstream origin of the data, where the reference lists one

The reference data ship in the PyPI wheel ``sae-probes`` (MIT). It is installed
with ``--no-deps`` and only its data files are read; the package is never
imported (its own dependencies are heavy and conflict with ours).
"""

from __future__ import annotations

import importlib.util
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd

from saeprobe.splits import MIN_TRAIN_ROWS, NORMAL_TEST_RESERVE

REFERENCE_PACKAGE = "sae_probes"
REFERENCE_INSTALL_HINT = "pip install --no-deps sae-probes==0.4.2"
# Smallest dataset the normal split can use: the reserved test rows plus a
# minimal training set (see saeprobe.splits).
MIN_ROWS = NORMAL_TEST_RESERVE + MIN_TRAIN_ROWS
MIN_ROWS_PER_CLASS = 10

_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]+")


class DatasetError(ValueError):
    """A dataset file that cannot be used; the message names the file and the fix."""


def safe_name(name: str) -> str:
    """Make a dataset name safe for file paths and wildcards.

    Nine reference names contain spaces (e.g. ``131_temp_cat_Typical Time``);
    runs of characters outside ``[A-Za-z0-9_.-]`` become one underscore.
    """
    cleaned = _UNSAFE.sub("_", name.strip()).strip("_")
    if not cleaned:
        raise ValueError(f"dataset name {name!r} has no path-safe characters")
    return cleaned


# ---------------------------------------------------------------------------
# Locating the data
# ---------------------------------------------------------------------------


@lru_cache(maxsize=1)
def reference_data_dir() -> Path:
    """The ``data`` folder of the installed ``sae-probes`` wheel (not imported)."""
    spec = importlib.util.find_spec(REFERENCE_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise DatasetError(
            f"the reference datasets need the PyPI package 'sae-probes'; install it with "
            f"`{REFERENCE_INSTALL_HINT}` (or `make setup`)"
        )
    data_dir = Path(next(iter(spec.submodule_search_locations))) / "data"
    if not (data_dir / "cleaned_data").is_dir():
        raise DatasetError(f"{data_dir}: no cleaned_data/ folder; reinstall with `{REFERENCE_INSTALL_HINT}`")
    return data_dir


def reference_master_path() -> Path:
    return reference_data_dir() / "probing_datasets_MASTER.csv.zst"


@lru_cache(maxsize=1)
def reference_catalog() -> pd.DataFrame:
    """The master CSV's binary datasets: one row per dataset, path-safe names.

    Columns: ``name``, ``tag`` (reference file stem), ``source``, ``link``,
    ``data_type``, ``file`` (absolute path of the ``.csv.zst``).
    """
    master = pd.read_csv(reference_master_path())
    # The spreadsheet fills Source and Link only on the first row of a group.
    master[["Source", "Link"]] = master[["Source", "Link"]].ffill()
    binary = master[master["Data type"] == "Binary Classification"]
    tags = binary["Dataset save name"].map(lambda p: Path(p).stem)
    catalog = pd.DataFrame(
        {
            "name": [safe_name(t) for t in tags],
            "tag": tags.to_numpy(),
            "source": binary["Source"].fillna("").astype(str).to_numpy(),
            "link": binary["Link"].fillna("").astype(str).to_numpy(),
            "data_type": binary["Data type"].to_numpy(),
            "file": [str(reference_data_dir() / "cleaned_data" / f"{t}.csv.zst") for t in tags],
        }
    )
    _check_unique(catalog["name"], "reference datasets")
    return catalog.reset_index(drop=True)


def reference_ood_files() -> dict[str, Path]:
    """Map of path-safe in-distribution name -> OOD ``.csv.zst`` file."""
    folder = reference_data_dir() / "OOD data"
    suffix = "_OOD.csv.zst"
    return {
        safe_name(f.name[: -len(suffix)]): f for f in sorted(folder.glob(f"*{suffix}"))
    }


@dataclass(frozen=True)
class DatasetSource:
    """Where one dataset's rows come from and how to read them."""

    name: str
    file: Path
    text_column: str
    label_column: str
    link: str = ""
    shipped: bool = False
    """A reference dataset of the pinned sae-probes wheel (known to pass every check)."""


def resolve_sources(
    reference: list[str] | str,
    user_csv_dir: str | None,
    text_column: str,
    label_column: str,
) -> dict[str, DatasetSource]:
    """All configured datasets, keyed by path-safe name, in config order.

    ``reference`` is a list of reference names (either spelling) or ``"all"``.
    Each CSV in ``user_csv_dir`` is a dataset named after its file stem.
    """
    sources: dict[str, DatasetSource] = {}
    if reference:
        catalog = reference_catalog().set_index("name")
        wanted = catalog.index.tolist() if reference == "all" else [safe_name(r) for r in reference]
        unknown = [w for w in wanted if w not in catalog.index]
        if unknown:
            raise DatasetError(
                f"unknown reference dataset(s) {unknown} in config 'datasets.reference'; "
                f"names look like '5_hist_fig_ismale' (see `saeprobe.datasets.reference_catalog()`)"
            )
        for name in wanted:
            row = catalog.loc[name]
            sources[name] = DatasetSource(name, Path(row["file"]), "prompt", "target", row["link"], shipped=True)
    if user_csv_dir:
        folder = Path(user_csv_dir)
        if not folder.is_dir():
            raise DatasetError(
                f"config 'datasets.user_csv_dir' is {str(folder)!r}, which is not a folder; "
                f"point it at a folder of CSV files or set it to null"
            )
        csv_files = user_csv_files(folder)
        if not csv_files:
            raise DatasetError(
                f"config 'datasets.user_csv_dir': {folder} holds no CSV file ({', '.join(CSV_SUFFIXES)}, "
                f"any case); add some or set it to null"
            )
        for file in csv_files:
            name = safe_name(csv_stem(file))
            if name in sources:
                raise DatasetError(
                    f"{file}: its name {name!r} clashes with another configured dataset; rename the file"
                )
            sources[name] = DatasetSource(name, file, text_column, label_column, str(file))
    return sources


CSV_SUFFIXES = (".csv", ".csv.gz", ".csv.bz2", ".csv.xz", ".csv.zst")
"""What a user dataset file may be called (any case): CSV, plain or compressed."""


def csv_stem(file: Path) -> str:
    """The file name without its CSV suffix: ``a.csv.gz`` -> ``a``."""
    name = file.name
    suffix = next(s for s in CSV_SUFFIXES[::-1] if name.lower().endswith(s))
    return name[: -len(suffix)]


def user_csv_files(folder: Path) -> list[Path]:
    """The CSV files of a user folder, sorted. Any other file is an error that
    names it: a dataset left out without a word would be a silent hole in
    the results. Hidden files (``.DS_Store``) and subfolders are left alone."""
    files, strangers = [], []
    for entry in sorted(folder.iterdir()):
        if entry.name.startswith(".") or entry.is_dir():
            continue
        (files if entry.name.lower().endswith(CSV_SUFFIXES) else strangers).append(entry)
    if strangers:
        raise DatasetError(
            f"config 'datasets.user_csv_dir': {folder} holds file(s) that are not CSV: "
            f"{[f.name for f in strangers]}; every file there is read as a dataset, so move them out "
            f"(datasets must end in {', '.join(CSV_SUFFIXES)}, any case)"
        )
    return files


# ---------------------------------------------------------------------------
# Normalising
# ---------------------------------------------------------------------------


def load_dataset(source: DatasetSource, max_rows: int | None = None, seed: int = 42,
                 drop_duplicates: bool = False) -> pd.DataFrame:
    """Read, validate and normalise one dataset (see the module docstring).

    ``drop_duplicates`` drops each row whose text and label repeat an earlier
    row's, before anything else (the reference keeps them, and so does the
    default). ``max_rows`` keeps a class-stratified random subset, so a
    small local run keeps each dataset's class balance.
    """
    frame = normalise(read_csv_exactly(source.file), source)
    if drop_duplicates:
        frame = frame[~frame.duplicated(["text", "label"])].reset_index(drop=True)
    if max_rows is not None and len(frame) > max_rows:
        frame = stratified_subsample(frame, max_rows, seed)
    return frame


REJECTED_COLUMNS = ("dataset", "file", "reason")
"""The table of datasets that failed their checks (``paths.rejected_datasets_table``)."""


def rejected_datasets(sources: dict[str, DatasetSource], drop_duplicates: bool = False) -> pd.DataFrame:
    """The datasets that cannot be prepared, with the reason for each.

    The check is the preparation itself (``load_dataset``), so each dataset
    listed here fails its own job with the same message. The workflow runs
    it when it is parsed, to leave these datasets out of everything that is
    shared (SAE corpora, tables, figures) and go on with the others. Shipped
    reference datasets are not read again: every parse (each cluster job's
    too) would spend seconds on the 113, and tests/test_datasets.py checks
    them all against the pinned wheel.
    """
    rows = []
    for name, source in sources.items():
        if source.shipped:
            continue
        try:
            load_dataset(source, drop_duplicates=drop_duplicates)
        except DatasetError as err:
            rows.append((name, str(source.file), str(err)))
    return pd.DataFrame(rows, columns=list(REJECTED_COLUMNS))


def read_csv_exactly(file: Path) -> pd.DataFrame:
    """A CSV file as written: only an empty field is missing.

    pandas would also read ``NA``, ``None``, ``null``, ``nan`` and a dozen
    other strings as missing, turning a label ``NA`` (North America) or a
    prompt ``None`` into holes; and it would rename a second column of the
    same name ``name.1``. Both would be data read wrong, so neither happens.
    Compression follows the suffix (gzip, bz2, xz, zstd)."""
    try:
        header = pd.read_csv(file, header=None, nrows=1, dtype=str, keep_default_na=False)
        raw = pd.read_csv(file, keep_default_na=False, na_values=[""])
    except FileNotFoundError:
        raise DatasetError(f"{file}: file not found") from None
    except pd.errors.EmptyDataError:
        raise DatasetError(f"{file}: the file is empty; a dataset needs a header row and data rows") from None
    except (pd.errors.ParserError, UnicodeDecodeError, OSError, EOFError) as err:
        raise DatasetError(f"{file}: not a readable CSV ({err})") from None
    names = header.iloc[0].tolist() if len(header) else []
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise DatasetError(f"{file}: column name(s) {repeated} appear more than once in the header; "
                           f"rename them so each column has its own name")
    if raw.empty:
        raise DatasetError(f"{file}: the header {list(raw.columns)} has no data rows under it")
    return raw


def normalise(raw: pd.DataFrame, source: DatasetSource) -> pd.DataFrame:
    file = source.file
    missing = [c for c in (source.text_column, source.label_column) if c not in raw.columns]
    if missing:
        raise DatasetError(
            f"{file}: missing column(s) {missing}; found {list(raw.columns)}. "
            f"Set 'datasets.text_column' / 'datasets.label_column' in the config to the right names"
        )
    text = raw[source.text_column]
    labels = raw[source.label_column]
    bad_text = text.isna() | (text.astype(str).str.strip() == "")
    if bad_text.any():
        rows = np.flatnonzero(bad_text.to_numpy())
        raise DatasetError(
            f"{file}: {len(rows)} row(s) with empty or NaN text in column {source.text_column!r} "
            f"(first data rows: {rows[:5].tolist()}); remove or fill them"
        )
    if labels.isna().any():
        rows = np.flatnonzero(labels.isna().to_numpy())
        raise DatasetError(
            f"{file}: {len(rows)} row(s) with a missing label in column {source.label_column!r} "
            f"(first data rows: {rows[:5].tolist()})"
        )
    # LabelEncoder semantics: classes are np.unique of the values, i.e. sorted.
    classes, codes = np.unique(labels.to_numpy(dtype=object), return_inverse=True)
    if len(classes) != 2:
        raise DatasetError(
            f"{file}: binary probing needs exactly two classes in {source.label_column!r}, "
            f"found {len(classes)}: {[str(c) for c in classes[:5]]}"
        )
    counts = np.bincount(codes, minlength=2)
    if len(raw) < MIN_ROWS or counts.min() < MIN_ROWS_PER_CLASS:
        raise DatasetError(
            f"{file}: too few rows for the train/test split ({len(raw)} rows, class counts "
            f"{counts.tolist()}); it needs at least {MIN_ROWS} rows and "
            f"{MIN_ROWS_PER_CLASS} per class"
        )
    return pd.DataFrame(
        {
            "text": text.astype(str).to_numpy(),
            "label": codes.astype(np.int64),
            "label_name": np.asarray([str(c) for c in classes])[codes],
            "source_row": np.arange(len(raw), dtype=np.int64),
            "dataset": source.name,
            "source_file": str(file),
            "source_link": source.link,
        }
    )


def duplicate_rows(frame: pd.DataFrame) -> dict[str, int]:
    """Rows whose text repeats an earlier row's, and the texts that occur under both labels."""
    labels_per_text = frame.groupby("text")["label"].nunique()
    return {"repeated_text": int(frame["text"].duplicated().sum()),
            "texts_with_both_labels": int((labels_per_text > 1).sum())}


HUB_DATASET_PREFIX = "hf://datasets/"


def local_text_source(source: str) -> list[str]:
    """The input files of a corpus text source: the file itself, or none for a
    hub dataset file (``hf://datasets/<repo>/<file>``, downloaded by its job)."""
    return [] if source.startswith(HUB_DATASET_PREFIX) else [source]


def read_corpus_texts(source: str | Path) -> list[str]:
    """Documents of a corpus text source: a ``.txt`` file (one per line), a
    ``.csv``, ``.parquet`` or ``.jsonl`` file (optionally ``.zst`` or ``.gz``
    compressed) with a ``text`` column, or such a file of a Hugging Face
    dataset, ``hf://datasets/<owner>/<name>/<file>`` (downloaded once into the
    hub cache). Blank entries are skipped."""
    source = str(source)
    path = source_file(source)
    kind = "".join(path.suffixes[-2:]) if path.suffix in (".zst", ".gz") else path.suffix
    compression = {".zst": "zstd", ".gz": "gzip"}.get(path.suffix)
    if kind.startswith(".txt"):
        texts = _read_text(path, compression).splitlines()
    elif kind.startswith((".csv", ".parquet", ".jsonl")):
        if kind.startswith(".csv"):
            frame = read_csv_exactly(path)
        elif kind.startswith(".parquet"):
            frame = pd.read_parquet(path)
        else:
            frame = pd.read_json(path, lines=True, compression=compression)
        if "text" not in frame.columns:
            raise DatasetError(f"{source}: corpus files need a 'text' column; found {list(frame.columns)}")
        texts = frame["text"].dropna().astype(str).tolist()
    else:
        raise DatasetError(f"{source}: a corpus source must be .txt, .csv, .parquet or .jsonl (.zst or .gz)")
    return [t for t in texts if t.strip()]


def _read_text(path: Path, compression: str | None) -> str:
    if compression == "gzip":
        import gzip

        return gzip.decompress(path.read_bytes()).decode("utf-8")
    if compression == "zstd":
        import zstandard

        with open(path, "rb") as fh:
            return zstandard.ZstdDecompressor().stream_reader(fh).read().decode("utf-8")
    return path.read_text(encoding="utf-8")


def source_file(source: str | Path) -> Path:
    """The local file of a source: the file itself, or a hub dataset file
    (``hf://datasets/<owner>/<name>/<file>``) downloaded once into the hub cache."""
    source = str(source)
    if source.startswith(HUB_DATASET_PREFIX):
        return _download_dataset_file(source)
    path = Path(source)
    if not path.is_file():
        raise DatasetError(f"{path} not found; give a file, an hf://datasets/... file, or the stage's prompt source")
    return path


def _download_dataset_file(source: str) -> Path:
    from huggingface_hub import hf_hub_download

    parts = source[len(HUB_DATASET_PREFIX):].split("/", 2)
    if len(parts) < 3:
        raise DatasetError(f"{source}: a hub corpus is hf://datasets/<owner>/<name>/<file in the repo>")
    try:
        return Path(hf_hub_download(f"{parts[0]}/{parts[1]}", parts[2], repo_type="dataset"))
    except Exception as err:  # network, auth and missing-file errors all end here
        raise DatasetError(f"could not download {source} ({err}); check the names, log in with `hf auth login` "
                           f"for gated datasets, or give a local file") from None


def stratified_subsample(frame: pd.DataFrame, n_rows: int, seed: int) -> pd.DataFrame:
    """A seeded subset of ``n_rows`` rows with the class proportions kept, in source order."""
    rng = np.random.default_rng(seed)
    labels = frame["label"].to_numpy()
    keep = []
    for cls in (0, 1):
        members = np.flatnonzero(labels == cls)
        share = int(round(n_rows * len(members) / len(labels)))
        keep.append(rng.choice(members, size=min(share, len(members)), replace=False))
    return frame.iloc[np.sort(np.concatenate(keep))].reset_index(drop=True)


def _check_unique(names: pd.Series, what: str) -> None:
    dupes = names[names.duplicated()].tolist()
    if dupes:
        raise DatasetError(f"{what}: path-safe names collide: {dupes}")
