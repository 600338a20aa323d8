"""Every architecture of the book on the same axes: what the comparison chapter computes.

* :func:`comparable_settings` picks, for every architecture, its paper's default and the
  settings of its slider grid (width and resolution) closest to a MAC budget. The budgets are
  :data:`CLASSES`, about 40M and 150M multiply-accumulates at 1000 classes.
* :func:`digits_settings` reads the settings that ``benchmarks/deploy.py`` trained on the digits
  in both frameworks, with their accuracies and int8 file sizes.
* :func:`measure` converts one setting to TF Lite in float32 and int8, and times it at batch 1
  in Keras (compiled), PyTorch (eval, no grad), and the two LiteRT files. The runtimes take turns
  (:func:`mobilecnn.latency.interleaved`).
* :func:`table` does all of that for every architecture: the rows of the chapter's table and
  of ``benchmarks/compare.py``.
* :func:`operator_probe` times single operators in float32 and int8 TF Lite, to find what makes
  an int8 file slow.
* :func:`pareto_front` finds the settings that no other beats on both axes.
  :func:`fits` and :class:`BudgetView` answer "which of these fit my budget?", in Python and on
  a static page, from what a microcontroller board would need (:func:`device_fields`: flash for
  the model and the runtime, SRAM for TFLM's measured arena and the stack, and a latency
  estimated from the board's clock, never an x86 timing) beside this machine's latencies.

Nothing here imports TensorFlow or PyTorch until :func:`measure` is called.
"""

from __future__ import annotations

import html
import json
import math
from dataclasses import dataclass

from . import architectures, latency, microcontroller
from .profiler import profile
from .reading import asset

CLASSES = (("paper default", None), ("~40M MACs", 40e6), ("~150M MACs", 150e6))
"""The comparison classes: a name and a MAC target (``None``: the paper's own default)."""

RUNTIMES = ("Keras", "PyTorch", "TF Lite float32", "TF Lite int8")
"""The four ways the chapter runs a network, in the order its tables show them."""

IMAGENET_CLASSES = 1000


def _names(names=None) -> list:
    return list(architectures.ARCHITECTURES) if names is None else list(names)


def setting_text(name: str, setting: dict) -> str:
    """``"alpha=0.5, 160 px"``: a setting as the tables print it (the image size last)."""
    parts = [f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}"
             for k, v in setting.items() if k not in ("image_size", "num_classes")]
    return ", ".join(parts + [f"{setting['image_size']} px"])


def closest_setting(name: str, target_macs: float, num_classes: int = IMAGENET_CLASSES) -> dict:
    """The setting of ``name``'s grid (:func:`mobilecnn.microcontroller.grid`: every width of its
    slider times the book's resolutions) whose MACs are closest to ``target_macs``, closest on a
    log scale (twice the target is as far as half of it). Ties go to the larger image."""
    if not (isinstance(target_macs, (int, float)) and target_macs > 0):
        raise ValueError(f"target_macs must be a positive number, got {target_macs!r}")

    def distance(setting):
        macs = profile(name, num_classes=num_classes, **setting).macs
        return abs(math.log(macs / target_macs)), -setting["image_size"]

    return min(microcontroller.grid(name), key=distance)


def default_setting(name: str) -> dict:
    """The paper's network: every default, at the paper's input size."""
    arch = architectures.get(name)
    width = {arch.width: arch.defaults[arch.width]} if arch.width else {}
    return {**width, "image_size": arch.base_resolution}


def counted(name: str, setting: dict, num_classes: int) -> dict:
    """What the profiler says of one setting: parameters, MACs, peak int8 activation bytes."""
    prof = profile(name, num_classes=num_classes, **setting)
    return {"params": prof.params, "macs": prof.macs,
            "peak_activation_bytes_int8": prof.peak_activation_bytes(8)}


def comparable_settings(names=None, classes=CLASSES) -> list:
    """One dict per (class, architecture): ``class``, ``architecture``, ``setting`` (the
    metaparameters and ``image_size``), ``num_classes`` (1000) and the :func:`counted` figures."""
    rows = []
    for label, target in classes:
        for name in _names(names):
            setting = default_setting(name) if target is None else closest_setting(name, target)
            rows.append({"class": label, "architecture": name, "setting": setting,
                         "num_classes": IMAGENET_CLASSES,
                         **counted(name, setting, IMAGENET_CLASSES)})
    return rows


def digits_settings(deploy_results: dict, names=None) -> list:
    """The settings ``benchmarks/deploy.py`` trained on the digits (its results, loaded from
    JSON), one dict per architecture, as :func:`comparable_settings` gives them, plus what that
    benchmark measured. It adds the test accuracy of the Keras model, the PyTorch model and the
    int8 LiteRT file (``accuracy_keras``, ``accuracy_torch``, ``accuracy_tflite_int8``), the
    int8 file's size stripped of names (``int8_bytes_trained``)."""
    if deploy_results.get("smoke"):
        raise ValueError("deploy_results come from a smoke run; the comparison needs a full one")
    measured = {(r["architecture"], r["runtime"], r["mode"]): r for r in deploy_results["rows"]}
    rows = []
    for name in _names(names):
        trained = deploy_results["trained"].get(name)
        if trained is None:
            raise ValueError(f"{name} is not in the deploy results; run benchmarks/deploy.py")
        setting = dict(trained["setting"])
        int8 = measured[name, "LiteRT", "int8"]
        rows.append({"class": "digits (trained)", "architecture": name, "setting": setting,
                     "num_classes": 10, **counted(name, setting, 10),
                     "accuracy_keras": measured[name, "Keras", "float32"]["accuracy"],
                     "accuracy_torch": measured[name, "PyTorch", "float32"]["accuracy"],
                     "accuracy_tflite_int8": int8["accuracy"],
                     "int8_bytes_trained": int8["stripped_bytes"]})
    return rows


def untrained_names(deploy_results: dict, names=None) -> list:
    """The architectures of ``names`` (all by default) that the deploy results did not train."""
    return [n for n in _names(names) if n not in deploy_results["trained"]]


# ---- measured ---------------------------------------------------------------------------------

def measure(name: str, setting: dict, num_classes: int, *, rounds: int = 5, repeats: int = 5,
            warmup: int = 3, threads: int = 1, seed: int = 0, calibration: int = 8) -> dict:
    """Latency (ms, median) of one setting in each of :data:`RUNTIMES` and its TF Lite sizes.

    The network is built with random weights (a float network's speed does not depend on them),
    in Keras and in PyTorch. Keras' batch norms take the statistics of ``calibration`` random
    images (:func:`mobilecnn.keras_backend.calibrate_batchnorm`), as training would give them
    statistics: otherwise every folded bias is zero, the converter stores the identical zero
    buffers once, and the int8 file comes out smaller than a trained one. The Keras model is
    converted to float32 and int8 TF Lite files, both stripped of names as a device build would
    be. The int8 file is calibrated on the same images, which decide its scales but not its
    speed, and loaded into TF Lite for Microcontrollers' interpreter to measure its tensor arena
    (:func:`mobilecnn.tflm.arena`: ``tflm_arena_bytes`` on this host, and
    ``tflm_arena_32bit_bytes``, its estimate for a 32-bit board; the file keeps its dynamic batch,
    whose few int32 shape tensors add some tens of bytes). The four are then timed in
    turn, ``rounds`` times ``repeats`` single-image calls each, on ``threads`` threads
    (TensorFlow's pools are fixed when it starts, by :func:`mobilecnn.book.setup`; a different
    request gives a warning). ``threads`` in the result says what each runtime used.
    """
    import numpy as np

    from . import deploy, keras_backend, tflm, torch_backend
    from .architectures import describe

    net = describe(name, num_classes=num_classes, **setting)
    keras_model = keras_backend.build(net, name)
    torch_model = torch_backend.build(net, name)
    images = np.random.default_rng(seed).uniform(size=(calibration, *net.input_shape))
    images = images.astype("float32")
    keras_backend.calibrate_batchnorm(keras_model, images)
    files = deploy.convert_all(keras_model, ("float32", "int8"), representative_data=images,
                               strip=True, cache=False)
    arena = tflm.arena(files["int8"])
    models = {"Keras": (keras_model, "keras"), "PyTorch": (torch_model, "torch"),
              "TF Lite float32": (files["float32"], "tflite"),
              "TF Lite int8": (files["int8"], "tflite")}
    timings = latency.interleaved(models, rounds=rounds, repeats=repeats, warmup=warmup,
                                  seed=seed, threads=threads)
    _release_keras(keras_model)
    return {"float32_bytes": len(files["float32"]), "int8_bytes": len(files["int8"]),
            "tflm_arena_bytes": arena.total_bytes,
            "tflm_arena_32bit_bytes": arena.total_32bit_estimate_bytes,
            **{f"latency_ms {label}": timings[label].ms for label in RUNTIMES},
            **{f"spread {label}": timings[label].spread for label in RUNTIMES},
            **{f"threads {label}": timings[label].threads for label in RUNTIMES}}


def table(deploy_results: dict, names=None, classes=CLASSES, *, log=None, **timing) -> list:
    """Every row of the chapter's table: the digits settings (:func:`digits_settings`, with their
    accuracies) and the :func:`comparable_settings` of ``classes``, each measured with
    :func:`measure` (``timing``: its ``rounds``, ``repeats``, ``warmup``, ``threads``). Each row
    gains ``setting_text``. ``log(row)`` is called after each measurement, for progress.
    Architectures that ``benchmarks/deploy.py`` has not trained (:func:`untrained_names`) have
    no digits row."""
    trained = [n for n in _names(names) if n not in untrained_names(deploy_results, names)]
    rows = digits_settings(deploy_results, trained) + comparable_settings(names, classes)
    for row in rows:
        row.update(measure(row["architecture"], row["setting"], row["num_classes"], **timing),
                   setting_text=setting_text(row["architecture"], row["setting"]))
        if log:
            log(row)
    return rows


PROBE_TAILS = ("none", "relu", "hard_sigmoid", "hard_swish", "squeeze_excite")
"""What :func:`operator_probe` puts after its 1x1 convolution."""


def probe_net(tail: str, shape: tuple = (28, 28, 96)):
    """A 1x1 convolution on a ``shape`` map followed by ``tail`` (one of :data:`PROBE_TAILS`):
    the smallest network that isolates one operator of MobileNet v3's blocks."""
    from .architectures.mobilenet_v3 import squeeze_excite
    from .graph import Net

    if tail not in PROBE_TAILS:
        raise ValueError(f"tail must be one of {', '.join(PROBE_TAILS)}, got {tail!r}")
    net = Net(tuple(shape))
    x = net.conv("input", shape[-1], 1, name="conv")
    if tail == "squeeze_excite":
        squeeze_excite(net, x, "probe_")
    elif tail != "none":
        getattr(net, tail)(x, name=tail)
    return net


def operator_probe(tails=PROBE_TAILS, shape: tuple = (28, 28, 96), *, rounds: int = 5,
                   repeats: int = 20, seed: int = 0) -> list:
    """Float32 against int8 TF Lite, one operator at a time: for each tail, :func:`probe_net`
    is converted both ways (calibrated on random inputs in [-3, 3], hard-swish's bend) and the
    two files are timed in turn on one thread. One dict per tail: ``tail``, ``float32_us``,
    ``int8_us`` and ``speedup`` (float32 time over int8 time; below 1, int8 is slower)."""
    import numpy as np

    from . import deploy, keras_backend

    rows = []
    for tail in tails:
        net = probe_net(tail, shape)
        model = keras_backend.build(net, f"probe_{tail}")
        images = np.random.default_rng(seed).uniform(-3, 3, size=(16, *net.input_shape))
        files = deploy.convert_all(model, ("float32", "int8"),
                                   representative_data=images.astype("float32"), cache=False)
        t = latency.interleaved({m: (files[m], "tflite") for m in ("float32", "int8")},
                                rounds=rounds, repeats=repeats, seed=seed, threads=1)
        _release_keras(model)
        rows.append({"tail": tail, "float32_us": 1e6 * t["float32"].median,
                     "int8_us": 1e6 * t["int8"].median,
                     "speedup": t["float32"].median / t["int8"].median})
    return rows


def _release_keras(model) -> None:
    """Drop Keras' global state for ``model`` so that dozens of models do not accumulate."""
    import keras

    del model
    keras.backend.clear_session()


# ---- reading the results ----------------------------------------------------------------------

def pareto_front(points) -> list:
    """Indices of the points ``(cost, value)`` that no other point beats: none is at most as
    costly and strictly better, or strictly cheaper and at least as good. In order of cost."""
    order = sorted(range(len(points)), key=lambda i: (points[i][0], -points[i][1]))
    front, best = [], -math.inf
    for i in order:
        if points[i][1] > best:
            front.append(i)
            best = points[i][1]
    return front


def _ranks(values) -> list:
    """Ranks from 1, ties given the mean of the ranks they span."""
    order = sorted(range(len(values)), key=lambda i: values[i])
    ranks = [0.0] * len(values)
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and values[order[j + 1]] == values[order[i]]:
            j += 1
        for k in range(i, j + 1):
            ranks[order[k]] = (i + j) / 2 + 1
        i = j + 1
    return ranks


def spearman(x, y) -> float:
    """Spearman's rank correlation of ``x`` and ``y``: the Pearson correlation of their ranks
    (ties get their mean rank). 1 means the two orders agree exactly, -1 that they are reversed."""
    x, y = list(map(float, x)), list(map(float, y))
    if len(x) != len(y) or len(x) < 3:
        raise ValueError(f"x and y must have the same length, at least 3, got {len(x)} and "
                         f"{len(y)}")
    rx, ry = _ranks(x), _ranks(y)
    mx, my = sum(rx) / len(rx), sum(ry) / len(ry)
    cov = sum((a - mx) * (b - my) for a, b in zip(rx, ry))
    var = math.sqrt(sum((a - mx) ** 2 for a in rx) * sum((b - my) ** 2 for b in ry))
    if var == 0:
        raise ValueError("x or y is constant: a rank correlation is undefined")
    return cov / var


def macs_predict_latency(rows, runtimes=RUNTIMES) -> dict:
    """How well MACs order the settings by latency in each runtime: ``{runtime: Spearman's rank
    correlation of macs and "latency_ms <runtime>"}`` over ``rows`` (those of :func:`table`)."""
    return {r: spearman([row["macs"] for row in rows], [row[f"latency_ms {r}"] for row in rows])
            for r in runtimes}


BOARD_ESTIMATE = "board estimate"
"""The budget view's runtime whose latency is :meth:`mobilecnn.microcontroller.Board.
latency_estimate_ms`: an estimate for the board, not a measurement."""

BUDGET_RUNTIMES = (BOARD_ESTIMATE, *RUNTIMES)
"""The runtimes of the budget view's menu: the board's estimate, then the four measured here."""


def device_fields(row: dict, board=microcontroller.BUDGET) -> dict:
    """What a measured setting ``row`` needs of ``board`` (:func:`mobilecnn.microcontroller.
    device_need`): ``flash_bytes`` for the model (``int8_bytes_trained``, the trained file's
    size, where there is one, else ``int8_bytes``) and the runtime, ``sram_bytes`` for TFLM's
    arena (``tflm_arena_32bit_bytes``) and the stack, and the board's estimated latency under
    ``"latency_ms board estimate"``. ``model_weights`` says which file the flash counts."""
    trained = row.get("int8_bytes_trained")
    model = trained if trained else row["int8_bytes"]
    need = microcontroller.device_need(model, row["tflm_arena_32bit_bytes"], row["macs"], board)
    return {"flash_bytes": need["flash_bytes"], "sram_bytes": need["sram_bytes"],
            f"latency_ms {BOARD_ESTIMATE}": need["latency_ms_estimate"],
            "model_weights": "trained" if trained else "untrained"}


def fits(row: dict, runtime: str, latency_ms: float, flash_bytes: float,
         sram_bytes: float) -> bool:
    """Whether ``row`` (a setting with its :func:`device_fields`) fits the budget: its latency in
    ``runtime`` (one of :data:`BUDGET_RUNTIMES`) at most ``latency_ms``, the flash it needs at
    most ``flash_bytes``, the SRAM it needs at most ``sram_bytes``. The same test as the page's
    script (``budget.js``)."""
    if runtime not in BUDGET_RUNTIMES:
        raise ValueError(f"runtime must be one of {', '.join(BUDGET_RUNTIMES)}, got {runtime!r}")
    return (row[f"latency_ms {runtime}"] <= latency_ms and row["flash_bytes"] <= flash_bytes
            and row["sram_bytes"] <= sram_bytes)


LATENCY_STEPS_MS = (0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000,
                    10000)
MEMORY_STEPS_KB = (32, 64, 128, 256, 512, 1024, 2048, 4096, 8192, 16384, 32768)


@dataclass(frozen=True)
class BudgetView:
    """A page element: three sliders (latency, flash, SRAM) and a runtime menu, over a table of
    measured settings; the rows that fit are marked and counted. It needs no kernel: the rows
    and the script (``budget.js``) are in the HTML.

    Flash and SRAM are what ``board`` would need for each row (:func:`device_fields`, added to
    the rows here); the first runtime, :data:`BOARD_ESTIMATE`, is the board's estimated latency,
    the others this machine's measured ones."""

    rows: tuple             # dicts: architecture, class, setting text, and the measured fields
    machine: str
    latency_ms: float = 500
    flash_kb: int = 1024
    sram_kb: int = 256
    runtime: str = BOARD_ESTIMATE
    board: object = microcontroller.BUDGET

    def __post_init__(self):
        for what, value, steps in (("latency_ms", self.latency_ms, LATENCY_STEPS_MS),
                                   ("flash_kb", self.flash_kb, MEMORY_STEPS_KB),
                                   ("sram_kb", self.sram_kb, MEMORY_STEPS_KB)):
            if value not in steps:
                raise ValueError(f"{what} must be one of {', '.join(f'{s:g}' for s in steps)}, "
                                 f"got {value!r}")
        if self.runtime not in BUDGET_RUNTIMES:
            raise ValueError(f"runtime must be one of {', '.join(BUDGET_RUNTIMES)}, "
                             f"got {self.runtime!r}")
        object.__setattr__(self, "rows", tuple(dict(r, **device_fields(r, self.board))
                                               for r in self.rows))

    def fitting(self) -> list:
        """The rows that fit the view's initial budget (what the page shows before any move)."""
        return [r for r in self.rows
                if fits(r, self.runtime, self.latency_ms, 1024 * self.flash_kb,
                        1024 * self.sram_kb)]

    def html(self) -> str:
        keep = ("architecture", "class", "setting_text", "macs", "flash_bytes", "sram_bytes",
                *(f"latency_ms {r}" for r in BUDGET_RUNTIMES))
        data = [{k: row[k] for k in keep} for row in self.rows]
        payload = json.dumps({"rows": data, "runtimes": list(BUDGET_RUNTIMES),
                              "latency": list(LATENCY_STEPS_MS),
                              "memory": list(MEMORY_STEPS_KB)}).replace("</", "<\\/")

        def slider(field, steps, value, label, unit):
            return (f'<label>{label} <input type="range" data-budget="{field}" min="0" '
                    f'max="{len(steps) - 1}" step="1" value="{steps.index(value)}"> '
                    f'<output data-shows="{field}">{value:g} {unit}</output></label>')

        menu = "".join(f'<option{" selected" if r == self.runtime else ""}>{html.escape(r)}'
                       f"</option>" for r in BUDGET_RUNTIMES)
        fit = set(map(id, self.fitting()))
        body = "".join(self._row_html(r, id(r) in fit) for r in self.rows)
        head = ("<tr><th>architecture</th><th>class</th><th>setting</th><th>MACs (M)</th>"
                "<th>flash need (KB)</th><th>SRAM need (KB)</th>"
                '<th data-shows="runtime">latency (ms)</th></tr>')
        board = self.board
        note = (f"Flash and SRAM: what {board.name} ({board.mcu}) needs: the int8 file "
                f"(trained where there is one) + {microcontroller.RUNTIME_FLASH // 1024} KB for "
                f"the runtime + {board.reserved_flash_bytes // 1024} KB the board reserves; "
                f"TFLM's measured arena (32-bit estimate) + {microcontroller.STACK_SRAM // 1024} "
                f"KB of stack. The {BOARD_ESTIMATE} is an estimate, MACs / "
                f"({board.macs_per_cycle:.2f} MACs per cycle &times; "
                f"{board.clock_hz / 1e6:g} MHz); the other latencies were measured on "
                f"{html.escape(self.machine)}.")
        count = len(fit)
        return (f'<div class="mobilecnn-budget"><style>{asset("budget.css")}</style>'
                f'<div class="mb-controls">'
                f'{slider("latency", LATENCY_STEPS_MS, self.latency_ms, "latency budget", "ms")}'
                f'{slider("flash", MEMORY_STEPS_KB, self.flash_kb, "flash", "KB")}'
                f'{slider("sram", MEMORY_STEPS_KB, self.sram_kb, "SRAM", "KB")}'
                f'<label>runtime <select data-budget="runtime">{menu}</select></label></div>'
                f'<p class="mb-count"><span data-shows="count">{count}</span> of {len(self.rows)}'
                f" settings fit.</p>"
                f'<div class="mb-tablebox"><table class="mb-table"><thead>{head}</thead>'
                f"<tbody>{body}</tbody></table></div>"
                f'<p class="mb-note">{note}</p>'
                f'<script type="application/json" class="mb-data">{payload}</script>'
                f'<script>{asset("budget.js")}</script></div>')

    def _row_html(self, row: dict, fit: bool) -> str:
        cells = (row["architecture"], row["class"], row["setting_text"],
                 f"{row['macs'] / 1e6:.1f}", f"{row['flash_bytes'] / 1024:,.0f}",
                 f"{row['sram_bytes'] / 1024:,.0f}",
                 f"{row[f'latency_ms {self.runtime}']:.2f}")
        tds = "".join(f"<td>{html.escape(str(c))}</td>" for c in cells[:-1])
        return (f'<tr class="{"mb-fit" if fit else "mb-out"}">{tds}'
                f'<td data-latency>{cells[-1]}</td></tr>')

    def _repr_html_(self) -> str:
        return self.html()
