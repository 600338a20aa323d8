"""Deploy a trained PyTorch model with ONNX Runtime: export, quantize, run and measure it.

The PyTorch twin of :mod:`mobilecnn.deploy`, in the same three steps:

* :func:`export` turns a PyTorch module into an ONNX file in one of two :data:`MODES`: float32,
  exported by PyTorch's own exporter (``torch.onnx.export``, the ``torch.export``-based one), and
  int8, quantized from it by ONNX Runtime's post-training quantizer
  (``onnxruntime.quantization.quantize_static``) with activation ranges calibrated on
  representative images;
* :class:`ONNXClassifier` runs an ONNX file with ONNX Runtime on float images in ``[0, 1]``
  (channels-last, like every array in the book), one image or a batch;
* :func:`evaluate` measures an ONNX model *or* the PyTorch module it came from exactly as
  :func:`mobilecnn.deploy.evaluate` measures a TF Lite model and its Keras model (it calls it).

Why ONNX Runtime (the deployment chapter says more): it installs beside the book's pinned torch,
TensorFlow and LiteRT with four small packages and changes none of them; it runs the same file
on Linux, Windows, macOS, Android and iOS; and its quantizer is maintained with it. An int8 model
keeps float input and output: ``QuantizeLinear`` and ``DequantizeLinear`` nodes mark where
tensors are int8 ("QDQ" format), and ONNX Runtime fuses each ``DequantizeLinear -> Conv ->
QuantizeLinear`` into an integer convolution when it loads the file.

Nothing here imports PyTorch or ONNX Runtime at import time.
"""

from __future__ import annotations

import contextlib
import logging
import os
import tempfile
import warnings
from collections import Counter
from dataclasses import replace
from pathlib import Path

import numpy as np

from . import deploy

MODES = ("float32", "int8")
"""The export modes: no quantization, and full integer quantization of weights and activations."""

MODE_DOCS = {
    "float32": "no quantization: weights and activations in 32-bit floats",
    "int8": "static quantization: weights int8 (one scale per output channel, symmetric), "
            "activations int8 (one scale and zero-point per tensor, ranges calibrated on "
            "representative data); float input and output",
}

INPUT, OUTPUT = "images", "probabilities"
"""The names of the exported model's input (``(N, C, H, W)`` float images) and output."""

CALIBRATION_BATCH = 32
"""Images per calibration batch (the ranges are the min and max over all of them)."""


# ---- export -------------------------------------------------------------------------------------

def export(model, mode: str, representative_data=None, *, cache: bool = True) -> bytes:
    """The ONNX file (bytes) of a PyTorch ``model`` in ``mode`` (one of :data:`MODES`).

    ``model`` is a module built by :func:`mobilecnn.torch_model` or a
    :class:`mobilecnn.train.TrainResult` of one. ``representative_data`` (float images
    ``(N, H, W, C)`` in ``[0, 1]``, a few hundred training images) is required for ``"int8"``: the
    quantizer runs the float model on them and records each activation's range. For a
    ``TrainResult`` the file is cached next to the trained model (:func:`onnx_cache_path`);
    ``cache=False`` exports anyway and stores nothing.
    """
    return export_all(model, (mode,), representative_data, cache=cache)[mode]


def export_all(model, modes=MODES, representative_data=None, *, cache: bool = True) -> dict:
    """``{mode: ONNX bytes}`` for each of ``modes``; the float32 export is done at most once and
    the int8 file is quantized from it."""
    modes = (modes,) if isinstance(modes, str) else tuple(modes)
    for mode in modes:
        _check_mode(mode)
    key = model.key if cache and _is_train_result(model) else None
    module = _torch_module(model)
    if "int8" in modes:
        representative_data = deploy.check_representative(representative_data, module.input_shape)
    # int8 is quantized from the float file: look for that in the cache too
    needed = ("float32", *modes) if "int8" in modes else modes
    paths = {mode: onnx_cache_path(key, module, mode, representative_data)
             for mode in needed} if key else {}
    files = {mode: path.read_bytes() for mode, path in paths.items() if path.is_file()}
    if any(mode not in files for mode in modes):
        from .train import write_atomically

        made = {}
        if "float32" not in files:
            made["float32"] = files["float32"] = _export_float(module)
        if "int8" in modes and "int8" not in files:
            made["int8"] = files["int8"] = quantize_int8(files["float32"], representative_data)
        for mode, content in made.items():
            if mode in paths:
                write_atomically(paths[mode], content)
    return {mode: files[mode] for mode in modes}


def _export_float(module) -> bytes:
    """``torch.onnx.export`` of ``module`` in eval mode, with a dynamic batch dimension."""
    import torch

    height, width, channels = module.input_shape
    example = torch.zeros(2, channels, height, width)
    was_training = module.training
    module.eval()
    try:
        with _quiet():
            program = torch.onnx.export(
                module, (example,), dynamo=True, input_names=[INPUT], output_names=[OUTPUT],
                dynamic_shapes=({0: torch.export.Dim("batch")},), verbose=False)
    finally:
        module.train(was_training)
    return program.model_proto.SerializeToString()


class _Calibration:
    """``onnxruntime.quantization.CalibrationDataReader``'s protocol: ``get_next`` returns one
    input feed per call, ``None`` when the images are used up."""

    def __init__(self, images: np.ndarray):
        from .data import to_channels_first

        self.batches = iter([{INPUT: to_channels_first(images[i:i + CALIBRATION_BATCH])}
                             for i in range(0, len(images), CALIBRATION_BATCH)])

    def get_next(self):
        return next(self.batches, None)


def quantize_int8(float_bytes: bytes, representative_data) -> bytes:
    """ONNX Runtime's static quantization of a float ONNX model, the settings in one place.

    ``quant_pre_process`` first infers every tensor's shape and folds batch normalization into
    the convolutions (the quantizer then sees the kernels that will run). ``quantize_static``
    then inserts ``QuantizeLinear``/``DequantizeLinear`` pairs (``QuantFormat.QDQ``): int8
    weights with one symmetric scale per output channel (``per_channel=True``), int8 activations
    with one scale and zero-point per tensor, their ranges the minimum and maximum seen on
    ``representative_data`` (``CalibrationMethod.MinMax``), the choices TF Lite makes too.
    """
    from onnxruntime.quantization import (CalibrationMethod, QuantFormat, QuantType,
                                          quant_pre_process, quantize_static)

    data = np.asarray(representative_data, dtype=np.float32)
    with tempfile.TemporaryDirectory(prefix="mobilecnn_onnx_") as folder, _quiet():
        folder = Path(folder)
        (folder / "float.onnx").write_bytes(float_bytes)
        quant_pre_process(folder / "float.onnx", folder / "prepared.onnx")
        quantize_static(folder / "prepared.onnx", folder / "int8.onnx", _Calibration(data),
                        quant_format=QuantFormat.QDQ, per_channel=True,
                        activation_type=QuantType.QInt8, weight_type=QuantType.QInt8,
                        calibrate_method=CalibrationMethod.MinMax)
        return (folder / "int8.onnx").read_bytes()


def onnx_cache_path(key: str, module, mode: str, representative_data=None) -> Path:
    """Where :func:`export_all` keeps the ``mode`` file of the trained run ``key``:
    ``<cache_dir>/onnx/<name>_<key>_<mode>_<hash>.onnx``. ``hash`` covers the module's weights
    as they are now, the representative data for ``"int8"``, and the versions of PyTorch and
    ONNX Runtime (the exporter and the quantizer write the file)."""
    import onnxruntime
    import torch

    return deploy.cache_file(
        "onnx", getattr(module, "arch", type(module).__name__), key, mode,
        f"{mode} torch={torch.__version__} ort={onnxruntime.__version__}",
        ((n, v.detach().cpu().numpy()) for n, v in module.state_dict().items()),
        representative_data)


@contextlib.contextmanager
def _quiet():
    """Silence the exporter and the quantizer: their Python warnings, their loggers (the exporter
    logs that torchvision's operators are not registered; torchvision is not installed here) and
    whatever C++ code writes to the file descriptors. Errors still carry their messages."""
    loggers = [logging.getLogger(name) for name in ("torch.onnx", "torch.export", "root",
                                                    "onnxruntime", "onnxscript")]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings(), deploy._silenced():
            warnings.simplefilter("ignore")
            yield
    finally:
        for logger, level in zip(loggers, levels):
            logger.setLevel(level)


def _check_mode(mode) -> str:
    if mode not in MODES:
        raise ValueError(f"unknown mode {mode!r}; mode must be one of "
                         + ", ".join(repr(m) for m in MODES))
    return mode


def _is_train_result(model) -> bool:
    from .train import TrainResult

    return isinstance(model, TrainResult)


def _torch_module(model):
    """A PyTorch module built by :func:`mobilecnn.torch_model`, also from a ``TrainResult``."""
    module = model.model if _is_train_result(model) else model
    if not (type(module).__module__.startswith(("torch", "mobilecnn.torch_backend"))
            and hasattr(module, "input_shape") and hasattr(module, "state_dict")):
        raise ValueError(f"model must be a PyTorch module built by mobilecnn.torch_model (or a "
                         f"TrainResult of one), got {type(module).__name__}")
    return module


# ---- running ------------------------------------------------------------------------------------

class ONNXClassifier:
    """An ONNX classifier run by ONNX Runtime: float images in ``[0, 1]`` in, probabilities out.

    ``model`` is the ONNX file (bytes, as :func:`export` returns) or its path. :meth:`predict`
    takes any number of channels-last images ``(N, H, W, C)``, as the rest of the book does, and
    hands them to the model channels-first in chunks of at most ``batch_size``; the exported
    batch dimension is dynamic, so one session serves every batch size. Each image's result does
    not depend on the batch it came in (tested).

    One thread by default (``num_threads``), for the reasons :class:`mobilecnn.deploy.
    TFLiteClassifier` gives; idle worker threads do not spin, so as not to steal the core from
    other processes.
    """

    def __init__(self, model, num_threads: int = 1, batch_size: int = 64):
        if isinstance(model, (str, os.PathLike)):
            model = Path(model).read_bytes()
        if not isinstance(model, (bytes, bytearray)):
            raise ValueError(f"model must be ONNX bytes or a path to a .onnx file, got "
                             f"{type(model).__name__}")
        for name, value in (("num_threads", num_threads), ("batch_size", batch_size)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a whole number >= 1, got {value!r}")
        import onnxruntime as ort

        self.model_bytes = bytes(model)
        self.num_threads = num_threads
        self.batch_size = batch_size
        options = ort.SessionOptions()
        options.intra_op_num_threads = num_threads
        options.inter_op_num_threads = 1
        options.log_severity_level = 3
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self.session = ort.InferenceSession(self.model_bytes, options,
                                            providers=["CPUExecutionProvider"])
        inp, out = self.session.get_inputs()[0], self.session.get_outputs()[0]
        self.input_name, self.output_name = inp.name, out.name
        channels, height, width = (int(d) for d in inp.shape[1:])
        self.image_shape = (height, width, channels)
        self.num_classes = int(out.shape[-1])

    @property
    def size(self) -> int:
        """The size of the ONNX file in bytes."""
        return len(self.model_bytes)

    def predict(self, x) -> np.ndarray:
        """Class probabilities ``(N, num_classes)``, float32, for float images ``(N, H, W, C)``."""
        from .data import to_channels_first

        x = deploy.image_batch(x, self.image_shape)
        out = np.empty((len(x), self.num_classes), dtype=np.float32)
        for start in range(0, len(x), self.batch_size):
            chunk = to_channels_first(x[start:start + self.batch_size])
            out[start:start + len(chunk)] = self.session.run(
                [self.output_name], {self.input_name: chunk})[0]
        return out

    def __call__(self, x) -> np.ndarray:
        return self.predict(x)

    def _proto(self):
        import onnx

        return onnx.load_model_from_string(self.model_bytes)

    def operators(self) -> Counter:
        """How many nodes of each type (``Conv``, ``QuantizeLinear``, ...) the file has."""
        return Counter(node.op_type for node in self._proto().graph.node)

    def weight_bytes(self) -> dict:
        """Bytes of the constant tensors (initializers) in the file, by data type."""
        import onnx

        total = Counter()
        for tensor in self._proto().graph.initializer:
            dtype = onnx.helper.tensor_dtype_to_np_dtype(tensor.data_type)
            total[np.dtype(dtype).name] += int(np.prod(tensor.dims)) * np.dtype(dtype).itemsize
        return dict(total)

    def __repr__(self) -> str:
        return (f"ONNXClassifier({self.size:,} bytes, input {self.image_shape}, "
                f"{self.num_classes} classes)")


# ---- measuring ----------------------------------------------------------------------------------

def torch_size(module) -> int:
    """Bytes of a module's floating-point state (weights and batch-norm statistics, as Keras'
    ``count_params`` counts them; not the integer ``num_batches_tracked`` counters)."""
    return sum(value.numel() * value.element_size() for value in module.state_dict().values()
               if value.is_floating_point())


def evaluate(model, x, y, *, runs: int = 100, warmup: int = 10, batch_size: int = 64,
             label: str | None = None) -> deploy.Evaluation:
    """Accuracy, size and latency of an ONNX model or of a PyTorch module (or ``TrainResult``),
    measured by :func:`mobilecnn.deploy.evaluate`: the same batched pass and the same timed
    single-image calls as the Keras and TF Lite models, so that all four can share a table.

    ``model``: an :class:`ONNXClassifier` or ONNX bytes (size: the file), or a PyTorch module
    (size: :func:`torch_size`), called as ``module(images)`` under ``torch.inference_mode`` in
    eval mode, on as many threads as ``torch.get_num_threads()``.
    """
    if isinstance(model, (bytes, bytearray)):
        model = ONNXClassifier(model)
    if isinstance(model, ONNXClassifier):
        predict, size, label = model.predict, model.size, label or "ONNX Runtime"
    else:
        import torch

        from .data import to_channels_first

        module = _torch_module(model).eval()

        def predict(images):
            with torch.inference_mode():
                return module(torch.from_numpy(to_channels_first(images))).numpy()

        size, label = torch_size(module), label or "PyTorch"
    result = deploy.evaluate(predict, x, y, runs=runs, warmup=warmup, batch_size=batch_size,
                             label=label)
    return replace(result, size=size)


# ---- quantization in PyTorch: PT2E post-training and quantization-aware training ---------------

def _logits_module(module):
    """``module`` returning logits (``forward(x, logits=True)``), for a training loss."""
    import torch

    class Logits(torch.nn.Module):
        def __init__(self, inner):
            super().__init__()
            self.inner = inner

        def forward(self, x):
            return self.inner(x, logits=True)

    return Logits(module)


def _softmax_module(graph):
    """A quantized logits graph followed by the softmax, so that the file returns probabilities."""
    import torch

    class Probabilities(torch.nn.Module):
        def __init__(self, inner):
            super().__init__()
            self.inner = inner

        def forward(self, x):
            return torch.softmax(self.inner(x), dim=1)

    return Probabilities(graph)


def pt2e_int8(model, representative_data, x_train=None, y_train=None, *, epochs: int = 0,
              learning_rate: float = 1e-4, seed: int = 0) -> bytes:
    """An int8 ONNX file quantized in PyTorch with torchao's PT2E flow; with ``epochs > 0``,
    after **quantization-aware training** (QAT) on ``x_train, y_train``.

    The module (without its softmax) is captured by ``torch.export`` with a dynamic batch; the
    ``X86InductorQuantizer`` marks where tensors become int8 (weights symmetric per channel,
    activations uint8 per tensor). Without training, ``prepare_pt2e`` inserts observers that
    record ranges on ``representative_data`` (post-training quantization, like
    :func:`quantize_int8` but with PyTorch's quantizer). With ``epochs``, ``prepare_qat_pt2e``
    inserts *fake quantization* instead (round to the int8 grid in the forward pass, pass the
    gradient straight through in the backward pass) and simulates the folding of batch norm into
    the kernels, and the model is trained on for ``epochs`` with AdamW at ``learning_rate``,
    batches and shifts as in :mod:`mobilecnn.train`'s recipe: the weights learn to live on the
    grid. ``convert_pt2e`` then gives a graph of quantize/dequantize pairs, and
    ``torch.onnx.export`` writes it as ONNX ``QuantizeLinear``/``DequantizeLinear`` nodes,
    which ONNX Runtime runs with integer kernels like any other QDQ file.
    """
    import copy

    import torch
    from torchao.quantization.pt2e import (move_exported_model_to_eval,
                                           move_exported_model_to_train)
    from torchao.quantization.pt2e.quantize_pt2e import (convert_pt2e, prepare_pt2e,
                                                         prepare_qat_pt2e)
    from torchao.quantization.pt2e.quantizer.x86_inductor_quantizer import (
        X86InductorQuantizer, get_default_x86_inductor_quantization_config)

    from .data import to_channels_first
    from .train import RECIPE, batches

    module = _torch_module(model)
    representative_data = deploy.check_representative(representative_data, module.input_shape)
    qat = epochs > 0
    if qat and (x_train is None or y_train is None):
        raise ValueError("quantization-aware training (epochs > 0) needs x_train and y_train")
    torch.manual_seed(seed)
    logits = _logits_module(copy.deepcopy(module).train(qat))
    example = (torch.from_numpy(to_channels_first(representative_data[:2])),)
    quantizer = X86InductorQuantizer().set_global(
        get_default_x86_inductor_quantization_config(is_qat=qat))
    with _quiet():
        graph = torch.export.export(logits, example,
                                    dynamic_shapes=({0: torch.export.Dim("batch")},)).module()
        prepared = (prepare_qat_pt2e if qat else prepare_pt2e)(graph, quantizer)
    if qat:
        optimizer = torch.optim.AdamW(prepared.parameters(), lr=learning_rate, weight_decay=0.0)
        rng = np.random.default_rng(seed)
        move_exported_model_to_train(prepared)
        for _ in range(epochs):
            for xb, yb in batches(np.asarray(x_train, np.float32), np.asarray(y_train), RECIPE,
                                  rng):
                loss = torch.nn.functional.cross_entropy(
                    prepared(torch.from_numpy(to_channels_first(xb))),
                    torch.from_numpy(np.asarray(yb)))
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
    move_exported_model_to_eval(prepared)
    with torch.no_grad():
        for i in range(0, len(representative_data), CALIBRATION_BATCH):
            prepared(torch.from_numpy(to_channels_first(
                representative_data[i:i + CALIBRATION_BATCH])))
    with _quiet():
        converted = convert_pt2e(prepared)
        program = torch.onnx.export(
            _softmax_module(converted), example, dynamo=True, input_names=[INPUT],
            output_names=[OUTPUT], dynamic_shapes=({0: torch.export.Dim("batch")},),
            verbose=False)
    return program.model_proto.SerializeToString()
