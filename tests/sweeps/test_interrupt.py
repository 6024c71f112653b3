"""sweeps/interrupt.py: the resume command round-trips through a shell, paths with spaces included."""
import shlex

from sweeps.interrupt import interrupted_line, resume_command


def test_resume_command_and_line():
    cmd = resume_command("my configs/a.yaml", "/data/res ults", "a-123", address="127.0.0.1:6379")
    assert shlex.split(cmd) == ["python", "jobs/sweep.py", "--config", "my configs/a.yaml", "--store", "/data/res ults",
                                "--sweep-id", "a-123", "--address", "127.0.0.1:6379"]
    assert "--address" not in resume_command("a.yaml", "r", "a-1")
    assert shlex.split(resume_command("a.yaml", "r", "a-1", changes=["--set", "shard_size=4", "--limit", "8"]))[2:7] == \
        ["--config", "a.yaml", "--set", "shard_size=4", "--limit"]
    line = interrupted_line("a-123", "r", committed=7, total=12, before=4, resume="CMD")
    assert line == "interrupted: 7 of 12 units of a-123 are committed in r (3 in this run); resume with: CMD"
    assert interrupted_line("a-123", "r", 0, 0, 0, "CMD") == \
        "interrupted while preparing a-123; no unit ran in this run; resume with: CMD"
