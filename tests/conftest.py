"""Shared test set-up: quiet TensorFlow, one thread per worker, deterministic seeds."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("MOBILECNN_THREADS", "1")
for _var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS",
             "TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS"):
    os.environ.setdefault(_var, os.environ["MOBILECNN_THREADS"])

import pathlib  # noqa: E402

import pytest  # noqa: E402

ROOT = pathlib.Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def root():
    return ROOT


def pytest_configure(config):
    # TensorFlow and PyTorch each start thread pools; one thread each keeps two xdist workers
    # from oversubscribing a 2-core machine.
    threads = int(os.environ["MOBILECNN_THREADS"])
    try:
        import torch
    except ImportError:
        return
    torch.set_num_threads(threads)
