"""Measured speed: one timing loop for every runtime in the book.

Every latency the book prints comes from :func:`time_calls`: untimed warm-up calls, then timed
calls one at a time, with ``time.perf_counter``. The figure to report is the **median**. The
first calls pay for lazy initialization (graph tracing, memory allocation, cold caches). On a
shared machine an occasional call is interrupted by another process. The median is immune to
both, where a mean would not be.

:func:`measure` times one network at batch 1 in one runtime:

* ``"keras"``: the model called inside a ``tf.function``. This is a compiled graph, the way
  ``model.predict`` runs it, not eager layer-by-layer Python;
* ``"torch"``: the module in eval mode under ``torch.inference_mode()``;
* ``"tflite"``: the LiteRT interpreter's ``invoke()``, for a ``.tflite`` file in any mode
  (float32 or int8), with its own thread count.

Its input is a :class:`~mobilecnn.graph.Net` (built with random weights: a float network's speed
does not depend on its weights), a Keras model, a PyTorch module, or ``.tflite`` bytes. Only the
forward pass is timed. The input is made once, from ``seed``, and stays in the runtime's own
tensor type.

:func:`interleaved` times several of them **in turn**: round after round, each call of each
model follows a call of the one before. A burst of load then falls on all of them alike rather
than on whichever happened to be running, which is what a comparison needs.

Nothing here imports TensorFlow or PyTorch until a measurement asks for one.
"""

from __future__ import annotations

import os
import statistics
import time
from dataclasses import dataclass

import numpy as np

from .graph import Net

RUNTIMES = ("keras", "torch", "tflite")


@dataclass(frozen=True)
class Timing:
    """Wall-clock seconds of repeated forward passes of one network in one runtime."""

    framework: str          # the runtime: "keras", "torch" or "tflite"
    seconds: tuple          # one entry per timed call, after warm-up
    batch: int
    threads: int

    @property
    def median(self) -> float:
        return statistics.median(self.seconds)

    @property
    def ms(self) -> float:
        """The median in milliseconds."""
        return 1000 * self.median

    @property
    def spread(self) -> float:
        """Half the interquartile range, relative to the median: how noisy the timing was."""
        if len(self.seconds) < 4:
            return float("nan")
        q1, _, q3 = statistics.quantiles(self.seconds, n=4)
        return (q3 - q1) / 2 / self.median


def time_calls(call, repeats: int = 20, warmup: int = 3) -> tuple:
    """Call ``call()`` ``warmup`` times untimed, then ``repeats`` times, timing each call on its
    own; the seconds of the timed calls, in order."""
    _check_counts(repeats=repeats, warmup=warmup)
    for _ in range(warmup):
        call()
    seconds = []
    for _ in range(repeats):
        start = time.perf_counter()
        call()
        seconds.append(time.perf_counter() - start)
    return tuple(seconds)


def measure(model, runtime: str | None = None, *, batch: int = 1, repeats: int = 20,
            warmup: int = 3, seed: int = 0, threads: int | None = None) -> Timing:
    """Time ``repeats`` forward passes of ``model`` (after ``warmup`` untimed ones).

    ``model`` is a :class:`~mobilecnn.graph.Net`, a Keras model, a PyTorch module or ``.tflite``
    bytes. ``runtime`` is ``"keras"``, ``"torch"`` or ``"tflite"``. It is required for a ``Net``,
    which is built in that runtime with random weights; a ``Net`` for ``"tflite"`` is built in
    Keras and converted to float32. For anything else ``runtime`` is read from the object.

    ``threads`` caps the runtime's intra-op threads. One thread gives the most repeatable
    figures on a shared machine, because a multi-threaded kernel that waits for a busy core can
    take many times its usual time.

    * PyTorch's setting is restored afterwards.
    * LiteRT's is per interpreter (default 1).
    * TensorFlow's can only be set before TensorFlow first runs. A later request gives a
      ``RuntimeWarning`` and changes nothing; :func:`mobilecnn.book.setup` sets it at the start
      from ``MOBILECNN_THREADS``.

    ``Timing.threads`` always reports what was used.
    """
    call, used, restore = runner(model, runtime, batch=batch, seed=seed, threads=threads)
    try:
        seconds = time_calls(call, repeats, warmup)
    finally:
        restore()
    return Timing(runtime_of(model, runtime), seconds, batch, used)


def interleaved(models: dict, runtime: str | None = None, *, rounds: int = 5, repeats: int = 10,
                warmup: int = 3, seed: int = 0, threads: int | None = None) -> dict:
    """``{label: Timing}`` for ``{label: model}``, measured in turn.

    Each model gets ``warmup`` untimed calls first. Then, ``rounds`` times over, each model in
    turn makes ``repeats`` timed calls. Every ``Timing`` holds ``rounds * repeats`` calls.
    ``runtime`` applies to every model (needed for ``Net`` objects). A model may also be given
    as a ``(model, runtime)`` pair.
    """
    _check_counts(rounds=rounds, repeats=repeats, warmup=warmup)
    runners, restores = {}, []
    try:
        for label, model in models.items():
            target, rt = model if isinstance(model, tuple) else (model, runtime)
            call, used, restore = runner(target, rt, seed=seed, threads=threads)
            restores.append(restore)
            runners[label] = (call, used, runtime_of(target, rt))
            for _ in range(warmup):
                call()
        seconds = {label: [] for label in models}
        for _ in range(rounds):
            for label, (call, _, _) in runners.items():
                seconds[label].extend(time_calls(call, repeats, 0))
    finally:
        for restore in reversed(restores):
            restore()
    return {label: Timing(rt, tuple(seconds[label]), 1, used)
            for label, (_, used, rt) in runners.items()}


# ---- runners: a zero-argument call that runs one forward pass ---------------------------------

def runtime_of(model, runtime: str | None = None) -> str:
    """The runtime that ``model`` runs in: ``runtime`` if given, else read from its type."""
    if runtime is not None:
        if runtime not in RUNTIMES:
            raise ValueError(f"runtime={runtime!r} is not allowed; runtime must be one of "
                             + ", ".join(repr(r) for r in RUNTIMES))
        return runtime
    if isinstance(model, Net):
        raise ValueError("runtime is required for a Net: one of "
                         + ", ".join(repr(r) for r in RUNTIMES))
    if isinstance(model, (bytes, bytearray)):
        return "tflite"
    module = type(model).__module__
    if module.startswith("torch") or _is_torch_module(model):
        return "torch"
    if module.startswith("keras") or hasattr(model, "count_params"):
        return "keras"
    raise ValueError(f"cannot tell which runtime runs a {type(model).__name__}; give runtime=")


def runner(model, runtime: str | None = None, *, batch: int = 1, seed: int = 0,
           threads: int | None = None):
    """``(call, threads_used, restore)`` for one forward pass of ``model`` in ``runtime``.

    ``call()`` runs the pass on a fixed random input. ``restore()`` undoes any change to the
    runtime's thread setting.
    """
    runtime = runtime_of(model, runtime)
    _check_counts(batch=batch)
    if threads is not None and (isinstance(threads, bool) or not isinstance(threads, int)
                                or threads < 1):
        raise ValueError(f"threads must be a whole number >= 1 or None, got {threads!r}")
    if runtime == "keras":
        return _keras_runner(model, batch, seed, threads)
    if runtime == "torch":
        return _torch_runner(model, batch, seed, threads)
    return _tflite_runner(model, batch, seed, threads or 1)


def _input(shape: tuple, seed: int, dtype=np.float32) -> np.ndarray:
    x = np.random.default_rng(seed).standard_normal(shape)
    if np.issubdtype(dtype, np.integer):
        info = np.iinfo(dtype)
        return np.clip(np.round(x * 32), info.min, info.max).astype(dtype)
    return x.astype(dtype)


def _keras_runner(model, batch: int, seed: int, threads: int | None):
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from .tf_import import import_tensorflow

    tf = import_tensorflow()
    config = tf.config.threading

    def pool_size():     # what TensorFlow uses: its setting, else TF_NUM_INTRAOP_THREADS, else all
        return (config.get_intra_op_parallelism_threads()
                or int(os.environ.get("TF_NUM_INTRAOP_THREADS", "0")) or os.cpu_count())

    if threads is not None and pool_size() != threads:
        try:
            config.set_intra_op_parallelism_threads(threads)
            config.set_inter_op_parallelism_threads(threads)
        except RuntimeError:
            import warnings

            warnings.warn(f"TensorFlow is already running with its own thread pools; "
                          f"threads={threads} does not apply to Keras timings (Timing.threads "
                          "says what was used)", RuntimeWarning, stacklevel=4)
    if isinstance(model, Net):
        from .keras_backend import build

        model = build(model, "model")
    tensor = tf.constant(_input((batch, *model.input_shape[1:]), seed))
    # Traced once, here, into a concrete function: calling it runs the graph without tf.function's
    # dispatch (which would also count every new model's first trace as a "retracing").
    graph = tf.function(lambda t: model(t, training=False),
                        autograph=False).get_concrete_function(tensor)
    return (lambda: graph(tensor)), pool_size(), (lambda: None)


def _is_torch_module(model) -> bool:
    return any(c.__module__.startswith("torch.nn") for c in type(model).__mro__)


def _torch_runner(model, batch: int, seed: int, threads: int | None):
    import torch

    before = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(threads)
    if isinstance(model, Net):
        from .torch_backend import build

        shape = model.input_shape
        model = build(model, "model")
    else:
        shape = tuple(getattr(model, "input_shape", None) or ())
        if not shape:
            raise ValueError("a PyTorch module needs an input_shape attribute (H, W, C) to be "
                             "timed; the book's models have one")
    model = model.eval()
    x = _input((batch, *shape), seed)
    tensor = torch.from_numpy(x if x.ndim == 2 else x.transpose(0, 3, 1, 2).copy())

    def call():
        with torch.inference_mode():
            return model(tensor)

    return call, torch.get_num_threads(), (lambda: torch.set_num_threads(before))


def _tflite_runner(model, batch: int, seed: int, threads: int):
    from . import deploy

    if isinstance(model, Net):
        from .keras_backend import build

        model = deploy.convert(build(model, "model"), "float32")
    interpreter = deploy.open_interpreter(model, threads, batch)
    detail = interpreter.get_input_details()[0]
    interpreter.set_tensor(detail["index"], _input(tuple(detail["shape"]), seed, detail["dtype"]))
    return interpreter.invoke, threads, (lambda: None)


def _check_counts(**counts) -> None:
    low = {"warmup": 0}
    for name, value in counts.items():
        minimum = low.get(name, 1)
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            raise ValueError(f"{name} must be a whole number >= {minimum}, got {value!r}")
