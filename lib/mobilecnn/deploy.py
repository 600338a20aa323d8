"""Quantize a trained Keras model, run it with TF Lite (LiteRT), and measure it.

Three steps, one function or class each:

* :func:`convert` turns a Keras model into a ``.tflite`` flatbuffer in one of four :data:`MODES`
  (:func:`convert_all` does several modes with one export);
* :class:`TFLiteClassifier` runs a ``.tflite`` model on float images in ``[0, 1]``, whatever the
  model's own input type, for any number of images, and shows what is inside the file;
* :func:`evaluate` measures accuracy, size and latency of a TF Lite model *or* of the Keras model
  it came from, the same way, so that the two can be compared.

Affine quantization (Jacob et al. 2018) stores a real number ``r`` as an integer ``q`` with
``r = scale * (q - zero_point)``; :func:`quantize` and :func:`dequantize` are those two lines, and
:func:`affine_parameters` picks ``scale`` and ``zero_point`` for a float range.

Nothing here imports TensorFlow or LiteRT at import time: :func:`convert` imports TensorFlow,
:class:`TFLiteClassifier` imports the LiteRT interpreter (``ai_edge_litert``), and running a model
never needs TensorFlow.
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import logging
import os
import re
import statistics
import sys
import tempfile
import time
import warnings
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from . import latency

MODES = ("float32", "dynamic", "float16", "int8")
"""The conversion modes, from no quantization to full integer."""

MODE_DOCS = {
    "float32": "no quantization: weights and activations in 32-bit floats",
    "dynamic": "dynamic-range quantization: weights stored as int8 (one scale per output "
               "channel), activations float; kernels quantize activations on the fly",
    "float16": "weights stored as float16, turned back into float32 when the model is loaded",
    "int8": "full integer quantization: weights and activations int8, int8 input and output, "
            "activation ranges calibrated on representative data",
}

MORE_MODES = ("int8_float_fallback", "int16x8")
"""Two more full-integer modes, which :func:`convert` takes but :func:`convert_all` does not make
by default. Both keep float32 input and output (the interpreter quantizes at the edges)."""

MODE_DOCS.update({
    "int8_float_fallback": "int8 where an int8 kernel exists, float32 where not (the converter "
                           "is not restricted to TFLITE_BUILTINS_INT8); float32 in and out",
    "int16x8": "int8 weights, int16 activations (EXPERIMENTAL_TFLITE_BUILTINS_ACTIVATIONS_INT16_"
               "WEIGHTS_INT8): 256 times finer activation steps, slower kernels; float32 in and out",
})

INT_RANGES = {"int8": (-128, 127), "uint8": (0, 255), "int16": (-32768, 32767)}


# ---- affine quantization, the arithmetic --------------------------------------------------------

def affine_parameters(rmin: float, rmax: float, dtype: str = "int8") -> tuple:
    """``(scale, zero_point)`` mapping the float range ``[rmin, rmax]`` onto ``dtype``'s integers.

    The range is first widened to contain 0, so that zero (padding, ReLU's output) is represented
    exactly by the integer ``zero_point`` (Jacob et al. 2018, section 2.1). ``scale`` is the width
    of one of the ``2**bits - 1`` steps between the smallest and the largest integer.
    """
    if dtype not in INT_RANGES:
        raise ValueError(f"dtype must be one of {', '.join(map(repr, INT_RANGES))}, got {dtype!r}")
    if not (np.isfinite(rmin) and np.isfinite(rmax)) or rmin > rmax:
        raise ValueError(f"need finite rmin <= rmax, got rmin={rmin!r}, rmax={rmax!r}")
    qmin, qmax = INT_RANGES[dtype]
    rmin, rmax = min(float(rmin), 0.0), max(float(rmax), 0.0)
    scale = (rmax - rmin) / (qmax - qmin) or 1.0
    zero_point = int(np.clip(round(qmin - rmin / scale), qmin, qmax))
    return scale, zero_point


def quantize(r, scale: float, zero_point: int, dtype: str = "int8") -> np.ndarray:
    """``q = clip(round(r / scale) + zero_point)``, as ``dtype`` integers.

    float32 input is computed in float32 (images: fast, and exact enough for 8-bit steps), any
    other input in float64.
    """
    qmin, qmax = INT_RANGES[dtype]
    r = np.asarray(r)
    r = r if r.dtype == np.float32 else r.astype(np.float64)
    q = np.round(r / scale) + zero_point
    return np.clip(q, qmin, qmax).astype(dtype)


def dequantize(q, scale: float, zero_point: int) -> np.ndarray:
    """``r = scale * (q - zero_point)``, as float32."""
    return (scale * (np.asarray(q, dtype=np.float64) - zero_point)).astype(np.float32)


# ---- conversion ---------------------------------------------------------------------------------

def convert(model, mode: str, representative_data=None, strip: bool = False, *,
            cache: bool = True, batch: int | None = None) -> bytes:
    """The ``.tflite`` flatbuffer of a Keras ``model`` in ``mode`` (one of :data:`MODES` or
    :data:`MORE_MODES`).

    ``representative_data`` (an array of model inputs, float images ``(N, H, W, C)``) is required
    for ``"int8"`` (and :data:`MORE_MODES`): the converter runs the float model on it to record the range of every
    activation, which fixes each activation's scale and zero-point. A few hundred images of the
    training set are enough; they should cover what the model will see. Other modes ignore it.

    The model goes through ``model.export`` (a SavedModel) and
    ``TFLiteConverter.from_saved_model``. ``from_keras_model`` does the same export internally;
    doing it ourselves lets :func:`convert_all` export once for several modes (the export, not
    the conversion, is most of the time) and keeps the exported signature under our control.
    The converter's log lines are silenced.

    ``strip=True`` removes the names of tensors and signatures from the file
    (``flatbuffer_utils.strip_strings``), as builds for microcontrollers do: the interpreter
    needs none of them to run the model (:class:`TFLiteClassifier` addresses tensors by index),
    but :meth:`TFLiteClassifier.tensors` then shows no names.

    Given a :class:`mobilecnn.train.TrainResult` (what ``train.fit_or_load`` returns) rather
    than its bare ``.model``, the file is kept in a cache next to the trained models and later
    calls read it instead of converting again (see :func:`tflite_cache_path`); ``cache=False``
    converts anyway and stores nothing.

    ``batch=None`` keeps the batch dimension dynamic, as Keras exports it: the file's input has
    ``shape_signature`` ``(-1, H, W, C)`` and a network that flattens computes the batch at run
    time (a ``SHAPE``, ``STRIDED_SLICE``, ``PACK`` chain before its ``RESHAPE``), so the same
    file runs any batch. ``batch=1`` exports a fixed batch of one, what a microcontroller runs
    (:func:`mobilecnn.tflm.convert`): every shape is known when the file is written and that
    chain disappears.
    """
    return convert_all(model, (mode,), representative_data, strip, cache=cache,
                       batch=batch)[mode]


def convert_all(model, modes=MODES, representative_data=None, strip: bool = False, *,
                cache: bool = True, batch: int | None = None) -> dict:
    """``{mode: .tflite bytes}`` for each of ``modes``, exporting ``model`` only once.

    For a :class:`mobilecnn.train.TrainResult`, modes already in the cache are read from it
    (:func:`tflite_cache_path`), the others converted (one export for all of them) and stored.
    """
    modes = (modes,) if isinstance(modes, str) else tuple(modes)
    for mode in modes:
        _check_mode(mode)
    needs_data = any(mode in ("int8", *MORE_MODES) for mode in modes)
    if batch is not None and (isinstance(batch, bool) or not isinstance(batch, int) or batch < 1):
        raise ValueError(f"batch must be None (dynamic) or a whole number >= 1, got {batch!r}")
    key = _run_key(model) if cache else None
    model = _keras_model(model)
    if needs_data:
        representative_data = check_representative(representative_data,
                                                   model.inputs[0].shape[1:])
    paths = {mode: tflite_cache_path(key, model, mode, representative_data, strip, batch)
             for mode in modes} if key else {}
    files = {mode: path.read_bytes() for mode, path in paths.items() if path.is_file()}
    missing = tuple(mode for mode in modes if mode not in files)
    if missing:
        from .train import write_atomically

        files.update(_convert_all(model, missing, representative_data, strip, batch))
        for mode in missing:
            if mode in paths:
                write_atomically(paths[mode], files[mode])
    return {mode: files[mode] for mode in modes}


def _run_key(model) -> str | None:
    """The training run's cache key of a :class:`mobilecnn.train.TrainResult`, else None."""
    from .train import TrainResult

    return model.key if isinstance(model, TrainResult) else None


def tflite_cache_path(key: str, model, mode: str, representative_data=None,
                      strip: bool = False, batch: int | None = None) -> Path:
    """Where :func:`convert_all` keeps the ``mode`` file of a trained model whose training run
    has cache key ``key`` (``TrainResult.key``): ``<cache_dir>/tflite/<name>_<key>_<mode>_<hash>
    .tflite`` in :func:`mobilecnn.train.cache_dir`, so the deployment chapter and any later
    chapter that converts the same model in the same mode share one file.

    ``hash`` covers what else decides the bytes: the model's weights as they are now (a model
    trained further after ``fit_or_load`` is another model), the representative data for
    ``"int8"`` (other images calibrate other ranges), ``strip``, a fixed ``batch``, and the
    TensorFlow version (its converter writes the file).
    """
    tf = sys.modules.get("tensorflow")
    fixed = "" if batch is None else f" batch={batch}"
    return cache_file("tflite", model.name, key, mode,
                      f"{mode} strip={bool(strip)}{fixed} tf={getattr(tf, '__version__', '')}",
                      ((w.path, np.asarray(w)) for w in model.weights), representative_data)


def cache_file(kind: str, name: str, key: str, mode: str, header: str, arrays,
               representative_data=None) -> Path:
    """``<cache_dir>/<kind>/<name>_<key>_<mode>_<hash>.<kind>``: the cache file of a converted
    model (TF Lite here, ONNX in :mod:`mobilecnn.deploy_torch`). ``hash`` covers ``header``
    (the mode, options and tool versions), every ``(name, array)`` of ``arrays`` (the weights as
    they are now) and, for ``"int8"``, the representative data that calibrated it."""
    from .train import cache_dir

    digest = hashlib.sha256(header.encode())
    for array_name, value in arrays:
        value = np.ascontiguousarray(value)
        digest.update(f"{array_name} {value.dtype} {value.shape}".encode())
        digest.update(value.tobytes())
    if mode.startswith("int"):          # "int8" and MORE_MODES: calibrated on these images
        data = np.ascontiguousarray(representative_data, dtype=np.float32)
        digest.update(f"representative {data.shape}".encode())
        digest.update(data.tobytes())
    name = re.sub(r"[^A-Za-z0-9_.-]", "_", name)
    return cache_dir() / kind / f"{name}_{key}_{mode}_{digest.hexdigest()[:12]}.{kind}"


def _convert_all(model, modes: tuple, representative_data, strip: bool,
                 batch: int | None = None) -> dict:
    """Export ``model`` once (with a fixed ``batch`` if given) and convert it in each of
    ``modes`` (no cache)."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from .tf_import import import_tensorflow

    tf = import_tensorflow()

    signature = None if batch is None else [
        tf.TensorSpec((batch, *model.inputs[0].shape[1:]), model.inputs[0].dtype)]
    with tempfile.TemporaryDirectory(prefix="mobilecnn_export_") as folder, _quiet(tf):
        model.export(folder, format="tf_saved_model", verbose=False, input_signature=signature)
        files = {mode: _converter(tf, folder, mode, representative_data).convert()
                 for mode in modes}
    return {mode: strip_strings(b) for mode, b in files.items()} if strip else files


def strip_strings(model_bytes: bytes) -> bytes:
    """The same model without tensor, operator-signature and metadata names."""
    from tensorflow.lite.tools import flatbuffer_utils

    model = flatbuffer_utils.convert_bytearray_to_object(bytearray(model_bytes))
    flatbuffer_utils.strip_strings(model)
    return bytes(flatbuffer_utils.convert_object_to_bytearray(model))


def _converter(tf, saved_model: str, mode: str, representative_data):
    """A ``TFLiteConverter`` set up for ``mode``; the four modes differ only in these lines."""
    converter = tf.lite.TFLiteConverter.from_saved_model(saved_model)
    if mode == "float32":
        return converter
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    if mode == "float16":
        converter.target_spec.supported_types = [tf.float16]
    elif mode in ("int8", *MORE_MODES):
        # Calibration: one image at a time, as the converter expects a list of input arrays.
        converter.representative_dataset = lambda: ([image[None]] for image in representative_data)
        if mode == "int8":
            # Integer kernels only (fail rather than fall back to float), int8 in and out.
            converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
            converter.inference_input_type = tf.int8
            converter.inference_output_type = tf.int8
        elif mode == "int16x8":
            converter.target_spec.supported_ops = [
                tf.lite.OpsSet.EXPERIMENTAL_TFLITE_BUILTINS_ACTIVATIONS_INT16_WEIGHTS_INT8]
        # "int8_float_fallback": the default op sets, so float kernels remain allowed.
    # "dynamic": Optimize.DEFAULT without representative data quantizes the weights only.
    return converter


def _check_mode(mode) -> str:
    if mode not in (*MODES, *MORE_MODES):
        raise ValueError(f"unknown mode {mode!r}; mode must be one of "
                         + ", ".join(repr(m) for m in (*MODES, *MORE_MODES)))
    return mode


def _keras_model(model):
    """A Keras model, also from a :class:`mobilecnn.train.TrainResult`."""
    from .train import TrainResult

    if isinstance(model, TrainResult):
        model = model.model
    if not _is_keras(model):
        raise ValueError(f"model must be a Keras model (or a TrainResult of one), got "
                         f"{type(model).__name__}")
    return model


def _is_keras(model) -> bool:
    from .train import TrainResult

    return isinstance(model, TrainResult) or (
        type(model).__module__.startswith(("keras", "tensorflow")) and hasattr(model, "export"))


def check_representative(data, shape: tuple) -> np.ndarray:
    """``data`` as float32 calibration images for a model with input ``shape`` (H, W, C), or a
    ``ValueError`` that says what is needed."""
    if data is None:
        raise ValueError("mode 'int8' needs representative_data: an array of model inputs "
                         "(float images (N, H, W, C), e.g. a few hundred training images) to "
                         "calibrate the activation ranges")
    data = np.asarray(data, dtype=np.float32)
    shape = tuple(shape)
    if data.ndim != 4 or data.shape[1:] != shape or len(data) == 0:
        dims = ", ".join(map(str, shape))
        raise ValueError(f"representative_data must be an array of shape (N, {dims}) with N >= 1, "
                         f"got shape {data.shape}")
    return data


@contextlib.contextmanager
def _quiet(tf):
    """Silence the converter: Python warnings, TensorFlow's and absl's loggers, and the C++ lines
    the MLIR converter writes (see :func:`_silenced`). Errors still carry their messages."""
    import absl.logging

    old_tf, old_absl = tf.get_logger().level, absl.logging.get_verbosity()
    tf.get_logger().setLevel("ERROR")
    absl.logging.set_verbosity(absl.logging.ERROR)
    try:
        with warnings.catch_warnings(), _silenced():
            warnings.simplefilter("ignore")
            yield
    finally:
        tf.get_logger().setLevel(old_tf)
        absl.logging.set_verbosity(old_absl)


@contextlib.contextmanager
def _silenced():
    """Send the file descriptors 1 and 2 to /dev/null.

    C++ code (the converter's progress lines, the interpreter's "Created TensorFlow Lite XNNPACK
    delegate" notice) writes to the descriptors directly, bypassing Python's ``sys.stdout`` and
    ``sys.stderr``, and a notebook kernel forwards those bytes to the page. Python's own streams
    are left alone: a logging handler created meanwhile must not keep a stream that is closed
    afterwards (Python-level warnings and log records are filtered by :func:`_quiet` instead).
    """
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(AttributeError, OSError, ValueError):
            stream.flush()
    saved = [os.dup(1), os.dup(2)]
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 1)
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        for fd in (*saved, devnull):
            os.close(fd)


# ---- running ------------------------------------------------------------------------------------

def open_interpreter(model_bytes: bytes, num_threads: int = 1, batch: int = 1):
    """A LiteRT interpreter for ``model_bytes`` with its tensors allocated for ``batch`` inputs,
    created with the C++ notices silenced (see :func:`_silenced`)."""
    with _silenced():
        interpreter = interpreter_class()(model_content=bytes(model_bytes),
                                          num_threads=num_threads)
        if batch != 1:
            detail = interpreter.get_input_details()[0]
            interpreter.resize_tensor_input(
                detail["index"], (batch, *(int(d) for d in detail["shape"][1:])))
        interpreter.allocate_tensors()
    return interpreter


def interpreter_class():
    """The LiteRT interpreter (``ai_edge_litert``), or ``tf.lite.Interpreter`` where LiteRT is not
    installed. TensorFlow's copy is deprecated in favour of LiteRT, which is also what a phone
    runs; both read the same flatbuffers."""
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError:
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
        from .tf_import import import_tensorflow

        tf = import_tensorflow()

        Interpreter = tf.lite.Interpreter
    return Interpreter


@dataclass(frozen=True)
class TensorInfo:
    """One tensor of a ``.tflite`` model.

    ``constant`` tensors (weights, biases) have their values in the file and take ``bytes`` of
    it; the others are activations, computed at run time. ``scales`` and ``zero_points`` are the
    affine quantization parameters (empty for float tensors): one pair per tensor, or one per
    channel along ``quantized_dimension`` (int8 convolution kernels are quantized per output
    channel).
    """

    index: int
    name: str
    shape: tuple
    dtype: str
    constant: bool
    bytes: int
    scales: np.ndarray = field(repr=False)
    zero_points: np.ndarray = field(repr=False)
    quantized_dimension: int = 0

    @property
    def quantized(self) -> bool:
        return len(self.scales) > 0


def image_batch(x, image_shape: tuple) -> np.ndarray:
    """``x`` as a float32 batch ``(N, *image_shape)``, or a ``ValueError`` that says the shape."""
    x = np.asarray(x, dtype=np.float32)
    if x.ndim != 4 or x.shape[1:] != tuple(image_shape):
        dims = ", ".join(map(str, image_shape))
        raise ValueError(f"x must be a batch of images of shape (N, {dims}), got shape {x.shape}")
    return x


class TFLiteClassifier:
    """A ``.tflite`` classifier that takes float images in ``[0, 1]`` and returns probabilities.

    ``model`` is the flatbuffer (bytes, as :func:`convert` returns) or a path to a ``.tflite``
    file. :meth:`predict` accepts any number of images ``(N, H, W, C)``: for an int8 model it
    quantizes them with the input tensor's scale and zero-point and dequantizes the output, so
    callers never see the model's integer types. Batches run through an interpreter whose input
    was resized to the batch (``resize_tensor_input`` + ``allocate_tensors``); one interpreter is
    kept per batch size, because allocating tensors costs far more than a small model's
    inference. Each image's result does not depend on the batch it came in.

    ``num_threads=1`` by default: it makes latencies repeatable and comparable on a shared
    machine (apps often run inference on two to four threads; pass ``num_threads`` to measure
    that). Keras and PyTorch get the threads :func:`mobilecnn.book.setup` gives them
    (``MOBILECNN_THREADS``), so set it to 1 to compare like with like.
    """

    MAX_CACHED = 4

    def __init__(self, model, num_threads: int = 1, batch_size: int = 64):
        if isinstance(model, (str, os.PathLike)):
            model = Path(model).read_bytes()
        if not isinstance(model, (bytes, bytearray)):
            raise ValueError(f"model must be .tflite bytes or a path to a .tflite file, got "
                             f"{type(model).__name__}")
        if isinstance(num_threads, bool) or not isinstance(num_threads, int) or num_threads < 1:
            raise ValueError(f"num_threads must be a whole number >= 1, got {num_threads!r}")
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"batch_size must be a whole number >= 1, got {batch_size!r}")
        self.model_bytes = bytes(model)
        self.num_threads = num_threads
        self.batch_size = batch_size
        self._interpreters = {}
        interpreter = self.interpreter(1)
        self.input_details = interpreter.get_input_details()[0]
        self.output_details = interpreter.get_output_details()[0]
        self.image_shape = tuple(int(d) for d in self.input_details["shape"][1:])
        self.num_classes = int(self.output_details["shape"][-1])

    @property
    def size(self) -> int:
        """The size of the ``.tflite`` file in bytes."""
        return len(self.model_bytes)

    @property
    def input_dtype(self) -> str:
        return np.dtype(self.input_details["dtype"]).name

    def interpreter(self, batch: int = 1):
        """The interpreter for batches of ``batch`` images, its tensors allocated."""
        if batch not in self._interpreters:
            if len(self._interpreters) >= self.MAX_CACHED:
                self._interpreters.pop(next(k for k in self._interpreters if k != 1))
            self._interpreters[batch] = open_interpreter(self.model_bytes, self.num_threads,
                                                         batch)
        return self._interpreters[batch]

    def quantize_input(self, x: np.ndarray) -> np.ndarray:
        """Float images as the model's input type: unchanged for float models, otherwise
        ``round(x / scale) + zero_point`` with the input tensor's parameters."""
        dtype = self.input_dtype
        if dtype not in INT_RANGES:
            return x.astype(dtype, copy=False)
        scale, zero_point = self.input_details["quantization"]
        return quantize(x, scale, zero_point, dtype)

    def dequantize_output(self, y: np.ndarray) -> np.ndarray:
        """The model's output as float32 (``scale * (q - zero_point)`` for integer outputs)."""
        if np.dtype(self.output_details["dtype"]).name not in INT_RANGES:
            return y.astype(np.float32, copy=False)
        scale, zero_point = self.output_details["quantization"]
        return dequantize(y, scale, zero_point)

    def predict(self, x) -> np.ndarray:
        """Class probabilities ``(N, num_classes)``, float32, for float images ``x (N, H, W, C)``.

        Runs chunks of at most ``batch_size`` images; each chunk is quantized (if the model's
        input is an integer type), set, invoked, read and dequantized.
        """
        x = image_batch(x, self.image_shape)
        out = np.empty((len(x), self.num_classes), dtype=np.float32)
        for start in range(0, len(x), self.batch_size):
            chunk = x[start:start + self.batch_size]
            interpreter = self.interpreter(len(chunk))
            interpreter.set_tensor(self.input_details["index"], self.quantize_input(chunk))
            interpreter.invoke()
            out[start:start + len(chunk)] = self.dequantize_output(
                interpreter.get_tensor(self.output_details["index"]))
        return out

    def __call__(self, x) -> np.ndarray:
        return self.predict(x)

    def tensors(self) -> list:
        """Every tensor of the model as a :class:`TensorInfo`: the interpreter's details (name,
        shape, dtype, quantization parameters) joined with the flatbuffer's record of which
        tensors carry data in the file."""
        stored = _stored_bytes(self.model_bytes)
        infos = []
        for d in self.interpreter(1).get_tensor_details():
            q = d["quantization_parameters"]
            dtype = np.dtype(d["dtype"])
            nbytes = stored.get(d["index"])
            infos.append(TensorInfo(
                index=d["index"], name=d["name"], shape=tuple(int(s) for s in d["shape"]),
                dtype=dtype.name, constant=nbytes is not None,
                bytes=nbytes if nbytes is not None else int(np.prod(d["shape"])) * dtype.itemsize,
                scales=np.asarray(q["scales"]), zero_points=np.asarray(q["zero_points"]),
                quantized_dimension=int(q["quantized_dimension"])))
        return infos

    def operators(self) -> Counter:
        """How many operators of each kind (``CONV_2D``, ``DEQUANTIZE``, ...) the model has."""
        return operator_counts(self.model_bytes)

    def __repr__(self) -> str:
        return (f"TFLiteClassifier({self.size:,} bytes, input {self.input_dtype} "
                f"{self.image_shape}, {self.num_classes} classes)")


def flatbuffer_schema():
    try:
        from ai_edge_litert import schema_py_generated as schema
    except ImportError:
        from tensorflow.lite.python import schema_py_generated as schema
    return schema


def _stored_bytes(model_bytes: bytes) -> dict:
    """``{tensor index: bytes of data in the file}`` for the main subgraph's constant tensors."""
    schema = flatbuffer_schema()
    model = schema.Model.GetRootAs(model_bytes, 0)
    graph = model.Subgraphs(0)
    stored = {}
    for i in range(graph.TensorsLength()):
        buffer = model.Buffers(graph.Tensors(i).Buffer())
        size = buffer.DataLength() or buffer.Size()   # Size(): data stored after the flatbuffer
        if size:
            stored[i] = int(size)
    return stored


def operator_counts(model_bytes: bytes) -> Counter:
    schema = flatbuffer_schema()
    names = {v: k for k, v in vars(schema.BuiltinOperator).items() if not k.startswith("_")}
    model = schema.Model.GetRootAs(model_bytes, 0)
    graph = model.Subgraphs(0)
    counts = Counter()
    for i in range(graph.OperatorsLength()):
        code = model.OperatorCodes(graph.Operators(i).OpcodeIndex())
        builtin = max(code.BuiltinCode(), code.DeprecatedBuiltinCode())
        counts[names.get(builtin, f"op {builtin}")] += 1
    return counts


@contextlib.contextmanager
def _tensorflow_warnings_off():
    """Raise the ``tensorflow`` logger to ERROR for the duration (no TensorFlow import needed)."""
    logger = logging.getLogger("tensorflow")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)


# ---- measuring ----------------------------------------------------------------------------------

@dataclass(repr=False)
class Evaluation:
    """What :func:`evaluate` measured for one model.

    ``accuracy`` on the given images; ``size`` in bytes (the ``.tflite`` file, or for a Keras
    model its weights as stored in memory, 4 bytes per float32 number; ``None`` for a function);
    ``latency_ms`` the median of single-image calls; ``throughput`` images per second in
    batches; ``probabilities`` the batched predictions behind ``accuracy``.
    """

    label: str
    accuracy: float
    size: int | None
    latency_ms: float
    throughput: float
    runs: int
    probabilities: np.ndarray

    def __repr__(self) -> str:
        size = "size unknown" if self.size is None else f"{self.size:,} bytes"
        return (f"Evaluation({self.label}: accuracy {self.accuracy:.2%}, {size}, "
                f"{self.latency_ms:.3f} ms per image, {self.throughput:,.0f} images/s)")


KERAS_CALLS = ("compiled", "eager")
"""How :func:`evaluate` calls a Keras model: traced into a graph once (the baseline), or eagerly."""


def evaluate(model, x, y, *, runs: int = 100, warmup: int = 10, batch_size: int = 64,
             label: str | None = None, keras_call: str = "compiled") -> Evaluation:
    """Accuracy, size and speed of ``model`` on images ``x`` (float, ``[0, 1]``) and labels ``y``.

    ``model`` is a :class:`TFLiteClassifier`, ``.tflite`` bytes, a Keras model (or a
    ``TrainResult`` of one), or any function from images to probabilities (its ``size`` is then
    unknown, ``None``); all are measured the same way:

    1. all of ``x`` is predicted in batches of ``batch_size`` (after one warm-up batch); the
       wall-clock time gives ``throughput`` and the predictions give ``accuracy``;
    2. after ``warmup`` untimed calls, ``runs`` single-image calls on ``x[0], x[1], ...`` (cycling)
       are timed one by one (:func:`mobilecnn.latency.time_calls`); ``latency_ms`` is their
       median, which shrugs off the occasional call that another process interrupted. A call
       goes from a float image to a NumPy array of probabilities, including any quantization.

    A Keras model is called as ``model(x, training=False)``, not ``model.predict(x)``. ``predict``
    is built for datasets: every call wraps its input in a data adapter, iterates over it with a
    compiled predict step and callbacks, and that fixed cost (milliseconds) dwarfs one small
    image's arithmetic, so timing it would flatter TF Lite. ``keras_call="compiled"`` (the
    default, and the baseline to compare a runtime with) traces that call once into a TensorFlow
    graph (``tf.function`` with a batch-agnostic input signature, as :mod:`mobilecnn.latency`
    times Keras), so a call runs the graph without Python dispatching each layer.
    ``keras_call="eager"`` calls the model directly, layer by layer from Python: what an
    unmodified notebook does, far slower for a small network, and not a deployment baseline.
    ``training=False`` makes batch norm use its moving statistics and turns dropout off, as in
    the converted model.

    TensorFlow's warnings are silenced meanwhile. Keras' TensorFlow back end runs grouped
    convolutions (ShuffleNet's) on the CPU through an XLA-compiled function that it defines
    anew in every call, so each eager call retraces and recompiles it, and TensorFlow warns
    about the retracing at every call. That cost is real and is measured; the warnings are noise.
    """
    x = np.asarray(x, dtype=np.float32)
    y = np.asarray(y)
    if x.ndim != 4 or len(x) == 0 or len(x) != len(y):
        raise ValueError(f"x must be a non-empty batch of images (N, H, W, C) and y its N labels; "
                         f"got x {x.shape} and y {y.shape}")
    for name, value, low in (("runs", runs, 1), ("warmup", warmup, 0),
                             ("batch_size", batch_size, 1)):
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise ValueError(f"{name} must be a whole number >= {low}, got {value!r}")
    if isinstance(model, (bytes, bytearray)):
        model = TFLiteClassifier(model)
    if isinstance(model, TFLiteClassifier):
        predict, size = model.predict, model.size
        label = label or f"TF Lite {model.input_dtype}"
    elif not _is_keras(model) and callable(model):
        predict, size = (lambda images: np.asarray(model(images))), None
        label = label or getattr(model, "__name__", "callable")
    else:
        keras_model = _keras_model(model)
        if keras_call not in KERAS_CALLS:
            raise ValueError(f"keras_call must be one of {', '.join(KERAS_CALLS)}, "
                             f"got {keras_call!r}")
        call = lambda images: keras_model(images, training=False)  # noqa: E731
        if keras_call == "compiled":
            from .tf_import import import_tensorflow

            tf = import_tensorflow()
            spec = tf.TensorSpec((None, *keras_model.inputs[0].shape[1:]), tf.float32)
            call = tf.function(call, input_signature=[spec], autograph=False)

        def predict(images):
            return np.asarray(call(images))

        size = sum(int(np.prod(w.shape)) * np.dtype(w.dtype).itemsize for w in keras_model.weights)
        label = label or ("Keras" if keras_call == "compiled" else "Keras (eager)")

    with _tensorflow_warnings_off():
        return _measure(predict, x, y, runs, warmup, batch_size, label, size)


def _measure(predict, x, y, runs, warmup, batch_size, label, size) -> Evaluation:
    predict(x[:batch_size])
    start = time.perf_counter()
    probabilities = np.concatenate([predict(x[i:i + batch_size])
                                    for i in range(0, len(x), batch_size)])
    throughput = len(x) / (time.perf_counter() - start)
    accuracy = float(np.mean(probabilities.argmax(axis=1) == y))

    calls = itertools.count()

    def one_image():      # x[0], x[1], ... cycling, through warm-up and timed calls alike
        return predict(x[next(calls) % len(x)][None])

    times = latency.time_calls(one_image, runs, warmup)
    return Evaluation(label, accuracy, size if size is None else int(size),
                      1000 * statistics.median(times), throughput, runs, probabilities)
