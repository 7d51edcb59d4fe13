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


@pytest.mark.parametrize("umask, mode", [(0o022, 0o644), (0o002, 0o664), (0o077, 0o600)])
def test_outputs_keep_the_umask(tmp_path, umask, mode):
    import os

    previous = os.umask(umask)
    try:
        write_json(tmp_path / "a.json", {"x": 1})
        write_table(tmp_path / "t.csv", pd.DataFrame({"x": [1]}))
        with open(tmp_path / "plain.txt", "w"):
            pass
    finally:
        os.umask(previous)
    for name in ("a.json", "t.csv", "plain.txt"):
        assert (tmp_path / name).stat().st_mode & 0o777 == mode, name


def test_folders_replace_the_old_one_and_keep_the_umask(tmp_path):
    import os

    from saeprobe.atomic import atomic_dir

    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "stale.txt").write_text("old")
    previous = os.umask(0o022)
    try:
        with atomic_dir(tmp_path / "out") as staging:
            (staging / "new.txt").write_text("new")
    finally:
        os.umask(previous)
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["new.txt"]
    assert (tmp_path / "out").stat().st_mode & 0o777 == 0o755
    with pytest.raises(RuntimeError):
        with atomic_dir(tmp_path / "out") as staging:
            (staging / "half.txt").write_text("x")
            raise RuntimeError("killed")
    assert [p.name for p in tmp_path.iterdir()] == ["out"]  # no staging folder left
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["new.txt"]


def test_the_next_write_removes_what_a_killed_writer_left(tmp_path):
    from saeprobe.atomic import atomic_dir

    # What a SIGKILL between mkstemp/mkdtemp and the rename leaves behind.
    (tmp_path / ".fig.png.abc123.tmp.png").write_bytes(b"half a figure")
    (tmp_path / ".other.png.abc123.tmp.png").write_bytes(b"another target's")
    (tmp_path / ".shard_000.xyz").mkdir()
    with atomic_path(tmp_path / "fig.png") as tmp:
        tmp.write_bytes(b"figure")
    with atomic_dir(tmp_path / "shard_000") as staging:
        (staging / "a.npy").write_bytes(b"a")
    assert sorted(p.name for p in tmp_path.iterdir()) == [".other.png.abc123.tmp.png", "fig.png", "shard_000"]
