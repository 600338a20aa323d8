"""Small helpers the chapters share: run mode, seeds, threads, showing library source.

Nothing here imports TensorFlow or PyTorch at import time.
"""

from __future__ import annotations

import inspect
import os
import random

SMOKE_VARIABLE = "MOBILECNN_SMOKE"


def smoke() -> bool:
    """True when ``MOBILECNN_SMOKE=1``: chapters and training shrink to a few steps (tests).

    In smoke mode no accuracy is a result; chapters label such numbers as a smoke run.
    """
    return os.environ.get(SMOKE_VARIABLE, "").strip().lower() in ("1", "true", "yes", "on")


def setup(seed: int = 0, threads: int | None = None) -> None:
    """Quiet logs, fix seeds, and cap thread pools. Call once at the top of a chapter.

    ``threads`` defaults to ``MOBILECNN_THREADS`` or all cores; tests running notebooks in
    parallel set it to 1 so that two kernels do not fight over two cores.
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
    import numpy as np

    np.random.seed(seed)
    if threads:
        import importlib.util

        if importlib.util.find_spec("torch") is not None:
            import torch

            torch.set_num_threads(threads)


def source(*objects) -> str:
    """The source code of library functions or classes, as one string."""
    return "\n\n".join(inspect.getsource(o).rstrip() for o in objects)


def show_source(*objects, language: str = "python"):
    """Display library source in a notebook as a highlighted code block (never a private copy)."""
    from IPython.display import Markdown

    return Markdown(f"```{language}\n{source(*objects)}\n```")
