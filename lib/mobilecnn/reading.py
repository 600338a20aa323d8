"""What an explorer shows for one setting: the reading model shared by both explorers.

The live ipywidgets explorer (:mod:`mobilecnn.widgets`) and the kernel-free page
(:mod:`mobilecnn.static`) show the same numbers in the same markup. This module is what they
share:

* :func:`controls`: which metaparameters get a slider or a menu, with which values and labels
  (everything about an architecture, from its width multiplier to its base resolution, is read
  from its module through :mod:`mobilecnn.architectures`);
* :func:`read`: one setting -> a :class:`Reading` (the profile or the library's error message,
  the ratio to the unthinned baseline and the paper's rule of thumb);
* :func:`summary_values`, :func:`summary_html`, :func:`table_html` and :func:`cost_row`: the
  summary line and the cost tables as HTML. Every number is marked with ``data-field`` so that
  the static page's script can fill it in and tests can read it back.

Nothing here imports ipywidgets, TensorFlow or PyTorch.
"""

from __future__ import annotations

import html
import importlib.resources
import math
from dataclasses import dataclass

from . import architectures
from .microcontroller import BUDGET
from .profiler import Profile, profile

# Metaparameters that change the counts but not the *shape* of the design space: the static
# explorer keeps them at their defaults (or at the value given in ``fixed``) so that its grid
# stays small. The live widget offers them too.
STATIC_DEFAULTS = ("num_classes", "dropout")

# The static explorer precomputes every point of its slider grid (see mobilecnn.static). Where
# the product of the grids has more points than this, the page's numeric sliders step over fewer
# values (see :func:`thin`) and the page says so; the live explorer keeps every value.
STATIC_POINTS = 3000

# The peak activation memory in the summary is given at this many bits per activation (what a
# microcontroller runs).
PEAK_BITS = 8


@dataclass(frozen=True)
class Control:
    """One slider (``kind="slider"``, numeric) or menu (``kind="choice"``) of an explorer.

    ``values`` are the metaparameter's ``grid`` (plus its default, if the grid lacks it, so that
    the explorer can start at the default); ``labels`` are what the reader sees. ``offered`` is
    how many values the full grid has (more than ``len(values)`` when the static page thins it).
    """

    name: str
    kind: str
    values: tuple
    labels: tuple
    doc: str
    offered: int = 0

    def index(self, value) -> int:
        """Position of ``value`` among ``values`` (floats compared with a tolerance)."""
        for i, v in enumerate(self.values):
            if _same(v, value):
                return i
        raise ValueError(f"{self.name}={value!r} is not on the explorer's grid; {self.name} must "
                         f"be one of {', '.join(self.labels)}")

    @property
    def thinned(self) -> bool:
        return len(self.values) < self.offered


def _same(a, b) -> bool:
    if isinstance(a, str) or isinstance(b, str):
        return a == b
    return math.isclose(a, b, rel_tol=1e-9)


def value_label(name: str, key: str, value) -> str:
    """How a value of metaparameter ``key`` of architecture ``name`` reads next to its control.

    rho also gives the input size in pixels, from the architecture's own base resolution.
    """
    if key == "rho":
        base = architectures.get(name).base_resolution
        return f"{value:.3f} ({round(base * value)} px)"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def check_fixed(name: str, fixed: dict) -> dict:
    """Validate ``fixed`` metaparameters with the library's own checks (ValueError if bad)."""
    arch, values, _ = architectures.resolve(name, fixed)
    keys = {"rho" if k == "image_size" else k for k in fixed}
    return {k: values[k] for k in keys}


def controls(name: str, fixed: dict | None = None, *, static: bool = False) -> tuple:
    """The :class:`Control` of every metaparameter of ``name`` that is not in ``fixed``.

    With ``static=True``: the controls of the kernel-free page. The metaparameters in
    :data:`STATIC_DEFAULTS` get no control, and where the grid would have more than
    :data:`STATIC_POINTS` points the numeric sliders step over fewer values, or stay at their
    default (:func:`thin`).
    """
    fixed = check_fixed(name, fixed or {})
    out = []
    for meta in architectures.get(name).metaparameters:
        if meta.name in fixed or (static and meta.name in STATIC_DEFAULTS):
            continue
        values = tuple(meta.grid)
        if not any(_same(v, meta.default) for v in values):
            values = tuple(sorted(values + (meta.default,))) if meta.kind != "choice" \
                else values + (meta.default,)
        kind = "choice" if meta.kind == "choice" else "slider"
        labels = tuple(value_label(name, meta.name, v) for v in values)
        out.append(Control(meta.name, kind, values, labels, meta.doc, len(values)))
    if static:
        width = architectures.get(name).width
        out = thin(out, defaults(name, fixed), STATIC_POINTS, keep=(width,) if width else ())
    return tuple(out)


def thin(ctrls: list, start: dict, points: int, keep: tuple = ()) -> list:
    """Fewer values per slider until the product of the grids is at most ``points``.

    First repeatedly halves the numeric slider (never rho, never a menu) that has the most
    values, keeping its two ends and its value in ``start`` (the default), evenly spread. If
    that is not enough, the numeric sliders lose their control altogether (they stay at
    ``start``), the last declared first, sparing those named in ``keep`` (the width multiplier).
    """
    ctrls = list(ctrls)
    done = set()
    size = lambda: math.prod(len(c.values) for c in ctrls)  # noqa: E731
    while size() > points:
        candidates = [c for c in ctrls if c.kind == "slider" and c.name != "rho"
                      and c.name not in done]
        if not candidates:
            break
        widest = max(candidates, key=lambda c: len(c.values))
        n = len(widest.values)
        k = max(2, (n + 1) // 2)
        picked = sorted({round(i * (n - 1) / (k - 1)) for i in range(k)}
                        | {widest.index(start[widest.name])})
        if len(picked) == n:          # nothing left to drop but its ends and its default
            done.add(widest.name)
            continue
        ctrls[ctrls.index(widest)] = Control(
            widest.name, widest.kind, tuple(widest.values[i] for i in picked),
            tuple(widest.labels[i] for i in picked), widest.doc, widest.offered)
    for c in reversed(list(ctrls)):
        if size() <= points:
            break
        if c.kind == "slider" and c.name != "rho" and c.name not in keep:
            ctrls.remove(c)
    return ctrls


def defaults(name: str, fixed: dict | None = None) -> dict:
    """Every metaparameter at its default, except those in ``fixed``."""
    values = {m.name: m.default for m in architectures.get(name).metaparameters}
    values.update(check_fixed(name, fixed or {}))
    return values


# ---- one setting -> what the explorer shows -------------------------------------------------

@dataclass(frozen=True)
class Reading:
    """What an explorer shows for one setting: the profile, or the reason there is none.

    ``baseline`` is the unthinned network: every metaparameter that has a control at its default
    (those in ``fixed`` keep their fixed value). ``rule_params`` and ``rule_macs`` are the papers'
    rule of thumb for the ratio to the baseline: (width / baseline width)^2 for parameters and
    (width / baseline width)^2 * (rho / baseline rho)^2 for MACs, where the width is the
    architecture's width multiplier (``Architecture.width``; none for SqueezeNet).
    """

    name: str
    settings: tuple            # ((metaparameter, value), ...) as the controls are set
    profile: Profile | None
    error: str | None
    baseline: Profile | None

    @property
    def params_ratio(self) -> float | None:
        if self.profile is None or self.baseline is None:
            return None
        return self.profile.params / self.baseline.params

    @property
    def macs_ratio(self) -> float | None:
        if self.profile is None or self.baseline is None:
            return None
        return self.profile.macs / self.baseline.macs

    def _multiplier(self, key) -> float:
        if key is None or self.baseline is None:
            return 1.0
        return dict(self.settings)[key] / self.baseline.metaparam(key)

    @property
    def rule_params(self) -> float:
        return self._multiplier(architectures.get(self.name).width) ** 2

    @property
    def rule_macs(self) -> float:
        return self.rule_params * self._multiplier("rho") ** 2


def rule_names(name: str) -> tuple:
    """The rule-of-thumb formulas as text, e.g. ``("α²", "α²ρ²")`` (``"1"`` if no width)."""
    arch = architectures.get(name)
    metas = {m.name: m for m in arch.metaparameters}
    w = f"{metas[arch.width].sign}\u00b2" if arch.width else ""
    rho = metas["rho"].sign if "rho" in metas else "\u03c1"
    return (w or "1", f"{w}{rho}\u00b2")


def _checked_profile(name: str, values: dict):
    try:
        return profile(name, **values), None
    except ValueError as err:
        return None, str(err)


def read(name: str, settings: dict, fixed: dict | None = None) -> Reading:
    """Profile ``name`` at ``settings`` (the controls' values) plus ``fixed``."""
    fixed = check_fixed(name, fixed or {})
    values = {**defaults(name, fixed), **settings}
    result, error = _checked_profile(name, values)
    baseline, _ = _checked_profile(name, defaults(name, fixed))
    return Reading(name, tuple(values.items()), result, error, baseline)


def rollup(result: Profile, by: str = "stage") -> list:
    """``[(key, stage, output_shape, params, trainable_params, macs), ...]`` in network order.

    The same sums as :meth:`Profile.to_frame` with ``by="stage"`` or ``"block"`` (the tests check
    that they agree), without pandas: the explorer needs them in a few milliseconds.
    """
    if by not in ("stage", "block"):
        raise ValueError(f"by must be 'stage' or 'block', got {by!r}")
    rows: dict = {}
    for r in result.layers:
        key = getattr(r, by)
        _, _, _, p, t, m = rows.get(key, (key, r.stage, None, 0, 0, 0))
        rows[key] = (key, r.stage, r.output_shape, p + r.params, t + r.trainable_params, m + r.macs)
    return list(rows.values())


def shape_text(shape: tuple) -> str:
    return "\u00d7".join(str(s) for s in shape)


def ratio_text(x: float | None) -> str:
    return "n/a" if x is None else f"{x:.3f}"


# ---- HTML shared by the live and the static explorer ------------------------------------------
# Both explorers mark every number with ``data-field`` so that tests (and readers' scripts) can
# read them back; the static explorer's JavaScript writes exactly these elements.

SUMMARY_FIELDS = ("image_size", "params", "trainable_params", "macs", "flops", "peak_bytes",
                  "peak_kb", "sram_fit",
                  "params_ratio", "params_rule", "macs_ratio", "macs_rule")


def kb_text(nbytes: int) -> str:
    """Bytes as whole kilobytes (1024 bytes), rounded up: memory either fits or does not."""
    return f"{-(-nbytes // 1024):,}"


def sram_fit_text(nbytes: int) -> str:
    """``"within"`` or ``"over"`` the SRAM of :data:`mobilecnn.microcontroller.BUDGET`."""
    return "within" if nbytes <= BUDGET.sram_bytes else "over"


PEAK_DEFINITION = (
    "Peak activation memory: the largest total of activations alive at once while the layers "
    "run in order (a layer's inputs and output, plus tensors kept for a later shortcut or "
    "concatenation), at one byte per value (int8). Batch norm, activations and reshapes are "
    "assumed to run in place. It is the SRAM a microcontroller needs for activations alone, "
    "before the runtime, its scratch buffers and the stack.")


def summary_values(reading: Reading) -> dict:
    """The summary line's fields as display strings (integers with thousands separators)."""
    p = reading.profile
    return {
        "image_size": f"{p.image_size}\u00d7{p.image_size}",
        "params": f"{p.params:,}",
        "trainable_params": f"{p.trainable_params:,}",
        "macs": f"{p.macs:,}",
        "flops": f"{p.flops:,}",
        "peak_bytes": f"{p.peak_activation_bytes(PEAK_BITS):,}",
        "peak_kb": kb_text(p.peak_activation_bytes(PEAK_BITS)),
        "sram_fit": sram_fit_text(p.peak_activation_bytes(PEAK_BITS)),
        "params_ratio": ratio_text(reading.params_ratio),
        "params_rule": ratio_text(reading.rule_params),
        "macs_ratio": ratio_text(reading.macs_ratio),
        "macs_rule": ratio_text(reading.rule_macs),
    }


def summary_markup(name: str, values: dict, hidden: bool = False) -> str:
    """The summary line for the display strings ``values`` (keys: :data:`SUMMARY_FIELDS`)."""
    rp, rm = rule_names(name)
    span = lambda key: f'<span data-field="{key}">{html.escape(values[key])}</span>'  # noqa: E731
    return (
        f'<div class="mcnn-summary"{" hidden" if hidden else ""}>'
        f'<div>input {span("image_size")} &middot; {span("params")} params '
        f'({span("trainable_params")} trainable) &middot; {span("macs")} MACs '
        f'= {span("flops")} FLOPs</div>'
        f'<div class="mcnn-memory"><abbr title="{html.escape(PEAK_DEFINITION)}">peak '
        f'activations</abbr> {span("peak_kb")} KB ({span("peak_bytes")} bytes) at {PEAK_BITS} '
        f'bits: {span("sram_fit")} the {BUDGET.sram_bytes // 1024} KB SRAM of an '
        f'{html.escape(BUDGET.name)}</div>'
        f'<div class="mcnn-ratio">vs. the unthinned baseline: params &times;{span("params_ratio")} '
        f'(rule of thumb {rp} = {span("params_rule")}) &middot; MACs &times;{span("macs_ratio")} '
        f'(rule of thumb {rm} = {span("macs_rule")})</div></div>')


def error_markup(message: str, hidden: bool = False) -> str:
    """The library's error message for a setting the network cannot take."""
    return (f'<div class="mcnn-error" data-field="error" role="alert"{" hidden" if hidden else ""}>'
            f'{html.escape(message)}</div>')


def summary_html(reading: Reading) -> str:
    """The summary line, or the library's error message for a setting the network cannot take."""
    if reading.profile is None:
        return error_markup(reading.error)
    return summary_markup(reading.name, summary_values(reading))


TABLE_HEAD = ("", "output", "params", "trainable", "MACs")


def cost_row(first_cell: str, shape: str, params, trainable, macs, attrs: str = "") -> str:
    """One row of a cost table: a first cell (HTML), the output shape and three counts."""
    number = lambda n: f"{n:,}" if isinstance(n, int) else n  # noqa: E731
    return (f"<tr{attrs}><td>{first_cell}</td><td data-field=\"shape\">{shape}</td>"
            f'<td data-field="params">{number(params)}</td>'
            f'<td data-field="trainable_params">{number(trainable)}</td>'
            f'<td data-field="macs">{number(macs)}</td></tr>')


def table_head(by: str) -> str:
    cells = "".join(f"<th>{h}</th>" for h in ("stage" if by == "stage" else by, *TABLE_HEAD[1:]))
    return f"<thead><tr>{cells}</tr></thead>"


def table_html(reading: Reading, by: str = "stage") -> str:
    """The cost table by ``"stage"``, ``"block"`` or ``"layer"`` (empty for an invalid setting)."""
    if reading.profile is None:
        return ""
    if by == "layer":
        rows = [(f"{html.escape(r.name)} <small>({r.kind})</small>", r.output_shape, r.params,
                 r.trainable_params, r.macs) for r in reading.profile.layers]
    else:
        rows = [(html.escape(key), shape, p, t, m)
                for key, _, shape, p, t, m in rollup(reading.profile, by)]
    body = "".join(cost_row(label, shape_text(shape), p, t, m, f' data-row="{i}"')
                   for i, (label, shape, p, t, m) in enumerate(rows))
    return f'<table class="mcnn-table" data-by="{by}">{table_head(by)}<tbody>{body}</tbody></table>'


def css() -> str:
    return asset("explorer.css")


def asset(filename: str) -> str:
    return importlib.resources.files("mobilecnn").joinpath(filename).read_text(encoding="utf-8")
