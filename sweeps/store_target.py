"""Check a results-store location before anything runs: one named line for a file, an unwritable place, a bad URI.

    from sweeps.store_target import store_problem
    store_problem("./results", "store")      # None when usable, else "store: ... (fix)"

Nothing is left behind: a bad config or store leaves no trace on disk (writability is probed with a
temporary directory, removed at once, in the nearest existing ancestor). Remote URIs are checked for a
filesystem pyarrow knows (s3://, gs://, hdfs://, file://); their credentials are checked when opened.
"""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pyarrow as pa
import pyarrow.fs as pafs

HINT = "a local directory or a pyarrow filesystem URI (file://, s3://, gs://, hdfs://)"


def _local_problem(path: Path, key: str, given: str) -> str | None:
    if path.exists() and not path.is_dir():
        return f"{key}: {given!r} is a file, not a directory; give {HINT}"
    probe = path
    while not probe.exists():                     # the nearest existing ancestor is where mkdir happens
        probe = probe.parent
    if not probe.is_dir():
        return f"{key}: {given!r} lies under the file {str(probe)!r}; give {HINT}"
    try:                                          # a real write, removed at once (os.access is wrong for root, ro mounts)
        os.rmdir(tempfile.mkdtemp(prefix=".vissweep-probe-", dir=probe))
    except OSError as exc:
        return (f"{key}: {given!r} is not writable ({str(probe)!r}: {exc.strerror or type(exc).__name__}); "
                "give a directory you can write")
    return None


def store_problem(store: str, key: str = "store") -> str | None:
    """None when `store` can hold results, else one line naming `key` (`store` or `--store`), the value and a fix."""
    if not isinstance(store, str) or not store.strip():
        return f"{key}: must be {HINT}, got {store!r}"
    if "://" not in store:
        return _local_problem(Path(store).expanduser().resolve(), key, store)
    scheme = store.split("://", 1)[0]
    try:
        fs, root = pafs.FileSystem.from_uri(store)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, ValueError) as exc:
        return f"{key}: {store!r} has a scheme pyarrow cannot open ({scheme}://: {str(exc).splitlines()[0]}); give {HINT}"
    except Exception as exc:  # e.g. s3:// without reachable credentials: say so here, not as a traceback later
        return f"{key}: cannot open {store!r} ({type(exc).__name__}: {str(exc).splitlines()[0][:200]})"
    if isinstance(fs, pafs.LocalFileSystem):
        return _local_problem(Path(root).resolve(), key, store)
    return None
