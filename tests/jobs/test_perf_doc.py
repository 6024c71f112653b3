"""jobs/perf_doc.write_section: a benchmark rewrites only its own docs/PERF.md section."""
from jobs.perf_doc import HEADER, write_section


def test_replaces_only_its_section(tmp_path):
    path = tmp_path / "PERF.md"
    write_section(path, "## A", "## A\n\nold a\n")
    write_section(path, "## B", "## B\n\nb stays\n")
    write_section(path, "## C", "## C\n\nc stays\n")
    before = path.read_text()
    assert before.startswith(HEADER)
    write_section(path, "## A", "## A\n\nnew a\nsecond line\n")
    after = path.read_text()
    assert "old a" not in after and "new a\nsecond line\n" in after
    # B and C byte-identical, in the same order
    assert after.split("## B", 1)[1] == before.split("## B", 1)[1]
    assert after.index("## A") < after.index("## B") < after.index("## C")


def test_middle_section_replaced_and_missing_one_appended(tmp_path):
    path = tmp_path / "PERF.md"
    path.write_text("# Performance\n\n## A\n\na\n\n## B\n\nb\n\n## C\n\nc\n")
    write_section(path, "## B", "## B\n\nB2\n")
    write_section(path, "## D", "## D\n\nd\n")
    assert path.read_text() == "# Performance\n\n## A\n\na\n\n## B\n\nB2\n\n## C\n\nc\n\n## D\n\nd\n"
