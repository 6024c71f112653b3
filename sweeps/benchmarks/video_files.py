"""Where a video QA benchmark's videos live on disk, and their 8 frames.

The real releases keep videos in different places (Video-LLaVA's eval scripts, run_qa_*.sh; lmms-eval's
activitynetqa task):

    ActivityNet-QA  Activitynet_Zero_Shot_QA/all_test/v_<video_name>.mp4   (note the v_ prefix); the hub
                    release (lmms-lab/ActivityNetQA, lmms-eval/ActivityNetQA) ships them as
                    videos_chunked_*.zip archives whose members are all_test/v_<video_name>.mp4
    MSVD-QA         MSVD_Zero_Shot_QA/videos/<video_name>.avi
    MSRVTT-QA       MSRVTT_Zero_Shot_QA/videos/all/<video_name>.mp4
    TGIF-QA         TGIF_Zero_Shot_QA/mp4/<video_name>.mp4

`VideoFiles(roots, folders, prefixes)` finds `<root>/<folder>/<prefix><name><suffix>` for every root,
folder ('' = the root itself), prefix and suffix, in that order, and else a member of that base name in
any zip archive under a root (read without unpacking the archive). Frames are decoded by
video_frames.sample_frames; the last few videos' frames are kept, since a video has ~10 questions.
"""
from __future__ import annotations

import shutil
import tempfile
import zipfile
from collections import OrderedDict
from pathlib import Path
from typing import Callable

from sweeps.benchmarks.video_frames import VideoReadError, sample_frames

VIDEO_SUFFIXES = ("", ".mp4", ".avi", ".mov", ".mkv", ".webm", ".gif")
KEEP_VIDEOS = 16          # decoded videos remembered (rows of one video are usually adjacent)


class VideoFiles:
    """A benchmark's video files under some roots: plain folders first, then zip archives."""

    def __init__(self, roots: list[Path], folders: tuple[str, ...] = ("", "videos"), prefixes: tuple[str, ...] = ("",),
                 more: Callable[[], list[Path]] | None = None):
        self.roots = [Path(r) for r in roots]
        self.folders, self.prefixes = folders, prefixes
        self.more, self.more_error = more, None     # more roots, fetched on the first miss (the hub's archives)
        self._members: dict[str, tuple[Path, str]] | None = None      # base name -> (archive, member)
        self._frames: OrderedDict[tuple[str, int], list[bytes]] = OrderedDict()

    def names(self, name: str) -> list[str]:
        """File names a row's video name may have: every prefix x suffix (a name already prefixed stays as is)."""
        stems = [f"{p}{name}" for p in self.prefixes if p and not name.startswith(p)] + [name]   # v_<name> first
        return [f"{s}{x}" for s in stems for x in VIDEO_SUFFIXES]

    def find(self, name: str) -> Path | tuple[Path, str] | None:
        """The file (a path, or (archive, member)) of a row's video name, or None."""
        p = Path(name)
        if p.is_absolute():
            return next((Path(f"{p}{x}") for x in VIDEO_SUFFIXES if Path(f"{p}{x}").is_file()), None)
        found = self._look(self.names(name))
        if found is None and self.more is not None:
            more, self.more = self.more, None
            try:
                self.roots += [Path(r) for r in more()]
                self._members = None
            except Exception as exc:  # offline, no access, no such repo: every row says why
                self.more_error = f"{type(exc).__name__}: {exc}"[:300]
            found = self._look(self.names(name))
        return found

    def _look(self, candidates: list[str]) -> Path | tuple[Path, str] | None:
        for root in self.roots:
            for folder in self.folders:
                for c in candidates:
                    if (path := root / folder / c).is_file():
                        return path
        members = self.archive_members()
        return next((members[Path(c).name] for c in candidates if Path(c).name in members), None)

    def archive_members(self) -> dict[str, tuple[Path, str]]:
        if self._members is None:
            self._members = {}
            for root in self.roots:
                for archive in sorted(root.rglob("*.zip")) if root.is_dir() else ():
                    try:
                        with zipfile.ZipFile(archive) as z:
                            for m in z.namelist():
                                if not m.endswith("/"):
                                    self._members.setdefault(Path(m).name, (archive, m))
                    except (zipfile.BadZipFile, OSError):
                        continue          # a broken archive hides its videos; their rows become "missing video"
        return self._members

    def frames(self, name: str, n: int) -> list[bytes]:
        """n frames (PNG bytes) of the named video; VideoReadError (a RowError) when missing or unreadable."""
        where = self.find(name)
        if where is None:
            tried = ", ".join(str(r / f) for r in self.roots for f in self.folders if (r / f).is_dir()) or "no folder"
            raise VideoReadError(f"missing video file {name!r} (looked for {self.names(name)[1]} and other suffixes "
                                 f"in {tried}, and in zip archives there"
                                 + (f"; the hub archives are unavailable: {self.more_error})" if self.more_error else ")"))
        key = (str(where), n)
        if key in self._frames:
            self._frames.move_to_end(key)
            return self._frames[key]
        picked = sample_frames(where, n) if isinstance(where, Path) else self._from_archive(*where, n)
        self._frames[key] = picked
        while len(self._frames) > KEEP_VIDEOS:
            self._frames.popitem(last=False)
        return picked

    @staticmethod
    def _from_archive(archive: Path, member: str, n: int) -> list[bytes]:
        """Copy one member to a temporary file (FFmpeg seeks in it) and sample its frames."""
        with tempfile.TemporaryDirectory(prefix="vsw-video-") as tmp:
            path = Path(tmp) / Path(member).name
            try:
                with zipfile.ZipFile(archive) as z, z.open(member) as src, open(path, "wb") as dst:
                    shutil.copyfileobj(src, dst, 1 << 20)
            except (zipfile.BadZipFile, OSError, RuntimeError) as exc:
                raise VideoReadError(f"cannot read {member} from {archive.name}: {exc}") from exc
            try:
                return sample_frames(path, n)
            except VideoReadError as exc:       # name the member, not the temporary copy
                raise VideoReadError(str(exc).replace(str(path), f"{archive.name}:{member}")) from exc


def hub_archives(repo_id: str) -> Path:
    """The local copy of a hub dataset repo's zip archives (downloaded once into the Hugging Face cache;
    HF_HUB_OFFLINE=1 reads the cache only)."""
    from huggingface_hub import snapshot_download

    return Path(snapshot_download(repo_id, repo_type="dataset", allow_patterns=["*.zip"]))
