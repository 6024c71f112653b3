"""sweeps/store_target.py: a store that is a file, unwritable, or of an unknown scheme is one named line; nothing is created."""
import os

import pytest

from sweeps.store_target import store_problem


def test_usable_locations(tmp_path):
    assert store_problem(str(tmp_path / "new" / "deeper")) is None
    assert store_problem(tmp_path.as_uri() + "/res") is None
    assert not (tmp_path / "new").exists()                       # checked, not created


def test_a_file_or_a_path_under_a_file(tmp_path):
    f = tmp_path / "results"
    f.write_text("x")
    assert store_problem(str(f), "store").startswith(f"store: {str(f)!r} is a file, not a directory")
    assert store_problem(str(f / "sub"), "--store").startswith(f"--store: {str(f / 'sub')!r} lies under the file")
    assert "is a file" in store_problem(f.as_uri(), "store")


def test_unknown_scheme():
    msg = store_problem("foo://bucket/results", "--store")
    assert msg.startswith("--store: 'foo://bucket/results' has a scheme pyarrow cannot open (foo://")
    assert "s3://" in msg and "\n" not in msg


def test_unwritable(tmp_path):
    if os.geteuid() == 0:                                        # root writes through permission bits; not into /proc
        target, where = "/proc/vissweep-results", "/proc"
    else:
        ro = tmp_path / "ro"
        ro.mkdir()
        ro.chmod(0o500)
        target, where = str(ro / "results"), str(ro)
    msg = store_problem(target, "store")
    assert msg.startswith(f"store: {target!r} is not writable ({where!r}: "), msg
    assert not os.path.exists(target)
