from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from saeprobe.datasets import (
    DatasetError, DatasetSource, duplicate_rows, load_dataset, read_corpus_texts, reference_catalog, reference_ood_files,
    rejected_datasets, resolve_sources, safe_name, stratified_subsample,
)


def write_csv(path: Path, texts, labels, text_col="prompt", label_col="target") -> DatasetSource:
    pd.DataFrame({text_col: texts, label_col: labels}).to_csv(path, index=False)
    return DatasetSource(path.stem, path, "prompt", "target")


def balanced(n=200):
    return [f"example {i}" for i in range(n)], ["yes", "no"] * (n // 2)


def test_safe_names_of_the_reference_names_with_spaces():
    assert safe_name("131_temp_cat_Typical Time") == "131_temp_cat_Typical_Time"
    assert safe_name("145_disease_class_digestive system diseases") == "145_disease_class_digestive_system_diseases"
    assert safe_name("5_hist_fig_ismale") == "5_hist_fig_ismale"


def test_reference_catalog_has_the_113_binary_datasets():
    catalog = reference_catalog()
    assert len(catalog) == 113
    assert catalog["name"].is_unique
    assert all(" " not in n for n in catalog["name"])
    # sae-probes 0.4.2 ships 7 file names with spaces (131, 132, 145-147, 151, 153).
    assert sum(" " in t for t in catalog["tag"]) == 7
    assert all(Path(f).is_file() for f in catalog["file"])
    assert len(reference_ood_files()) == 8


def test_every_reference_dataset_passes_the_checks():
    # rejected_datasets trusts the shipped datasets; this is why it may.
    sources = resolve_sources("all", None, "prompt", "target")
    assert all(s.shipped for s in sources.values())
    for source in sources.values():
        load_dataset(source)
    assert rejected_datasets(sources).empty


def test_resolve_all_and_either_spelling():
    assert len(resolve_sources("all", None, "prompt", "target")) == 113
    sources = resolve_sources(["131_temp_cat_Typical Time", "5_hist_fig_ismale"], None, "prompt", "target")
    assert list(sources) == ["131_temp_cat_Typical_Time", "5_hist_fig_ismale"]
    with pytest.raises(DatasetError, match="unknown reference dataset"):
        resolve_sources(["not_a_dataset"], None, "prompt", "target")


def test_reference_dataset_labels_follow_label_encoder_order():
    source = resolve_sources(["65_high-school"], None, "prompt", "target")["65_high-school"]
    frame = load_dataset(source)
    assert len(frame) == 3200
    # LabelEncoder sorts classes: 'bigram' -> 0, 'not_bigram' -> 1
    assert set(zip(frame["label_name"], frame["label"])) == {("bigram", 0), ("not_bigram", 1)}
    assert frame["label"].mean() == 0.5
    assert {"text", "label", "label_name", "source_row", "dataset", "source_file", "source_link"} <= set(frame.columns)


def test_user_csv_folder(tmp_path):
    write_csv(tmp_path / "my data.csv", *balanced())
    sources = resolve_sources([], str(tmp_path), "prompt", "target")
    assert list(sources) == ["my_data"]
    frame = load_dataset(sources["my_data"])
    assert frame["label"].tolist()[:2] == [1, 0]  # 'no' < 'yes'


def test_na_like_values_are_data(tmp_path):
    texts = ["None", "null", "NA", "nan", "N/A", "#N/A"] + [f"example {i}" for i in range(194)]
    labels = ["NA", "EU"] * 100  # North America against Europe
    frame = load_dataset(write_csv(tmp_path / "regions.csv", texts, labels))
    assert frame["text"].tolist()[:6] == texts[:6]
    assert frame["label_name"].tolist()[:2] == ["NA", "EU"] and set(frame["label_name"]) == {"NA", "EU"}
    # An empty field is still missing.
    with pytest.raises(DatasetError, match="1 row"):
        load_dataset(write_csv(tmp_path / "holes.csv", texts, labels[:-1] + [""]))


def test_compressed_and_upper_case_csvs_are_read(tmp_path):
    texts, labels = balanced()
    frame = pd.DataFrame({"prompt": texts, "target": labels})
    frame.to_csv(tmp_path / "plain.CSV", index=False)
    frame.to_csv(tmp_path / "gz.csv.gz", index=False)
    frame.to_csv(tmp_path / "zst.Csv.Zst", index=False)
    (tmp_path / ".DS_Store").write_bytes(b"\0")
    (tmp_path / "drafts").mkdir()
    sources = resolve_sources([], str(tmp_path), "prompt", "target")
    assert list(sources) == ["gz", "plain", "zst"]
    for source in sources.values():
        assert load_dataset(source)["text"].tolist() == texts


def test_user_folder_files_are_read_or_named(tmp_path):
    with pytest.raises(DatasetError, match="holds no CSV file"):
        resolve_sources([], str(tmp_path), "prompt", "target")
    write_csv(tmp_path / "good.csv", *balanced())
    (tmp_path / "notes.txt").write_text("to do")
    (tmp_path / "old.parquet").write_bytes(b"PAR1")
    with pytest.raises(DatasetError, match=r"not CSV: \['notes.txt', 'old.parquet'\]"):
        resolve_sources([], str(tmp_path), "prompt", "target")


@pytest.mark.parametrize("content, message", [
    (b"", "the file is empty"),
    (b"prompt,target\n", r"the header \['prompt', 'target'\] has no data rows"),
    (b"prompt,target,prompt\na,b,c\n", r"column name\(s\) \['prompt'\] appear more than once"),
    (b"\x1f\x8b\x08garbage", "not a readable CSV"),
])
def test_files_that_hold_no_dataset_say_why(tmp_path, content, message):
    path = tmp_path / ("bad.csv.gz" if content.startswith(b"\x1f") else "bad.csv")
    path.write_bytes(content)
    with pytest.raises(DatasetError, match=message) as err:
        load_dataset(DatasetSource("bad", path, "prompt", "target"))
    assert str(path) in str(err.value)


def test_missing_user_folder_is_named(tmp_path):
    with pytest.raises(DatasetError, match="not a folder"):
        resolve_sources([], str(tmp_path / "nope"), "prompt", "target")


@pytest.mark.parametrize(
    "texts, labels, message",
    [
        (balanced()[0], ["a"] * 200, "exactly two classes"),
        (balanced()[0], ["a", "b", "c", "d"] * 50, "exactly two classes"),
        (balanced()[0][:-1] + [None], balanced()[1], "empty or NaN text"),
        (balanced()[0][:-1] + ["   "], balanced()[1], "empty or NaN text"),
        (balanced(100)[0], balanced(100)[1], "too few rows"),
        (balanced()[0], ["a"] * 195 + ["b"] * 5, "too few rows"),
        (balanced()[0], balanced()[1][:-1] + [None], "missing label"),
    ],
)
def test_malformed_datasets_name_file_and_problem(tmp_path, texts, labels, message):
    source = write_csv(tmp_path / "bad.csv", texts, labels)
    with pytest.raises(DatasetError, match=message) as err:
        load_dataset(source)
    assert str(tmp_path / "bad.csv") in str(err.value)


def test_missing_column_names_the_columns(tmp_path):
    path = tmp_path / "bad.csv"
    pd.DataFrame({"sentence": balanced()[0], "target": balanced()[1]}).to_csv(path, index=False)
    with pytest.raises(DatasetError, match=r"missing column\(s\) \['prompt'\]; found \['sentence', 'target'\]"):
        load_dataset(DatasetSource("bad", path, "prompt", "target"))


def test_rejected_datasets_list_each_failing_file_with_its_reason(tmp_path):
    sources = {
        "good": write_csv(tmp_path / "good.csv", *balanced()),
        "one_class": write_csv(tmp_path / "one_class.csv", balanced()[0], ["a"] * 200),
        "no_target": write_csv(tmp_path / "no_target.csv", *balanced(), label_col="label"),
    }
    rejected = rejected_datasets(sources)
    assert rejected.columns.tolist() == ["dataset", "file", "reason"]
    assert rejected["dataset"].tolist() == ["one_class", "no_target"]
    assert rejected["file"].tolist() == [str(tmp_path / "one_class.csv"), str(tmp_path / "no_target.csv")]
    assert "exactly two classes" in rejected["reason"][0] and "missing column(s) ['target']" in rejected["reason"][1]
    # The reason is preparation's own message.
    with pytest.raises(DatasetError) as err:
        load_dataset(sources["no_target"])
    assert str(err.value) == rejected["reason"][1]
    assert rejected_datasets({"good": sources["good"]}).empty


def test_unreadable_csv(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(DatasetError, match="bad.csv"):
        load_dataset(DatasetSource("bad", path, "prompt", "target"))


def test_stratified_subsample_keeps_balance_and_is_seeded():
    frame = pd.DataFrame({"label": np.array([0] * 700 + [1] * 300), "text": "x"})
    sub = stratified_subsample(frame, 100, seed=1)
    assert len(sub) == 100 and sub["label"].sum() == 30
    assert sub.equals(stratified_subsample(frame, 100, seed=1))


def test_read_corpus_texts(tmp_path):
    (tmp_path / "c.txt").write_text("first doc\n\nsecond doc\n")
    assert read_corpus_texts(tmp_path / "c.txt") == ["first doc", "second doc"]
    pd.DataFrame({"body": ["x"]}).to_csv(tmp_path / "c.csv", index=False)
    with pytest.raises(DatasetError, match="'text' column"):
        read_corpus_texts(tmp_path / "c.csv")
    (tmp_path / "c.csv.bz2").write_bytes(b"")
    with pytest.raises(DatasetError, match="must be .txt, .csv, .parquet or .jsonl"):
        read_corpus_texts(tmp_path / "c.csv.bz2")


def test_corpus_texts_come_compressed_as_jsonl_or_from_a_hub_dataset(tmp_path, monkeypatch):
    import gzip

    import huggingface_hub.constants
    import zstandard

    from saeprobe.datasets import local_text_source

    lines = b'{"text": "a document", "meta": 1}\n{"text": "  "}\n{"text": "another"}\n'
    (tmp_path / "c.jsonl.zst").write_bytes(zstandard.ZstdCompressor().compress(lines))
    assert read_corpus_texts(tmp_path / "c.jsonl.zst") == ["a document", "another"]
    (tmp_path / "c.txt.gz").write_bytes(gzip.compress(b"one\ntwo\n"))
    assert read_corpus_texts(tmp_path / "c.txt.gz") == ["one", "two"]
    # A file of a hub dataset, already in the hub cache: read offline.
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    repo = tmp_path / "hub" / "datasets--org--corpus"
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text("0" * 40)
    (repo / "snapshots" / ("0" * 40) / "data").mkdir(parents=True)
    pd.DataFrame({"text": ["from", "the hub"]}).to_parquet(repo / "snapshots" / ("0" * 40) / "data" / "train.parquet")
    source = "hf://datasets/org/corpus/data/train.parquet"
    assert local_text_source(source) == [] and local_text_source("c.txt") == ["c.txt"]
    assert read_corpus_texts(source) == ["from", "the hub"]
    with pytest.raises(DatasetError, match="could not download hf://datasets/org/corpus/missing.parquet"):
        read_corpus_texts("hf://datasets/org/corpus/missing.parquet")
    with pytest.raises(DatasetError, match="hf://datasets/<owner>/<name>/<file in the repo>"):
        read_corpus_texts("hf://datasets/org")


def test_duplicate_rows_are_counted_and_dropped_on_request(tmp_path):
    texts, labels = balanced()
    texts[1], labels[1] = texts[0], labels[0]  # an exact duplicate
    texts[3] = texts[2]  # the same text under the other label
    source = write_csv(tmp_path / "dupes.csv", texts, labels)
    kept = load_dataset(source)
    assert len(kept) == 200 and duplicate_rows(kept) == {"repeated_text": 2, "texts_with_both_labels": 1}
    dropped = load_dataset(source, drop_duplicates=True)
    assert len(dropped) == 199 and dropped["source_row"].tolist()[:3] == [0, 2, 3]
    assert duplicate_rows(dropped) == {"repeated_text": 1, "texts_with_both_labels": 1}
