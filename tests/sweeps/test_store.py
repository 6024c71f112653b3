"""Results store: atomic unit files, skip-committed, no duplicates, local path and file:// URI."""
import json
import os
from datetime import datetime, timezone

import pyarrow as pa
import pytest

from sweeps.rows import ROW_SCHEMA
from sweeps.store import SweepStore, committed_units, read_results


def rows(unit_id, samples, points=("keep_all/Tall", "vispruner/T64/r0.5"), sweep="sw"):
    out = []
    for p in points:
        for s in samples:
            out.append({"sweep_id": sweep, "unit_id": unit_id, "model": "tiny-llava", "benchmark": "shapes",
                        "point_id": p, "strategy": p.split("/")[0], "sample_id": s, "prediction": "x",
                        "score": 1.0, "created_at": datetime.now(timezone.utc)})
    return pa.Table.from_pylist(out, schema=ROW_SCHEMA)


@pytest.mark.parametrize("uri", [False, True])
def test_commit_read_skip_and_no_duplicates(tmp_path, uri):
    store = f"file://{tmp_path}/res" if uri else str(tmp_path / "res")
    st = SweepStore.open(store, "sw")
    assert st.commit("u1", rows("u1", ["a", "b"])) is True
    assert st.commit("u2", rows("u2", ["c"])) is True
    # committing an already-committed unit is refused and writes nothing
    mtime = os.stat(tmp_path / "res/sw/units/u1.parquet").st_mtime_ns
    assert st.commit("u1", rows("u1", ["a", "b"])) is False
    assert os.stat(tmp_path / "res/sw/units/u1.parquet").st_mtime_ns == mtime
    assert committed_units(store, "sw") == {"u1", "u2"}
    t = read_results(store, "sw")
    assert t.schema == ROW_SCHEMA and t.num_rows == 6
    keys = list(zip(t["point_id"].to_pylist(), t["sample_id"].to_pylist()))
    assert len(keys) == len(set(keys))
    # nothing but the two unit files under units/ (no temp files left behind)
    assert sorted(os.listdir(tmp_path / "res/sw/units")) == ["u1.parquet", "u2.parquet"]


def test_partial_temp_file_is_not_a_commit(tmp_path):
    st = SweepStore.open(str(tmp_path), "sw")
    # a driver killed mid-write leaves only a temp file: the unit is not committed
    (tmp_path / "sw/units/.tmp-u1-dead.parquet").write_bytes(b"PAR1 half a file")
    assert st.committed_units() == set()
    assert st.read().num_rows == 0
    assert st.commit("u1", rows("u1", ["a"])) is True
    assert st.read().num_rows == 2


def test_rows_of_another_unit_are_refused(tmp_path):
    st = SweepStore.open(str(tmp_path), "sw")
    with pytest.raises(ValueError, match="other unit ids"):
        st.commit("u1", rows("u2", ["a"]))
    assert st.committed_units() == set()


def test_duplicated_keys_across_units_are_detected(tmp_path):
    st = SweepStore.open(str(tmp_path), "sw")
    st.commit("u1", rows("u1", ["a"]))
    st.commit("u2", rows("u2", ["a"]))          # same (point, sample) keys under a second unit
    with pytest.raises(ValueError, match="duplicated row keys"):
        st.read()


def test_config_snapshot_and_quarantine(tmp_path):
    st = SweepStore.open(str(tmp_path), "sw")
    st.write_config("models: [tiny-llava]\n", "abc")
    st.write_config("models: [tiny-llava]\n", "abc")            # same content: fine
    with pytest.raises(ValueError, match="different config"):
        st.write_config("models: [other]\n", "def")
    assert st.read_text("config.yaml") == "models: [tiny-llava]\n"
    st.quarantine("u9", "RuntimeError: boom", attempts=3, replicas=["r0", "r1"])
    assert st.quarantined()["u9"]["attempts"] == 3
    assert json.loads((tmp_path / "sw/quarantine/u9.json").read_text())["error"] == "RuntimeError: boom"
    st.commit("u9", rows("u9", ["a"]))                          # a later success clears the record
    assert st.quarantined() == {}
