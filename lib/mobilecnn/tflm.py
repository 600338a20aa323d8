"""TensorFlow Lite for Microcontrollers (TFLM): the runtime a microcontroller runs, on the host.

The ``tflite-micro`` package runs TFLM's own C++ interpreter (reference kernels, one arena, no
heap) from Python. This module uses it to check what :mod:`mobilecnn.microcontroller` estimates:

* :func:`convert` writes the file a firmware embeds: int8 in and out, a fixed batch of one (no
  ``SHAPE``/``STRIDED_SLICE``/``PACK`` chain computing the batch at run time), checked by
  :func:`check_file`;
* :func:`interpreter` loads it into TFLM, which is the operator-support check: an operator TFLM
  has no kernel for is a ``ValueError`` that names it; :func:`run` runs images through it;
* :func:`arena` measures the tensor arena the interpreter allocated (its report is printed from
  C++, and is captured at the file-descriptor level so that nothing reaches a notebook page);
  :func:`difference` explains, line by line, how that arena differs from the analytic
  ``profile(...).peak_activation_bytes(8)``;
* :func:`c_array` and :func:`op_resolver` are the two pieces of C++ a firmware needs: the model as
  an aligned byte array (what ``xxd -i`` writes) and a ``MicroMutableOpResolver`` registering
  exactly the model's operators (unregistered kernels are not linked, which saves flash).

The arena has two ends (TFLM's ``RecordingMicroAllocator`` reports both):

* the **head** holds the activations (every non-constant tensor, planned by TFLM's greedy memory
  planner so that tensors whose lifetimes do not overlap share bytes) and the kernels' scratch
  buffers. The analytic peak is the same idea computed from the network's layers; the head
  exceeds it where TFLM keeps a tensor alive that the analytic rule frees or overwrites in place
  (a ``HARD_SWISH`` or an ``ADD`` reads one buffer and writes another, both alive), where every
  buffer is rounded up to TFLM's 16-byte alignment, and where the greedy placement leaves gaps;
* the **tail** holds what lives as long as the interpreter: a ``TfLiteEvalTensor`` per tensor
  (data pointer, shape pointer, type), a node-and-registration record per operator, and each
  kernel's persistent data, mostly two int32 arrays per output channel of every convolution (the
  requantization multiplier and shift of the per-channel scales). The analytic rule counts none
  of it. Its pointer-holding records are about twice as large on this 64-bit host as on a 32-bit
  microcontroller (``TfLiteEvalTensor`` is 24 bytes here and 12 on a Cortex-M: a pointer, a
  pointer and a 4-byte enum), so :attr:`Arena.tail_32bit_estimate_bytes` halves them; the
  per-channel int32 arrays are the same size on both.

Nothing here imports TensorFlow except :func:`convert`; the interpreter needs only
``tflite_micro`` (imported when first used), so ``import mobilecnn`` stays framework-free.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

DYNAMIC_BATCH_OPS = ("SHAPE", "STRIDED_SLICE", "PACK")
"""The chain a dynamic-batch export adds to compute the batch size before a ``RESHAPE``: ``SHAPE``
reads the input's run-time shape, ``STRIDED_SLICE`` takes its batch, ``PACK`` builds the new
shape. ``STRIDED_SLICE`` and ``PACK`` have other uses (ShuffleNet v2's channel split is a
``STRIDED_SLICE``); ``SHAPE`` has none in a file whose shapes are all fixed, so it is the mark."""

ALIGNMENT = 16
"""Bytes every arena buffer is aligned to (TFLM's ``MicroArenaBufferAlignment()``)."""

SOFTMAX_MIN_SCALE = 2.0 ** -26
"""The smallest int8 ``SOFTMAX`` input scale (times beta) TFLM accepts: its softmax multiplier is
``beta * scale * 2**26`` (``2**(31 - 5)``, five integer bits) and must exceed 1, or TFLM's
``QuantizeMultiplierGreaterThanOne`` aborts the whole process. A network whose logits never vary
on the calibration data (an untrained network whose activations died) gets such a scale."""

CONVOLUTIONS = ("CONV_2D", "DEPTHWISE_CONV_2D")
"""The operators whose TFLM kernels keep an int32 multiplier and shift per output channel."""

_RESOLVER_NAMES = {"PADV2": "PadV2", "CUMSUM": "CumSum", "BATCH_MATMUL": "BatchMatMul",
                   "UNIDIRECTIONAL_SEQUENCE_LSTM": "UnidirectionalSequenceLSTM"}


# ---- the file a microcontroller runs ------------------------------------------------------------

def convert(model, representative_data, *, cache: bool = True) -> bytes:
    """The int8 ``.tflite`` file of a Keras ``model`` (or a ``TrainResult``) for a microcontroller.

    Full integer quantization calibrated on ``representative_data``
    (:func:`mobilecnn.deploy.convert` in mode ``"int8"``), exported with a fixed batch of one,
    then checked by :func:`check_file`. Names are kept: TFLM does not read them, and a build
    that wants the smallest file strips them (:func:`mobilecnn.deploy.strip_strings`).
    """
    from . import deploy

    flatbuffer = deploy.convert(model, "int8", representative_data, cache=cache, batch=1)
    check_file(flatbuffer)
    return flatbuffer


def untrained_file(name: str, *, num_classes: int = 10, seed: int = 0, calibration: int = 16,
                   **setting) -> tuple:
    """``(model_bytes, profile, images)``: the microcontroller file (:func:`convert`) of ``name``
    at ``setting`` (its ``Architecture.smoke`` setting by default) with random weights, the
    network's :class:`mobilecnn.Profile`, and the ``calibration`` random images (seeded) that
    set its batch norms (:func:`mobilecnn.keras_backend.calibrate_batchnorm`) and calibrated its
    int8 ranges. Its arena and operators are those of the trained network's file; its size is
    close to it (no zero biases to share); its outputs mean nothing. Dropout, where the
    architecture has it, is off."""
    import keras

    from . import architectures, keras_backend
    from .profiler import profile

    arch = architectures.get(name)
    setting = setting or arch.smoke_setting
    extra = ({"dropout": 0.0} if any(m.name == "dropout" for m in arch.metaparameters)
             and "dropout" not in setting else {})
    keras.utils.set_random_seed(seed)
    model = keras_backend.build(architectures.describe(name, num_classes=num_classes, **extra,
                                                       **setting), name)
    size = model.inputs[0].shape[1:]
    images = np.random.default_rng(seed).uniform(size=(calibration, *size)).astype("float32")
    keras_backend.calibrate_batchnorm(model, images)
    model_bytes = convert(model, images, cache=False)
    keras.backend.clear_session()
    return model_bytes, profile(name, num_classes=num_classes, **setting), images


def _model(model_bytes: bytes):
    from .deploy import flatbuffer_schema

    if not isinstance(model_bytes, (bytes, bytearray)):
        raise ValueError(f"model_bytes must be the bytes of a .tflite file, got "
                         f"{type(model_bytes).__name__}")
    schema = flatbuffer_schema()
    return schema, schema.Model.GetRootAs(bytes(model_bytes), 0)


def _name(tensor) -> str:
    """A tensor's name, or ``""`` in a file stripped of names."""
    name = tensor.Name()
    return name.decode() if name is not None else ""


def _dtype_name(schema, code: int) -> str:
    names = {v: k for k, v in vars(schema.TensorType).items() if not k.startswith("_")}
    return names.get(code, str(code)).lower()


def check_file(model_bytes: bytes) -> None:
    """A ``ValueError`` that says why ``model_bytes`` is not a microcontroller file, if it is not:
    its input and output must be int8 and its batch fixed: no ``-1`` in an input's
    ``shape_signature`` and no ``SHAPE`` operator (:data:`DYNAMIC_BATCH_OPS`)."""
    schema, model = _model(model_bytes)
    graph = model.Subgraphs(0)
    problems = []
    for kind, count, get in (("input", graph.InputsLength(), graph.Inputs),
                             ("output", graph.OutputsLength(), graph.Outputs)):
        for i in range(count):
            tensor = graph.Tensors(get(i))
            dtype = _dtype_name(schema, tensor.Type())
            if dtype != "int8":
                problems.append(f"its {kind} {i} is {dtype}, not int8")
            signature = tensor.ShapeSignatureAsNumpy() if tensor.ShapeSignatureLength() else []
            if kind == "input" and any(int(d) < 0 for d in signature):
                problems.append(f"its input {i} has a dynamic batch (shape_signature "
                                f"{tuple(int(d) for d in signature)})")
    ops = operators(model_bytes)
    if "SHAPE" in ops:
        chain = [op for op in DYNAMIC_BATCH_OPS if op in ops]
        problems.append(f"it computes its batch at run time ({', '.join(chain)})")
    if problems:
        raise ValueError("model_bytes is not a microcontroller file: " + "; ".join(problems)
                         + ". Convert it with mobilecnn.tflm.convert (int8, batch 1).")


def operators(model_bytes: bytes) -> list:
    """The operator kinds of the model (``CONV_2D``, ...), in the order they first appear."""
    from .deploy import operator_counts

    return list(operator_counts(bytes(model_bytes)))


# ---- the two pieces of C++ a firmware needs ---------------------------------------------------

def resolver_method(op: str) -> str:
    """The ``MicroMutableOpResolver`` method that registers ``op``: ``CONV_2D`` -> ``AddConv2D``."""
    if op in _RESOLVER_NAMES:
        return "Add" + _RESOLVER_NAMES[op]
    parts = [p if re.fullmatch(r"\d+D", p) else p[:1] + p[1:].lower() for p in op.split("_")]
    return "Add" + "".join(parts)


def op_resolver(model_bytes: bytes, name: str = "op_resolver") -> str:
    """C++ that registers exactly the model's operators with TFLM.

    ``MicroMutableOpResolver<N>`` holds ``N`` registrations, so ``N`` is the number of operator
    kinds; kernels that are not registered are not linked into the firmware. Each ``Add...``
    returns a status the firmware should check.
    """
    ops = operators(model_bytes)
    lines = [f"// The model's {len(ops)} operator kinds; the template argument is their count.",
             f"static tflite::MicroMutableOpResolver<{len(ops)}> {name};"]
    lines += [f"{name}.{resolver_method(op)}();" for op in ops]
    return "\n".join(lines) + "\n"


def c_array(model_bytes: bytes, name: str = "g_model") -> str:
    """The model as a C array, as ``xxd -i`` writes it, with ``alignas(16)`` and ``const``.

    ``const`` keeps the array in flash (the linker places read-only data there); ``alignas(16)``
    places it at an address that is a multiple of 16, so that the flatbuffer's tables and the
    weight buffers inside it (aligned relative to the file's start) are aligned in memory, as
    TFLM reads them in place. Twelve bytes per line, then the length, as ``xxd -i`` does.
    """
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
        raise ValueError(f"name must be a C identifier, got {name!r}")
    data = bytes(model_bytes)
    rows = (", ".join(f"0x{b:02x}" for b in data[i:i + 12]) for i in range(0, len(data), 12))
    return (f"alignas(16) const unsigned char {name}[] = {{\n  " + ",\n  ".join(rows)
            + f"\n}};\nconst unsigned int {name}_len = {len(data)};\n")


def quantize_pixels(model_bytes: bytes, pixels) -> np.ndarray:
    """8-bit camera pixels (0 to 255) as the model's int8 input.

    The book's models take images in ``[0, 1]``, so the converter gives the input the scale
    ``1/255`` and the zero-point ``-128``: ``q = round(pixel / 255 / scale) + zero_point`` is then
    exactly ``pixel - 128``, one subtraction per pixel on the device.
    """
    from .deploy import quantize

    pixels = np.asarray(pixels)
    if pixels.dtype != np.uint8:
        raise ValueError(f"pixels must be uint8 (0 to 255), got {pixels.dtype}")
    scale, zero_point = _input_quantization(model_bytes)
    return quantize(pixels.astype(np.float64) / 255.0, scale, zero_point)


def _input_quantization(model_bytes: bytes) -> tuple:
    _, model = _model(model_bytes)
    graph = model.Subgraphs(0)
    q = graph.Tensors(graph.Inputs(0)).Quantization()
    return float(q.ScaleAsNumpy()[0]), int(q.ZeroPointAsNumpy()[0])


# ---- running it ---------------------------------------------------------------------------------

def _check_softmax(model_bytes: bytes) -> None:
    """Raise before TFLM would abort the process on a softmax scale below its limit."""
    schema, model = _model(model_bytes)
    graph = model.Subgraphs(0)
    for i in range(graph.OperatorsLength()):
        op = graph.Operators(i)
        code = model.OperatorCodes(op.OpcodeIndex())
        if max(code.BuiltinCode(), code.DeprecatedBuiltinCode()) != schema.BuiltinOperator.SOFTMAX:
            continue
        tensor = graph.Tensors(op.Inputs(0))
        if _dtype_name(schema, tensor.Type()) != "int8":
            continue
        options = schema.SoftmaxOptions()
        table = op.BuiltinOptions()
        beta = 1.0
        if table is not None:
            options.Init(table.Bytes, table.Pos)
            beta = float(options.Beta())
        scale = float(tensor.Quantization().ScaleAsNumpy()[0])
        if beta * scale <= SOFTMAX_MIN_SCALE:
            raise ValueError(
                f"the SOFTMAX input {_name(tensor)!r} has scale {scale:.3g} (beta "
                f"{beta:g}); TFLM needs beta * scale > 2**-26 = {SOFTMAX_MIN_SCALE:.3g}, and "
                "aborts otherwise. Its logits did not vary on the calibration data: train the "
                "network (or calibrate its batch norms) before converting it.")


def arena_size_for(model_bytes: bytes) -> int:
    """An arena large enough for any of the book's files: every activation without sharing, the
    file's size (the tail grows with the number of channels and operators, both far fewer bytes
    than the weights) and 1 MiB. The host has memory to spare; the report says what was used."""
    return sum(t.bytes for t in lifetimes(model_bytes)) + len(model_bytes) + (1 << 20)


def interpreter(model_bytes: bytes, arena_size: int | None = None):
    """TFLM's interpreter (``tflite_micro.runtime.Interpreter``) with ``model_bytes`` loaded and
    its arena allocated (``arena_size`` bytes, :func:`arena_size_for` by default).

    Loading is the operator-support check: TFLM looks up a kernel for every operator when it
    allocates, so a model using an operator that TFLM lacks is a ``ValueError`` naming it. Whatever
    the interpreter prints is captured (see :func:`mobilecnn.tf_import.captured`); a failure's
    message carries it.
    """
    from tflite_micro import runtime

    from .tf_import import captured

    _check_softmax(model_bytes)
    arena_size = arena_size_for(model_bytes) if arena_size is None else arena_size
    if isinstance(arena_size, bool) or not isinstance(arena_size, int) or arena_size < 1:
        raise ValueError(f"arena_size must be a whole number of bytes >= 1, got {arena_size!r}")
    try:
        with captured() as output:
            return runtime.Interpreter.from_bytes(bytes(model_bytes), arena_size=arena_size)
    except RuntimeError as error:
        missing = re.findall(r"Didn't find op for builtin opcode '([^']+)'", output.text)
        if missing:
            raise ValueError(f"TFLM has no kernel for {', '.join(sorted(set(missing)))}: the "
                             f"model cannot run on a microcontroller with TFLM as it is "
                             f"(TFLM said: {output.text.strip()})") from error
        raise RuntimeError(f"TFLM could not load the model: {output.text.strip() or error}") \
            from error


def run(model_bytes: bytes, x, tflm=None) -> np.ndarray:
    """TFLM's int8 outputs ``(N, ...)`` for int8 inputs ``x`` ``(N, H, W, C)``, one image per call
    (the file's batch is one). ``tflm`` is an :func:`interpreter` to reuse."""
    tflm = interpreter(model_bytes) if tflm is None else tflm
    shape = tuple(int(d) for d in tflm.get_input_details(0)["shape"])
    x = np.asarray(x)
    if x.dtype != np.int8 or x.ndim != len(shape) or x.shape[1:] != shape[1:]:
        raise ValueError(f"x must be int8 images of shape (N, {', '.join(map(str, shape[1:]))}), "
                         f"got {x.dtype} {x.shape}")
    from .tf_import import captured

    out = []
    with captured():
        for image in x:
            tflm.set_input(image[None], 0)
            tflm.invoke()
            out.append(np.array(tflm.get_output(0))[0])
    return np.stack(out)


# ---- the arena ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Allocation:
    """One line of TFLM's tail report: what was allocated, its bytes with alignment, the bytes
    requested, and how many allocations (of ``unit``) it was."""

    name: str
    used_bytes: int
    requested_bytes: int
    count: int
    unit: str


@dataclass(frozen=True)
class Arena:
    """The tensor arena TFLM allocated for a model, as its ``RecordingMicroAllocator`` reports it.

    ``head_bytes`` (activations and scratch buffers), ``tail_bytes`` (what lives as long as the
    interpreter), ``total_bytes`` (their sum: the smallest arena that works, on this host), the
    tail's ``allocations`` by kind, and the ``report`` as TFLM printed it.
    """

    head_bytes: int
    tail_bytes: int
    total_bytes: int
    allocations: tuple
    report: str

    def allocation(self, name: str) -> Allocation:
        """The tail allocation called ``name`` (for example ``'Persistent buffer data'``)."""
        for a in self.allocations:
            if a.name == name:
                return a
        raise ValueError(f"no allocation {name!r}; the report lists "
                         + ", ".join(repr(a.name) for a in self.allocations))

    @property
    def tail_other_bytes(self) -> int:
        """Tail bytes the report does not itemize (the interpreter's and allocator's own
        objects, which TFLM also places in the arena)."""
        return self.tail_bytes - sum(a.used_bytes for a in self.allocations)

    @property
    def tail_32bit_estimate_bytes(self) -> int:
        """An estimate of the tail on a 32-bit microcontroller: the kernels' persistent buffers
        (int32 arrays per channel, the same size on both) plus half of everything else, whose
        records consist mostly of pointers (8 bytes here, 4 on a Cortex-M). An estimate: a few
        4-byte fields and the kernels' own small structs do not halve."""
        persistent = sum(a.used_bytes for a in self.allocations
                         if a.name == "Persistent buffer data")
        return persistent + (self.tail_bytes - persistent) // 2

    @property
    def total_32bit_estimate_bytes(self) -> int:
        """``head_bytes`` (the same on a 32-bit device: int8 buffers and 16-byte alignment) plus
        :attr:`tail_32bit_estimate_bytes`. Kernels optimised for the device (CMSIS-NN) ask for
        scratch buffers the reference kernels measured here do not, which adds to the head."""
        return self.head_bytes + self.tail_32bit_estimate_bytes

    def as_dict(self) -> dict:
        return {"head_bytes": self.head_bytes, "tail_bytes": self.tail_bytes,
                "total_bytes": self.total_bytes,
                "tail_32bit_estimate_bytes": self.tail_32bit_estimate_bytes,
                "tail_other_bytes": self.tail_other_bytes,
                "allocations": [vars(a) for a in self.allocations]}


_TOTALS = re.compile(r"Arena allocation (total|head|tail) (\d+) bytes")
_LINE = re.compile(r"'([^']+)' used (\d+) bytes with alignment overhead \(requested (\d+) bytes "
                   r"for (\d+) ([^)]*)\)")


def parse_report(text: str) -> Arena:
    """An :class:`Arena` from the text of TFLM's ``print_allocations()``."""
    totals = {kind: int(n) for kind, n in _TOTALS.findall(text)}
    if set(totals) != {"total", "head", "tail"}:
        raise ValueError(f"not a TFLM allocation report (no total, head and tail lines): "
                         f"{text[:200]!r}")
    allocations = tuple(Allocation(name, int(used), int(requested), int(count), unit)
                        for name, used, requested, count, unit in _LINE.findall(text))
    return Arena(totals["head"], totals["tail"], totals["total"], allocations, text)


def arena(model_bytes: bytes, tflm=None) -> Arena:
    """The arena TFLM allocates for ``model_bytes``, measured by its interpreter.

    TFLM plans and allocates the whole arena when the interpreter is created (running images
    afterwards allocates nothing: the report after an ``invoke()`` is the same). The
    interpreter's ``print_allocations()`` report, which TFLM writes from C++ to file descriptor
    2, is captured and parsed (:func:`parse_report`); nothing reaches the terminal or a notebook.
    ``tflm`` is an :func:`interpreter` of the same file to reuse.
    """
    from .tf_import import captured

    tflm = interpreter(model_bytes) if tflm is None else tflm
    with captured() as output:
        tflm.print_allocations()
    return parse_report(output.text)


# ---- why it differs from the analytic peak ------------------------------------------------------

@dataclass(frozen=True)
class TensorLife:
    """A non-constant tensor of the model, its bytes, and the operators (by index) that first
    write it and last read it, as TFLM's planner sees them: a model input is alive from the
    first operator, a model output until the last."""

    index: int
    name: str
    bytes: int
    first: int
    last: int


def lifetimes(model_bytes: bytes) -> list:
    """Every activation of the model (tensors without data in the file) as a :class:`TensorLife`."""
    schema, model = _model(model_bytes)
    graph = model.Subgraphs(0)
    n_ops = graph.OperatorsLength()
    first, last = {}, {}
    for i in range(graph.InputsLength()):
        first[graph.Inputs(i)] = 0
    for i in range(n_ops):
        op = graph.Operators(i)
        for t in (op.InputsAsNumpy() if op.InputsLength() else []):
            if t >= 0:
                last[int(t)] = i
        for t in (op.OutputsAsNumpy() if op.OutputsLength() else []):
            first.setdefault(int(t), i)
    for i in range(graph.OutputsLength()):
        last[graph.Outputs(i)] = max(n_ops - 1, 0)
    out = []
    for t in sorted(first):
        tensor = graph.Tensors(t)
        buffer = model.Buffers(tensor.Buffer())
        if buffer.DataLength() or buffer.Size():
            continue                              # a constant: weights stored in the file
        dtype = np.dtype(_dtype_name(schema, tensor.Type()))
        shape = tensor.ShapeAsNumpy() if tensor.ShapeLength() else []
        nbytes = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
        out.append(TensorLife(t, _name(tensor), nbytes, first[t], last.get(t, first[t])))
    return out


def live_peak(lives, alignment: int = 1) -> int:
    """The largest total of tensors alive during one operator (each rounded up to
    ``alignment`` bytes): what an optimal planner would need for these lifetimes."""
    lives = list(lives)
    if not lives:
        return 0
    n_ops = max(t.last for t in lives) + 1
    return max(sum(-(-t.bytes // alignment) * alignment for t in lives if t.first <= i <= t.last)
               for i in range(n_ops))


def channels_with_requantization(model_bytes: bytes) -> int:
    """Output channels of the model's convolutions (:data:`CONVOLUTIONS`); TFLM keeps an int32
    multiplier and an int32 shift for each, in the arena's tail."""
    schema, model = _model(model_bytes)
    graph = model.Subgraphs(0)
    codes = {getattr(schema.BuiltinOperator, op) for op in CONVOLUTIONS}
    total = 0
    for i in range(graph.OperatorsLength()):
        op = graph.Operators(i)
        code = model.OperatorCodes(op.OpcodeIndex())
        if max(code.BuiltinCode(), code.DeprecatedBuiltinCode()) in codes:
            total += int(graph.Tensors(op.Outputs(0)).ShapeAsNumpy()[-1])
    return total


@dataclass(frozen=True)
class Difference:
    """How TFLM's measured arena relates to the analytic peak, in bytes (see :func:`difference`).

    Head: ``analytic`` (``profile(...).peak_activation_bytes(8)``) + ``kept_alive`` (tensors TFLM
    keeps alive, or writes to a new buffer, where the analytic rule frees them or works in place;
    negative where the analytic rule counts a tensor the int8 file does not have) +
    ``alignment`` (each buffer rounded up to 16 bytes) + ``planner`` (the greedy planner's
    placement gaps and any kernel scratch buffers) = ``head``. Tail: ``requantization`` (8 bytes
    per convolution output channel) + ``other_persistent`` (the rest of the kernels' persistent
    data) + ``records`` (tensor, node and quantization records, and the interpreter's own
    objects) = ``tail``; ``tail_32bit_estimate`` is :attr:`Arena.tail_32bit_estimate_bytes`.
    """

    analytic: int
    kept_alive: int
    alignment: int
    planner: int
    head: int
    requantization: int
    other_persistent: int
    records: int
    tail: int
    tail_32bit_estimate: int
    total: int

    def rows(self) -> list:
        """``(what, bytes)`` lines that add up, for a table: the head, then the tail."""
        return [("analytic peak, profile(...).peak_activation_bytes(8)", self.analytic),
                ("+ tensors TFLM keeps alive that the analytic rule frees or overwrites in place",
                 self.kept_alive),
                ("+ every buffer aligned to 16 bytes", self.alignment),
                ("+ greedy planner's placement gaps and kernel scratch buffers", self.planner),
                ("= arena head (activations), measured", self.head),
                ("requantization: int32 multiplier and shift per convolution output channel",
                 self.requantization),
                ("+ the kernels' other persistent data", self.other_persistent),
                ("+ tensor, node and quantization records, the interpreter's own objects",
                 self.records),
                ("= arena tail (persistent), measured on this 64-bit host", self.tail),
                ("arena tail on a 32-bit microcontroller (estimate: pointers halve)",
                 self.tail_32bit_estimate),
                ("arena total (head + tail), measured", self.total)]

    def as_dict(self) -> dict:
        return dict(vars(self))


def difference(model_bytes: bytes, prof, measured: Arena | None = None) -> Difference:
    """Every byte between the analytic peak of ``prof`` (a :class:`mobilecnn.Profile` of the
    network the file holds) and the arena TFLM allocates for ``model_bytes`` (``measured``, or
    :func:`arena`), itemized as :class:`Difference` explains."""
    measured = arena(model_bytes) if measured is None else measured
    lives = lifetimes(model_bytes)
    live, aligned = live_peak(lives), live_peak(lives, ALIGNMENT)
    analytic = int(prof.peak_activation_bytes(8))
    requantization = 8 * channels_with_requantization(model_bytes)
    persistent = sum(a.used_bytes for a in measured.allocations
                     if a.name == "Persistent buffer data")
    return Difference(
        analytic=analytic, kept_alive=live - analytic, alignment=aligned - live,
        planner=measured.head_bytes - aligned, head=measured.head_bytes,
        requantization=requantization, other_persistent=persistent - requantization,
        records=measured.tail_bytes - persistent, tail=measured.tail_bytes,
        tail_32bit_estimate=measured.tail_32bit_estimate_bytes, total=measured.total_bytes)


def litert_outputs(model_bytes: bytes, q: np.ndarray, reference: bool) -> np.ndarray:
    """LiteRT's int8 outputs, one image per call, with its reference kernels or its default ones."""
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    from . import deploy

    classifier = deploy.TFLiteClassifier(model_bytes)
    if reference:
        interpreter = Interpreter(model_content=model_bytes,
                                  experimental_op_resolver_type=OpResolverType.BUILTIN_REF)
        interpreter.allocate_tensors()
    else:
        interpreter = classifier.interpreter(1)
    out = []
    for image in q:
        interpreter.set_tensor(classifier.input_details["index"], image[None])
        interpreter.invoke()
        out.append(interpreter.get_tensor(classifier.output_details["index"])[0])
    return np.array(out)
