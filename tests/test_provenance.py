"""Every committed results file says where, when, with what and by which command it was measured,
and ``book.results(name)`` gives the line a page prints under a figure drawn from it."""

import json
import subprocess
import sys

import pytest

from mobilecnn import book

RESULTS = sorted(p.stem for p in book.RESULTS_DIR.glob("*.json"))
FIELDS = ("command", "date", "machine", "versions")
MACHINE_FIELDS = ("cpu", "cores", "architecture", "isa")


def test_there_are_results_files():
    assert "deploy" in RESULTS and len(RESULTS) >= 6


@pytest.mark.parametrize("name", RESULTS)
def test_every_results_file_records_its_provenance(name):
    results = book.results(name)
    assert results.records, name
    for record in results.records:
        missing = [f for f in FIELDS if f not in record]
        missing += [f"machine.{f}" for f in MACHINE_FIELDS if f not in record.get("machine", {})]
        assert not missing, f"{name}.json: a provenance record lacks {missing}"
        # a field the run did not record says so; it is never left empty or guessed
        assert record["command"].split()[0] in ("python", ".venv/bin/python") or \
            record["command"].startswith("MOBILECNN_THREADS="), record["command"]
        assert "benchmarks/" in record["command"]
        assert record["date"] == book.NOT_RECORDED or len(record["date"]) == 10
        isa = record["machine"]["isa"]
        assert isa == book.NOT_RECORDED or isinstance(isa, list)
        versions = record["versions"]
        assert versions == book.NOT_RECORDED or (isinstance(versions, dict) and versions)
    line = results.provenance
    assert line.startswith("Measured by `") and line.endswith(".")
    for record in results.records:
        assert record["command"] in line and str(record["machine"]["cpu"]) in line


def test_provenance_record_of_this_machine(tmp_path):
    record = book.provenance("benchmarks/some_script.py", ["--runs", 3])
    assert record["command"].endswith("python benchmarks/some_script.py --runs 3")
    assert record["machine"]["cores"] >= 1 and isinstance(record["machine"]["isa"], list)
    assert record["versions"]["python"] and "mobilecnn" in record["versions"]
    (tmp_path / "x.json").write_text(json.dumps({"provenance": record, "rows": [1, 2]}))
    loaded = book.results("x", directory=tmp_path)
    assert loaded["rows"] == [1, 2] and loaded.records == [record]
    assert record["machine"]["cpu"] in loaded.provenance and record["date"] in loaded.provenance
    assert f"{record['machine']['cores']} CPUs" in loaded.provenance


def test_cpu_flags_read_from_cpuinfo():
    intel = "processor\t: 0\nflags\t\t: fpu sse2 avx avx2 avx512f avx512_vnni\n"
    assert book.cpu_flags(intel) == ["AVX2", "AVX-512", "AVX-512 VNNI"]
    assert book.cpu_flags("flags : sse2 avx2 avx_vnni\n") == ["AVX2", "AVX-VNNI"]
    assert book.cpu_flags("Features\t: fp asimd asimddp\n") == ["NEON dot product"]
    assert book.cpu_flags("flags : sse2\n") == []
    text = book.machine_text({"cpu": "X", "cores": 4, "architecture": "x86_64", "isa": []})
    assert text == "X (4 CPUs, x86_64; none of " + ", ".join(book.ISA_FLAGS.values()) + ")"


def test_provenance_line_names_each_machine_and_what_was_not_recorded(tmp_path):
    a = {"command": "python benchmarks/a.py", "date": "2026-01-02",
         "machine": {"cpu": "CPU A", "cores": 2, "architecture": "x86_64", "isa": ["AVX2"]},
         "versions": {"torch": "2.0", "python": "3.11"}}
    b = {**a, "command": "python benchmarks/a.py --update", "date": book.NOT_RECORDED}
    c = {**a, "machine": {"cpu": "CPU C", "cores": 8, "architecture": "aarch64",
                          "isa": book.NOT_RECORDED}, "versions": book.NOT_RECORDED,
         "part": "timing"}
    doc = {"provenance": a, "updates": [{"provenance": b}], "timing": {"provenance": c}}
    (tmp_path / "f.json").write_text(json.dumps(doc))
    line = book.results("f", directory=tmp_path).provenance
    assert line == ("Measured by `python benchmarks/a.py` (2026-01-02) and "
                    "`python benchmarks/a.py --update` (date not recorded) on CPU A (2 CPUs, "
                    "x86_64; AVX2), with PyTorch 2.0, Python 3.11; Measured by "
                    "`python benchmarks/a.py` (timing, 2026-01-02) on CPU C (8 CPUs, aarch64; "
                    "instruction sets not recorded), with versions not recorded.")
    part = book.results("f", directory=tmp_path).part("timing")
    assert part.records == [c] and "CPU A" not in part.provenance


def test_results_refuses_a_file_without_provenance_and_unknown_names(tmp_path):
    (tmp_path / "bare.json").write_text(json.dumps({"command": "x", "rows": []}))
    with pytest.raises(ValueError, match="no provenance record"):
        book.results("bare", directory=tmp_path)
    with pytest.raises(ValueError, match="name must be one of"):
        book.results("nothing_here", directory=tmp_path)
    with pytest.raises(ValueError, match="key must be one of"):
        book.results("deploy").part("nothing_here")


def test_provenance_imports_no_framework():
    code = ("import sys; from mobilecnn import book; book.provenance('x.py', []); "
            "book.results('deploy').provenance; "
            "assert not {'tensorflow', 'torch', 'keras'} & set(sys.modules)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def _chapters(root):
    return sorted((root / "chapters").glob("*.ipynb"))


def test_pages_that_read_results_print_their_provenance(root):
    """A page that reads a committed results file goes through ``book.results`` and prints the
    provenance line (or glues it into its prose); none reads the JSON behind its back."""
    readers = 0
    for path in _chapters(root):
        nb = json.loads(path.read_text())
        code = "".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code")
        assert "benchmarks/results" not in code, f"{path.name} reads a results file directly"
        if "book.results(" in code:
            readers += 1
            assert ".provenance" in code or "provenance_line(" in code, path.name
    assert readers >= 7


def test_no_page_calls_a_machine_this_machine_or_a_result_measured_here(root):
    """Pages name the machine: the one that built the page (``book.machine``) or the benchmark
    machine of a results file (its provenance line), never an ambiguous "this machine"."""
    import re

    vague = re.compile(r"\bthis (?:shared )?machine\b|\bmeasured here\b|\bon your cpu\b", re.I)
    for path in [*_chapters(root), root / "intro.md"]:
        text = path.read_text()
        if path.suffix == ".ipynb":
            text = "\n".join("".join(c["source"]) for c in json.loads(text)["cells"])
        found = [m.group(0) for m in vague.finditer(text)]
        assert not found, f"{path.name}: {found}"


def test_timing_conditions_say_threads_and_whether_the_page_ran_alone(monkeypatch):
    monkeypatch.setenv("MOBILECNN_THREADS", "1")
    monkeypatch.delenv(book.TIMED_ALONE, raising=False)
    line = book.timing_conditions()
    assert line.startswith(f"Timed on {book.machine()['text']}, 1 thread;")
    assert "other work may have shared the machine" in line
    monkeypatch.setenv("MOBILECNN_THREADS", "2")
    monkeypatch.setenv(book.TIMED_ALONE, "1")
    assert book.timing_conditions().endswith(", 2 threads, with no other notebook executing.")
