import numpy as np
import pandas as pd
import pytest

from saeprobe.atomic import atomic_path, save_array, write_json, write_table


def test_failed_write_leaves_no_file(tmp_path):
    target = tmp_path / "out.parquet"
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            tmp.write_bytes(b"partial")
            raise RuntimeError("killed")
    assert list(tmp_path.iterdir()) == []


def test_writers_round_trip(tmp_path):
    save_array(tmp_path / "a.npy", np.arange(6).reshape(2, 3))
    assert np.load(tmp_path / "a.npy").tolist() == [[0, 1, 2], [3, 4, 5]]
    write_json(tmp_path / "m.json", {"x": np.float32(1.5)})
    assert (tmp_path / "m.json").read_text().strip() == '{\n  "x": 1.5\n}'
    frame = pd.DataFrame({"a": [1, 2]})
    write_table(tmp_path / "t.parquet", frame)
    write_table(tmp_path / "t.csv", frame)
    assert pd.read_parquet(tmp_path / "t.parquet").equals(pd.read_csv(tmp_path / "t.csv"))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.npy", "m.json", "t.csv", "t.parquet"]
