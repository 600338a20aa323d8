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
