"""The explorer without a kernel: every slider setting profiled ahead of time.

A book page has no Python behind it, so the page cannot call :func:`mobilecnn.profile` when a
reader moves a slider. Instead :func:`precompute` calls it for every point of the slider grid (the
cartesian product of the ``grid`` of each metaparameter that gets a slider) and stores the
results, or the error message for settings the network cannot take, as compact JSON. A few lines
of vanilla JavaScript (``explorer.js``, inlined into the page with ``explorer.css``; no framework,
no CDN) only *look up* the entry for the current slider positions and write it into the page. All
arithmetic stays in the profiler and in this module; the browser never computes a cost.

This module also holds what the live ipywidgets explorer (:mod:`mobilecnn.widgets`) shares with
the static one, so that both show the same numbers in the same layout:

* :func:`controls`: which metaparameters get a slider or a menu, with which values and labels;
* :func:`read`: one setting -> a :class:`Reading` (the profile or the library's error message,
  the ratio to the unthinned baseline and the paper's rule of thumb);
* :func:`summary_html` and :func:`table_html`: the summary line and the cost table as HTML.

Nothing here imports ipywidgets, TensorFlow or PyTorch.
"""

from __future__ import annotations

import functools
import html
import importlib.resources
import itertools
import json
import math
from dataclasses import dataclass

from . import architectures
from .architectures.common import BASE_RESOLUTION
from .profiler import Profile, profile

# Metaparameters that change the counts but not the *shape* of the design space: the static
# explorer keeps them at their defaults (or at the value given in ``fixed``) so that the grid
# stays small. The live widget offers them too.
STATIC_DEFAULTS = ("num_classes", "dropout")

# The width multiplier of each architecture: MobileNet's alpha, ShuffleNet's "s x" scale.
# SqueezeNet has none. The papers' rule of thumb: cost grows with the square of the width
# multiplier (Howard et al. 2017, sec. 3.3; Zhang et al. 2018, sec. 4.1.1) and with the square of
# the resolution multiplier (Howard et al. 2017, sec. 3.4); parameters do not depend on rho.
WIDTH_MULTIPLIER = {"mobilenet_v1": "alpha", "mobilenet_v2": "alpha", "shufflenet_v1": "scale"}

SYMBOL = {"alpha": "\u03b1", "rho": "\u03c1", "scale": "s"}


@dataclass(frozen=True)
class Control:
    """One slider (``kind="slider"``, numeric) or menu (``kind="choice"``) of an explorer.

    ``values`` are exactly the metaparameter's ``grid`` (plus its default, if the grid lacks it,
    so that the explorer can start at the default); ``labels`` are what the reader sees.
    """

    name: str
    kind: str
    values: tuple
    labels: tuple
    doc: str

    def index(self, value) -> int:
        """Position of ``value`` among ``values`` (floats compared with a tolerance)."""
        for i, v in enumerate(self.values):
            if v == value or (not isinstance(v, str) and not isinstance(value, str)
                              and math.isclose(v, value, rel_tol=1e-9)):
                return i
        raise ValueError(f"{self.name}={value!r} is not on the explorer's grid; {self.name} must "
                         f"be one of {', '.join(self.labels)}")


def value_label(name: str, value) -> str:
    """How a value reads next to its slider; rho also gives the input size in pixels."""
    if name == "rho":
        return f"{value:.3f} ({round(BASE_RESOLUTION * value)} px)"
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

    With ``static=True`` the metaparameters in :data:`STATIC_DEFAULTS` get no control either.
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
        labels = tuple(value_label(meta.name, v) for v in values)
        out.append(Control(meta.name, kind, values, labels, meta.doc))
    return tuple(out)


def _same(a, b) -> bool:
    if isinstance(a, str) or isinstance(b, str):
        return a == b
    return math.isclose(a, b, rel_tol=1e-9)


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
    (width / baseline width)^2 * (rho / baseline rho)^2 for MACs.
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
        return self._multiplier(WIDTH_MULTIPLIER.get(self.name)) ** 2

    @property
    def rule_macs(self) -> float:
        return self.rule_params * self._multiplier("rho") ** 2


def rule_names(name: str) -> tuple:
    """The rule-of-thumb formulas as text, e.g. ``("α²", "α²ρ²")`` (``"1"`` if no width)."""
    width = WIDTH_MULTIPLIER.get(name)
    w = f"{SYMBOL[width]}\u00b2" if width else ""
    return (w or "1", f"{w}{SYMBOL['rho']}\u00b2")


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

SUMMARY_FIELDS = ("image_size", "params", "trainable_params", "macs", "flops", "params_ratio",
                  "params_rule", "macs_ratio", "macs_rule")


def summary_values(reading: Reading) -> dict:
    """The summary line's fields as display strings (integers with thousands separators)."""
    p = reading.profile
    return {
        "image_size": f"{p.image_size}\u00d7{p.image_size}",
        "params": f"{p.params:,}",
        "trainable_params": f"{p.trainable_params:,}",
        "macs": f"{p.macs:,}",
        "flops": f"{p.flops:,}",
        "params_ratio": ratio_text(reading.params_ratio),
        "params_rule": ratio_text(reading.rule_params),
        "macs_ratio": ratio_text(reading.macs_ratio),
        "macs_rule": ratio_text(reading.rule_macs),
    }


def summary_html(reading: Reading) -> str:
    """The summary line, or the library's error message for a setting the network cannot take."""
    if reading.profile is None:
        return (f'<div class="mcnn-error" data-field="error" role="alert">'
                f'{html.escape(reading.error)}</div>')
    v = summary_values(reading)
    rp, rm = rule_names(reading.name)
    span = lambda key: f'<span data-field="{key}">{v[key]}</span>'  # noqa: E731
    return (
        '<div class="mcnn-summary">'
        f'<div>input {span("image_size")} &middot; {span("params")} params '
        f'({span("trainable_params")} trainable) &middot; {span("macs")} MACs '
        f'= {span("flops")} FLOPs</div>'
        f'<div class="mcnn-ratio">vs. the unthinned baseline: params &times;{span("params_ratio")} '
        f'(rule of thumb {rp} = {span("params_rule")}) &middot; MACs &times;{span("macs_ratio")} '
        f'(rule of thumb {rm} = {span("macs_rule")})</div></div>')


TABLE_HEAD = ("", "output", "params", "trainable", "MACs")


def table_html(reading: Reading, by: str = "stage") -> str:
    """The cost table by ``"stage"``, ``"block"`` or ``"layer"`` (empty for an invalid setting)."""
    if reading.profile is None:
        return ""
    head = ("stage" if by == "stage" else by, *TABLE_HEAD[1:])
    if by == "layer":
        rows = [(f"{r.name} <small>({r.kind})</small>", r.output_shape, r.params,
                 r.trainable_params, r.macs) for r in reading.profile.layers]
    else:
        rows = [(html.escape(key), shape, p, t, m)
                for key, _, shape, p, t, m in rollup(reading.profile, by)]
    body = "".join(
        f'<tr data-row="{i}"><td>{label}</td><td>{shape_text(shape)}</td>'
        f'<td data-field="params">{p:,}</td><td data-field="trainable_params">{t:,}</td>'
        f'<td data-field="macs">{m:,}</td></tr>' for i, (label, shape, p, t, m) in enumerate(rows))
    head_cells = "".join(f"<th>{h}</th>" for h in head)
    return (f'<table class="mcnn-table" data-by="{by}"><thead><tr>{head_cells}</tr></thead>'
            f"<tbody>{body}</tbody></table>")


def css() -> str:
    return _asset("explorer.css")


def _asset(filename: str) -> str:
    return importlib.resources.files("mobilecnn").joinpath(filename).read_text(encoding="utf-8")


# ---- the static explorer -----------------------------------------------------------------------

def _key(indices) -> str:
    return ",".join(str(i) for i in indices)


@functools.lru_cache(maxsize=32)
def _precompute(name: str, fixed: tuple) -> str:
    fixed = dict(fixed)
    ctrls = controls(name, fixed, static=True)
    names = {"stages": {}, "blocks": {}, "shapes": {}}

    def index_of(table: str, item) -> int:
        """Names and shapes repeat across the grid: store each once and refer to it by index."""
        return names[table].setdefault(item, len(names[table]))

    points = {}
    for indices in itertools.product(*(range(len(c.values)) for c in ctrls)):
        settings = {c.name: c.values[i] for c, i in zip(ctrls, indices)}
        reading = read(name, settings, fixed)
        if reading.profile is None:
            points[_key(indices)] = {"e": reading.error}
            continue
        p = reading.profile
        v = summary_values(reading)
        points[_key(indices)] = {
            "t": [p.image_size, p.params, p.trainable_params, p.macs, p.flops],
            "r": [v["params_ratio"], v["params_rule"], v["macs_ratio"], v["macs_rule"]],
            "s": [[index_of("stages", key), index_of("shapes", shape_text(shape)), pp, t, m]
                  for key, _, shape, pp, t, m in rollup(p, "stage")],
            "b": [[index_of("stages", stage), index_of("blocks", key),
                   index_of("shapes", shape_text(shape)), pp, t, m]
                  for key, stage, shape, pp, t, m in rollup(p, "block")],
        }
    arch = architectures.get(name)
    data = {
        "name": name,
        "controls": [{"name": c.name, "kind": c.kind, "labels": list(c.labels)} for c in ctrls],
        "rules": list(rule_names(name)),
        **{table: list(items) for table, items in names.items()},
        "points": points,
        "title": arch.title,
    }
    return json.dumps(data, separators=(",", ":"), ensure_ascii=False)


def precompute(name: str, **fixed) -> dict:
    """Profile every point of the static slider grid of ``name``; the explorer's JSON as a dict.

    Keys: ``controls`` (name, kind, labels), ``rules`` (the rule-of-thumb formulas), ``stages``,
    ``blocks`` and ``shapes`` (names and output shapes, stored once and referred to by index),
    and ``points``: for the key ``"i,j,..."`` (the grid position of each control) either
    ``{"e": message}`` or ``{"t": [image_size, params, trainable_params, macs, flops],
    "r": [params ratio, its rule of thumb, MACs ratio, its rule of thumb] (display strings),
    "s": [[stage, shape, params, trainable, macs], ...],
    "b": [[stage, block, shape, params, trainable, macs], ...]}``.
    """
    return json.loads(_precompute(name, tuple(sorted(check_fixed(name, fixed).items()))))


@dataclass(frozen=True)
class StaticExplorer:
    """An explorer that works in any browser without a kernel; displays as ``text/html``.

    ``initial`` sets where the controls start (default: every metaparameter's default).
    """

    name: str
    fixed: tuple = ()
    initial: tuple = ()

    def html(self) -> str:
        fixed = dict(self.fixed)
        ctrls = controls(self.name, fixed, static=True)
        start = {**defaults(self.name, fixed), **dict(self.initial)}
        positions = [c.index(start[c.name]) for c in ctrls]
        reading = read(self.name, {c.name: c.values[i] for c, i in zip(ctrls, positions)}, fixed)
        data = _precompute(self.name, tuple(sorted(fixed.items())))
        # "</" must not appear inside a <script> element.
        data = data.replace("</", "<\\/")
        inputs = "".join(_control_html(c, i) for c, i in zip(ctrls, positions))
        fixed_text = ", ".join(f"{k}={value_label(k, v)}" for k, v in sorted(
            {**fixed, **{k: v for k, v in defaults(self.name, fixed).items()
                         if k in STATIC_DEFAULTS and k not in fixed}}.items()))
        title = html.escape(architectures.get(self.name).title)
        return (
            f'<div class="mobilecnn-explorer" data-architecture="{self.name}">'
            f"<style>{css()}</style>"
            f'<div class="mcnn-title"><strong>{title}</strong> <code>{self.name}</code>'
            f' <span class="mcnn-fixed">({html.escape(fixed_text)})</span></div>'
            f'<div class="mcnn-controls">{inputs}</div>'
            f'<div class="mcnn-out">{summary_html(reading)}</div>'
            f'<div class="mcnn-hint">Click a stage to show its blocks.</div>'
            f'<div class="mcnn-tablebox">{table_html(reading, "stage")}</div>'
            f'<script type="application/json" class="mcnn-data">{data}</script>'
            f"<script>{_asset('explorer.js')}</script></div>")

    def _repr_html_(self) -> str:
        return self.html()


def _control_html(control: Control, position: int) -> str:
    name = html.escape(control.name)
    if control.kind == "choice":
        # An option's value is its label; the script reads the position (selectedIndex).
        options = "".join(
            f'<option value="{html.escape(label)}"{" selected" if i == position else ""}>'
            f"{html.escape(label)}</option>" for i, label in enumerate(control.labels))
        widget = f'<select data-param="{name}" aria-label="{name}">{options}</select>'
    else:
        widget = (f'<input type="range" data-param="{name}" aria-label="{name}" min="0" '
                  f'max="{len(control.values) - 1}" step="1" value="{position}" '
                  f'aria-valuetext="{html.escape(control.labels[position])}">')
    return (f'<label class="mcnn-control" title="{html.escape(control.doc)}">'
            f'<span class="mcnn-name">{name}</span>{widget}'
            # A menu shows its value itself; the <output> only echoes sliders.
            f'<output class="mcnn-value" data-value="{name}"'
            f'{" hidden" if control.kind == "choice" else ""}>'
            f"{html.escape(control.labels[position])}</output></label>")


def static_explorer(name: str, initial: dict | None = None, **fixed) -> StaticExplorer:
    """A kernel-free explorer of ``name``: a slider or menu per metaparameter not in ``fixed``.

    ``num_classes`` and ``dropout`` stay at their defaults unless given in ``fixed``. Display it
    in a notebook (it renders as HTML with its data and script inlined) or call ``.html()``.
    """
    fixed = check_fixed(name, fixed)
    ctrls = controls(name, fixed, static=True)
    initial = dict(initial or {})
    for key, value in initial.items():
        matching = [c for c in ctrls if c.name == key]
        if not matching:
            raise ValueError(f"initial: {name} has no slider for {key!r}; the sliders are "
                             + ", ".join(c.name for c in ctrls))
        matching[0].index(value)
    return StaticExplorer(name, tuple(sorted(fixed.items())), tuple(sorted(initial.items())))
