"""Small helpers the chapters share: run mode, seeds, threads.

Nothing here imports TensorFlow or PyTorch at import time; :func:`setup` does, on purpose.
"""

from __future__ import annotations

import os
import random
from pathlib import Path

SMOKE_VARIABLE = "MOBILECNN_SMOKE"


def smoke() -> bool:
    """True when ``MOBILECNN_SMOKE=1``: chapters and training shrink to a few steps (tests).

    In smoke mode no accuracy is a result; chapters label such numbers as a smoke run.
    """
    return os.environ.get(SMOKE_VARIABLE, "").strip().lower() in ("1", "true", "yes", "on")


def setup(seed: int = 0, threads: int | None = None, tensorflow: bool = True) -> None:
    """Quiet logs, fix seeds, cap thread pools, import TensorFlow. Call first in every chapter.

    ``threads`` defaults to ``MOBILECNN_THREADS`` or all cores; tests running notebooks in
    parallel set it to 1 so that two kernels do not fight over two cores.

    TensorFlow (when installed) is imported here, after the thread variables are set and through
    :func:`mobilecnn.tf_import.import_tensorflow`, so that its oneDNN start-up notice never
    becomes a stderr output of a later cell (which would fail the strict build), whichever cell
    or library function uses TensorFlow first. Chapters keep the default; a script that never
    touches TensorFlow (a PyTorch-only worker, say) may pass ``tensorflow=False`` to save the
    import's few seconds and its memory.
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    os.environ.setdefault("PYTHONHASHSEED", str(seed))
    threads = threads or int(os.environ.get("MOBILECNN_THREADS", "0")) or None
    if threads:
        # TensorFlow reads the TF_NUM_* variables when it starts, so call setup() before the
        # first TensorFlow import; PyTorch is set directly below.
        for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS",
                    "TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS"):
            os.environ[var] = str(threads)
    random.seed(seed)
    import importlib.util

    import numpy as np

    np.random.seed(seed)
    if threads and importlib.util.find_spec("torch") is not None:
        import torch

        torch.set_num_threads(threads)
    if tensorflow and importlib.util.find_spec("tensorflow") is not None:
        from .tf_import import import_tensorflow

        import_tensorflow()


# The instruction-set extensions that decide which kernels a runtime can use, as /proc/cpuinfo
# names them, and how a page prints them. AVX2 has 8-bit multiply-adds (VPMADDUBSW); VNNI and AMX
# add int8 dot products; BF16 the bfloat16 ones.
ISA_FLAGS = {"avx2": "AVX2", "avx512f": "AVX-512", "avx512_vnni": "AVX-512 VNNI",
             "avx_vnni": "AVX-VNNI", "avx512_bf16": "AVX-512 BF16", "amx_int8": "AMX-INT8",
             "asimddp": "NEON dot product", "sve": "SVE"}
# Libraries whose versions a measurement depends on, read from package metadata (no import).
VERSIONED = ("numpy", "tensorflow", "tensorflow-cpu", "keras", "torch", "ai-edge-litert",
             "onnxruntime")
NOT_RECORDED = "not recorded"
ROOT = Path(__file__).resolve().parents[2]        # the checkout (the package installs editable)
RESULTS_DIR = ROOT / "benchmarks" / "results"


def cpu_flags(cpuinfo: str | None = None) -> list:
    """The :data:`ISA_FLAGS` the CPU has, by their printed names, from ``/proc/cpuinfo`` (or the
    text given); an empty list where the file does not exist."""
    if cpuinfo is None:
        try:
            cpuinfo = Path("/proc/cpuinfo").read_text()
        except OSError:
            return []          # not Linux: no flags to report
    flags = set()
    for line in cpuinfo.splitlines():
        key, _, value = line.partition(":")
        if key.strip() in ("flags", "Features"):
            flags.update(value.split())
    return [name for flag, name in ISA_FLAGS.items() if flag in flags]


def machine_text(info: dict) -> str:
    """One line for a machine record: ``AMD EPYC (2 CPUs, x86_64; AVX2, AVX-512, ...)``."""
    isa = info.get("isa", NOT_RECORDED)
    isa = (", ".join(isa) or "none of " + ", ".join(ISA_FLAGS.values())) \
        if isinstance(isa, list) else f"instruction sets {isa}"
    cores = info.get("cores", NOT_RECORDED)
    return f"{info.get('cpu', NOT_RECORDED)} ({cores} CPUs, {info.get('architecture', '?')}; {isa})"


def machine() -> dict:
    """The machine a measurement runs on, and the software versions.

    Keys: ``cpu`` (model name, from ``lscpu``), ``architecture``, ``cores``, ``isa`` (the
    :data:`ISA_FLAGS` present), ``python``, ``text`` (one line for a page to print), and
    ``keras`` / ``torch`` versions when those are installed (read from their package metadata,
    without importing them). :func:`provenance` puts it into every results file.
    """
    import importlib.metadata
    import platform
    import subprocess

    info = {"cpu": platform.processor() or platform.machine(),
            "architecture": platform.machine(), "cores": os.cpu_count(),
            "isa": cpu_flags(), "python": platform.python_version()}
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        out = ""
    fields = dict(line.split(":", 1) for line in out.splitlines() if ":" in line)
    info["cpu"] = fields.get("Model name", info["cpu"]).strip()
    info["architecture"] = fields.get("Architecture", info["architecture"]).strip()
    info["text"] = machine_text(info)
    for name in ("keras", "torch"):
        try:
            info[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            continue          # not installed: nothing to report
    return info


TIMED_ALONE = "MOBILECNN_TIMED_ALONE"


def timing_conditions() -> str:
    """One sentence a page that times things prints next to its timings: the machine, the
    threads the frameworks may use (``MOBILECNN_THREADS``, or all cores when it is unset, as
    :func:`setup` leaves them) and whether the page ran alone. ``tools/execute_notebooks.py``
    runs such pages one at a time after the others and sets ``MOBILECNN_TIMED_ALONE=1``;
    anywhere else (Jupyter, the tests, a build that executes the page itself) nothing says
    that no other work shared the machine, and the sentence says so."""
    threads = int(os.environ.get("MOBILECNN_THREADS", "0") or 0) or os.cpu_count() or 1
    where = f"Timed on {machine()['text']}, {threads} thread{'s' if threads != 1 else ''}"
    if os.environ.get(TIMED_ALONE) == "1":
        return where + ", with no other notebook executing."
    return where + ("; not in the book build's timing phase, so other work may have shared "
                    "the machine.")


def versions() -> dict:
    """The versions of Python, this library (with its git commit when run from a checkout) and
    every installed :data:`VERSIONED` package, from package metadata (nothing is imported)."""
    import importlib.metadata
    import platform
    import subprocess

    found = {"python": platform.python_version()}
    try:
        found["mobilecnn"] = importlib.metadata.version("mobilecnn")
    except importlib.metadata.PackageNotFoundError:
        found["mobilecnn"] = NOT_RECORDED
    try:
        commit = subprocess.run(["git", "-C", str(ROOT), "describe", "--always", "--dirty"],
                                capture_output=True, text=True, check=True).stdout.strip()
        found["mobilecnn"] += f" (git {commit})"
    except (OSError, subprocess.CalledProcessError):
        pass                  # not a checkout: the package version alone
    for name in VERSIONED:
        try:
            found[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            continue          # not installed: the measurement did not use it
    return found


def provenance(script: str, argv=None, **extra) -> dict:
    """The record every benchmark stores under ``"provenance"`` in its results file: the command
    that re-runs it (``MOBILECNN_THREADS=N python benchmarks/<script> <argv>``), the date, the
    machine (:func:`machine`, without the versions) and :func:`versions`. ``argv`` defaults to
    ``sys.argv[1:]``; ``extra`` (``part=...``, say) is kept as given."""
    import datetime
    import sys

    argv = sys.argv[1:] if argv is None else list(argv)
    threads = os.environ.get("MOBILECNN_THREADS", "")
    command = " ".join([f"MOBILECNN_THREADS={threads}"] * bool(threads)
                       + ["python", f"benchmarks/{Path(script).name}", *map(str, argv)])
    info = machine()
    return {"command": command, "date": datetime.date.today().isoformat(),
            "machine": {k: info[k] for k in ("cpu", "cores", "architecture", "isa")},
            "versions": versions(), **extra}


# Printed names of the versioned packages, in the order a provenance line lists them.
_PRINTED = {"tensorflow": "TensorFlow", "tensorflow-cpu": "TensorFlow", "keras": "Keras",
            "torch": "PyTorch", "ai-edge-litert": "LiteRT", "litert": "LiteRT",
            "onnxruntime": "ONNX Runtime", "numpy": "NumPy", "python": "Python",
            "mobilecnn": "mobilecnn"}


def _records(data, where=""):
    """Every ``"provenance"`` record in a results document, depth first, with where it sits."""
    if isinstance(data, dict):
        if isinstance(data.get("provenance"), dict):
            yield where, data["provenance"]
        for key, value in data.items():
            if key != "provenance" and isinstance(value, (dict, list)):
                yield from _records(value, f"{where}.{key}" if where else key)
    elif isinstance(data, list):
        for i, value in enumerate(data):
            if isinstance(value, dict):
                yield from _records(value, f"{where}[{i}]")


def provenance_line(records) -> str:
    """``Measured by `cmd` (date)[ and `cmd2` (date2)] on <machine>, with TensorFlow 2.21.0, ...``: one
    sentence for a page to print under a figure. Records measured on different machines or
    with different versions each name their own."""
    def versions_text(v):
        if not isinstance(v, dict) or not v:
            return f"versions {NOT_RECORDED}"
        names, seen = [], set()
        for key in _PRINTED:
            if key in v and _PRINTED[key] not in seen:
                seen.add(_PRINTED[key])
                names.append(f"{_PRINTED[key]} {v[key]}")
        return ", ".join(names + [f"{k} {x}" for k, x in v.items() if k not in _PRINTED])

    def run(r):
        date = r.get("date", NOT_RECORDED)
        when = ([r["part"]] if r.get("part") else []) + [
            f"date {date}" if date == NOT_RECORDED else date]
        return f"`{r.get('command', NOT_RECORDED)}` ({', '.join(when)})"

    groups = []           # [(machine text, versions text, [runs])], in order of first appearance
    for r in records:
        key = (machine_text(r.get("machine", {})), versions_text(r.get("versions")))
        for g in groups:
            if g[:2] == key:
                g[2].append(run(r))
                break
        else:
            groups.append((*key, [run(r)]))
    if not groups:
        raise ValueError("records: no provenance record given")
    return "; ".join(f"Measured by {' and '.join(runs)} on {m}, with {v}"
                     for m, v, runs in groups) + "."


class Results(dict):
    """A results file's data (the JSON document, as a dict) with ``records`` (its provenance
    records) and ``provenance`` (the line a page prints under a figure drawn from it)."""

    def __init__(self, name: str, data: dict):
        super().__init__(data)
        self.name = name
        self.records = [r for _, r in _records(data)]
        if not self.records:
            raise ValueError(f"benchmarks/results/{name}.json has no provenance record; re-run "
                             f"the benchmark that writes it")
        self.provenance = provenance_line(self.records)

    def part(self, key: str) -> "Results":
        """One part of the file (``results.part("netadapt")``) with that part's provenance."""
        if key not in self:
            raise ValueError(f"key must be one of {sorted(self)}, not {key!r}")
        return Results(f"{self.name}:{key}", self[key])


def results(name: str, directory=None) -> Results:
    """``benchmarks/results/<name>.json``, loaded: the data, and ``.provenance``, the line that
    says which command, machine, date and versions produced it (print it under the figure)."""
    import json

    directory = Path(directory) if directory is not None else RESULTS_DIR
    path = directory / f"{name}.json"
    if not path.is_file():
        known = sorted(p.stem for p in directory.glob("*.json"))
        raise ValueError(f"name must be one of {known}, not {name!r}")
    return Results(name, json.loads(path.read_text()))
