"""Small helpers the chapters share: run mode, seeds, threads.

Nothing here imports TensorFlow or PyTorch at import time; :func:`setup` does, on purpose.
"""

from __future__ import annotations

import os
import random

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


def machine() -> dict:
    """The machine a measurement ran on, as ``lscpu`` reports it, and the software versions.

    Keys: ``cpu`` (model name), ``architecture``, ``cores``, ``python``, ``text`` (one line for
    a chapter to print), and ``keras`` / ``torch`` versions when those are installed (read from
    their package metadata, without importing them). Benchmarks store it with their results so that a chapter can say
    which machine produced the figures it plots.
    """
    import importlib.metadata
    import platform
    import subprocess

    info = {"cpu": platform.processor() or platform.machine(),
            "architecture": platform.machine(), "cores": os.cpu_count(),
            "python": platform.python_version()}
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        out = ""
    fields = dict(line.split(":", 1) for line in out.splitlines() if ":" in line)
    info["cpu"] = fields.get("Model name", info["cpu"]).strip()
    info["architecture"] = fields.get("Architecture", info["architecture"]).strip()
    info["text"] = f"{info['cpu']}, {info['cores']} CPUs ({info['architecture']})"
    for name in ("keras", "torch"):
        try:
            info[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            continue          # not installed: nothing to report
    return info
