"""The explorer without a kernel: a page that only multiplies and adds numbers the library wrote.

A book page has no Python behind it, so it cannot call :func:`mobilecnn.profile` when a reader
moves a slider. Storing every profile of the slider grid does not fit a page once an
architecture has several metaparameters, so :func:`precompute` stores the costs *factored*:

* parameters do not depend on the resolution: each block's parameter counts are stored once per
  setting of the other controls (the "channel setting");
* a layer's MACs are (output pixels) x (MACs per output pixel): the first factor depends only on
  rho and the network's topology, the second only on the channel setting. Layers whose output
  has the same size at every rho of the grid share a *slot*; the data holds each slot's size per
  rho, and per block the MACs per pixel of each slot it uses.

The page's script (``explorer.js``, inlined with ``explorer.css``; no framework, no CDN) adds up
``params`` and ``sum(pixels(slot, rho) * coefficient)`` per block, and the blocks per stage. The
coefficients come from :func:`mobilecnn.profile`, which is called for every point of the grid
when the data is built; the build then evaluates the stored data at every point with
:func:`evaluate`, the Python twin of the script's arithmetic, and refuses data that does not
reproduce the profile exactly. The peak activation memory (not a sum) is stored per point, as
is the library's message for settings the network cannot take.

The HTML (:class:`StaticExplorer`) is the whole layout, rendered here with the markup of
:mod:`mobilecnn.reading` and filled in for the starting setting; the script only writes the
``data-field`` elements and shows or hides rows. Where the grid would be too large, the page's
sliders step over fewer values than the live explorer's (:func:`mobilecnn.reading.thin`) and the
page says so.

Nothing here imports ipywidgets, TensorFlow or PyTorch.
"""

from __future__ import annotations

import functools
import html
import itertools
import json
import math
from dataclasses import dataclass

from .reading import (BUDGET, STATIC_DEFAULTS, SUMMARY_FIELDS, Control, Reading, _checked_profile,
                      asset, check_fixed, controls, css, defaults, error_markup, kb_text,
                      ratio_text, read, rollup, shape_text, summary_markup, summary_values,
                      table_head, value_label, cost_row)
from . import architectures

__all__ = ["precompute", "evaluate", "static_explorer", "StaticExplorer", "page_weight",
           # the reading model, for callers of the static page's controls
           "controls", "defaults", "read", "rollup", "Control", "Reading"]

# What the page may weigh: one explorer's HTML with its data, script and style (bytes, UTF-8).
# A book page holds several explorers and must stay under 1 MB of its own HTML and data.
EXPLORER_BUDGET = 125_000
PAGE_BUDGET = 1_000_000


class FactoringError(RuntimeError):
    """The stored factors do not reproduce ``profile`` (a layer breaks the cost model)."""


def _strides(sizes) -> list:
    """Mixed-radix place values, the last position varying fastest."""
    out, step = [], 1
    for size in reversed(sizes):
        out.append(step)
        step *= size
    return out[::-1]


def _spatial(shape: tuple):
    if len(shape) == 3:
        return shape[0], shape[1]
    if len(shape) == 1:
        return None
    raise FactoringError(f"output shape {shape} is neither (h, w, c) nor (c,)")


def _build(name: str, fixed: dict) -> dict:
    ctrls = controls(name, fixed, static=True)
    base = defaults(name, fixed)
    rho_index = next((k for k, c in enumerate(ctrls) if c.name == "rho"), -1)
    rhos = ctrls[rho_index].values if rho_index >= 0 else (base["rho"],)
    other = [c for c in ctrls if c.name != "rho"]
    strides = _strides([len(c.values) for c in ctrls])

    tables = {"slots": {}, "errors": {}, "layouts": {}, "records": {}}

    def index_of(table: str, item) -> int:
        """Slots, messages, layouts and block records repeat: store each once, refer by index."""
        return tables[table].setdefault(item, len(tables[table]))

    points = [0] * math.prod(len(c.values) for c in ctrls)
    images = [0] * len(rhos)
    settings = []
    expected = {}
    for combo in itertools.product(*(range(len(c.values)) for c in other)):
        values = {**base, **{c.name: c.values[i] for c, i in zip(other, combo)}}
        profiles = []
        for r, rho in enumerate(rhos):
            positions = list(combo)
            if rho_index >= 0:
                positions.insert(rho_index, r)
            point = sum(p * s for p, s in zip(positions, strides))
            result, error = _checked_profile(name, {**values, "rho": rho})
            if result is None:
                points[point] = -1 - index_of("errors", error)
            else:
                points[point] = result.peak_activation_bytes(8)
                images[r] = result.image_size
            profiles.append(result)
            expected[point] = result if result is not None else error
        valid = [p for p in profiles if p is not None]
        if not valid:
            settings.append(None)
            continue
        settings.append(_setting(name, values, profiles, valid, index_of))
    data = {
        "name": name,
        "controls": [{"name": c.name, "kind": c.kind, "labels": list(c.labels)} for c in ctrls],
        "rho": rho_index,
        "image": images,
        "baseline": sum(c.index(base[c.name]) * s for c, s in zip(ctrls, strides)),
        "points": points,
        "settings": settings,
        "slots": [list(sig) for sig in tables["slots"]],
        "layouts": [{"stages": list(stages), "blocks": [list(b) for b in blocks]}
                    for stages, blocks in tables["layouts"]],
        "records": [list(rec) for rec in tables["records"]],
        "errors": list(tables["errors"]),
        "rules": _rules(name, ctrls, base),
        "sram_budget": BUDGET.sram_bytes,
    }
    _verify(name, data, ctrls, base, expected)
    return data


def _setting(name, values, profiles, valid, index_of) -> list:
    """``[layout, record, ...]`` of one channel setting (every rho position of the grid)."""
    ref = valid[0]
    names = [r.name for r in ref.layers]
    for p in valid[1:]:
        if [r.name for r in p.layers] != names:
            raise FactoringError(f"{name} {values}: the layers change with rho")
    stages = tuple(key for key, *_ in rollup(ref, "stage"))
    blocks = []        # [(stage index, block name)], in rollup order
    block_of = {}
    for r in ref.layers:
        if r.block not in block_of:
            block_of[r.block] = (stages.index(r.stage), len(blocks))
            blocks.append((stages.index(r.stage), r.block))
        elif stages[block_of[r.block][0]] != r.stage:
            raise FactoringError(f"{name}: block {r.block} spans stages "
                                 f"{stages[block_of[r.block][0]]} and {r.stage}")
    sums = [[0, 0, -1, 0, {}] for _ in blocks]     # params, trainable, out slot, out C, coefs
    for k, row in enumerate(ref.layers):
        rows = [None if p is None else p.layers[k] for p in profiles]
        present = [x for x in rows if x is not None]
        if any(x.params != row.params or x.trainable_params != row.trainable_params
               for x in present):
            raise FactoringError(f"{name} {values}: the parameters of {row.name} change with rho")
        sizes = [None if x is None else _spatial(x.output_shape) for x in rows]
        if row.output_shape and len(row.output_shape) == 1:
            slot, coef = -1, row.macs
            if any(x.macs != coef for x in present):
                raise FactoringError(f"{name} {values}: the MACs of {row.name} change with rho")
        else:
            slot = index_of("slots", tuple(0 if s is None else s for s in sizes))
            pixels = [x.output_shape[0] * x.output_shape[1] for x in present]
            coef = present[0].macs // pixels[0]
            if any(x.macs != coef * n for x, n in zip(present, pixels)):
                raise FactoringError(f"{name} {values}: the MACs of {row.name} are not its output "
                                     f"pixels times a per-pixel cost")
        acc = sums[block_of[row.block][1]]
        acc[0] += row.params
        acc[1] += row.trainable_params
        acc[2] = slot
        acc[3] = row.output_shape[-1]
        if coef:
            acc[4][slot] = acc[4].get(slot, 0) + coef
    layout = index_of("layouts", (stages, tuple(blocks)))
    records = []
    for p, t, slot, c, coefs in sums:
        flat = [p, t, slot, c]
        for s in sorted(coefs):
            flat += [s, coefs[s]]
        records.append(index_of("records", tuple(flat)))
    return [layout, *records]


def _rules(name: str, ctrls, base: dict) -> dict:
    """The rule-of-thumb ratios as display strings: ``params[w]`` and ``macs[w][r]``.

    ``w`` is the position of the width slider (one entry if there is none), ``r`` of rho.
    """
    arch = architectures.get(name)
    baseline, _ = _checked_profile(name, base)
    width = next((c for c in ctrls if c.name == arch.width), None)
    rho = next((c for c in ctrls if c.name == "rho"), None)
    widths = width.values if width else (None,)
    rhos = rho.values if rho else (None,)
    params, macs = [], []
    for w in widths:
        readings = [Reading(name, tuple({**base, **({arch.width: w} if width else {}),
                                         **({"rho": r} if rho else {})}.items()),
                            None, None, baseline) for r in rhos]
        params.append(ratio_text(readings[0].rule_params))
        macs.append([ratio_text(reading.rule_macs) for reading in readings])
    return {"width": next((k for k, c in enumerate(ctrls) if c is width), -1),
            "params": params, "macs": macs}


def evaluate(data: dict, positions) -> dict:
    """What the page shows at grid ``positions`` (one index per control), as the script does it.

    Returns ``{"error": message}`` or ``{"summary": {field: text}, "layout": index,
    "stages": [(stage, shape, params, trainable, macs)], "blocks": [(stage, block, shape,
    params, trainable, macs)]}``. ``explorer.js`` is this function in JavaScript.
    """
    strides = _strides([len(c["labels"]) for c in data["controls"]])
    point = data["points"][sum(p * s for p, s in zip(positions, strides))]
    if point < 0:
        return {"error": data["errors"][-1 - point]}
    totals, layout, stages, blocks = _totals(data, positions)
    base = data["baseline"]
    base_positions = [base // s % len(c["labels"]) for c, s in zip(data["controls"], strides)]
    base_ok = data["points"][base] >= 0
    base_totals = _totals(data, base_positions)[0] if base_ok else None
    rules = data["rules"]
    w = positions[rules["width"]] if rules["width"] >= 0 else 0
    r = positions[data["rho"]] if data["rho"] >= 0 else 0
    params, trainable, macs = totals
    size = data["image"][r]
    summary = {
        "image_size": f"{size}\u00d7{size}",
        "params": f"{params:,}",
        "trainable_params": f"{trainable:,}",
        "macs": f"{macs:,}",
        "flops": f"{2 * macs:,}",
        "peak_bytes": f"{point:,}",
        "peak_kb": kb_text(point),
        "sram_fit": "within" if point <= data["sram_budget"] else "over",
        "params_ratio": ratio_text(params / base_totals[0] if base_ok else None),
        "params_rule": rules["params"][w],
        "macs_ratio": ratio_text(macs / base_totals[2] if base_ok else None),
        "macs_rule": rules["macs"][w][r],
    }
    return {"summary": summary, "layout": layout, "stages": stages, "blocks": blocks}


def _totals(data: dict, positions):
    controls_ = data["controls"]
    rho = data["rho"]
    r = positions[rho] if rho >= 0 else 0
    other = [k for k in range(len(controls_)) if k != rho]
    strides = _strides([len(controls_[k]["labels"]) for k in other])
    setting = data["settings"][sum(positions[k] * s for k, s in zip(other, strides))]
    layout = data["layouts"][setting[0]]
    blocks, stages = [], {}
    for (stage, block), record in zip(layout["blocks"], setting[1:]):
        p, t, slot, channels, *coefs = data["records"][record]
        macs = 0
        for s, coef in zip(coefs[::2], coefs[1::2]):
            macs += (1 if s < 0 else data["slots"][s][r][0] * data["slots"][s][r][1]) * coef
        shape = str(channels) if slot < 0 else \
            f"{data['slots'][slot][r][0]}\u00d7{data['slots'][slot][r][1]}\u00d7{channels}"
        name = layout["stages"][stage]
        blocks.append((name, block, shape, p, t, macs))
        _, _, sp, st, sm = stages.get(name, (name, None, 0, 0, 0))
        stages[name] = (name, shape, sp + p, st + t, sm + macs)
    stage_rows = list(stages.values())
    totals = tuple(sum(row[k] for row in stage_rows) for k in (2, 3, 4))
    return totals, setting[0], stage_rows, blocks


def _verify(name: str, data: dict, ctrls, base: dict, expected: dict) -> None:
    """Every point of the grid, evaluated from the data, equals the profile (else raise).

    ``expected`` maps each point to its profile or to the library's error message.
    """
    strides = _strides([len(c.values) for c in ctrls])
    baseline = expected[data["baseline"]]
    baseline = None if isinstance(baseline, str) else baseline
    for positions in itertools.product(*(range(len(c.values)) for c in ctrls)):
        point = sum(p * s for p, s in zip(positions, strides))
        got = evaluate(data, positions)
        p = expected[point]
        settings = {**base, **{c.name: c.values[i] for c, i in zip(ctrls, positions)}}
        if isinstance(p, str):
            if got != {"error": p}:
                raise FactoringError(f"{name} {settings}: stored error differs from profile's")
            continue
        want = summary_values(Reading(name, tuple(settings.items()), p, None, baseline))
        stages = [(k, shape_text(s), pp, t, m) for k, _, s, pp, t, m in rollup(p, "stage")]
        blocks = [(st, k, shape_text(s), pp, t, m) for k, st, s, pp, t, m in rollup(p, "block")]
        if got["summary"] != want or got["stages"] != stages or got["blocks"] != blocks:
            raise FactoringError(f"{name} {settings}: the stored factors do not reproduce the "
                                 f"profile: {got['summary']} != {want}")


@functools.lru_cache(maxsize=32)
def _precompute(name: str, fixed: tuple) -> str:
    data = _build(name, dict(fixed))
    data["title"] = architectures.get(name).title
    return json.dumps(data, separators=(",", ":"), ensure_ascii=False)


def precompute(name: str, **fixed) -> dict:
    """The static explorer's data for ``name`` (every point of its grid, factored) as a dict.

    Keys: ``controls`` (name, kind, labels; the grid position of each control indexes the
    data), ``rho`` (which control is rho, -1 if none), ``image`` (input size per rho position),
    ``points`` (per grid point, last control fastest: the peak activation memory in bytes at 8
    bits, or ``-1 - i`` for the message ``errors[i]``), ``settings`` (per position of the
    controls other than rho: ``[layout, record per block]``, or ``None`` when no rho works),
    ``layouts`` (stage names and ``[stage, block]`` per block), ``records`` (per block:
    ``[params, trainable, output slot, output channels, slot, MACs per pixel, ...]``; slot -1 is
    a vector output), ``slots`` (per slot, ``[h, w]`` per rho position, 0 where invalid),
    ``baseline`` (the point of the unthinned network), ``rules`` (the rule of thumb as text).
    :func:`evaluate` reads it.
    """
    return json.loads(_precompute(name, tuple(sorted(check_fixed(name, fixed).items()))))


def grid_extent(name: str) -> tuple:
    """``(min params, max params, min MACs, max MACs)`` over the valid points of the page's grid."""
    data = precompute(name)
    ctrls = data["controls"]
    params, macs = [], []
    for positions in itertools.product(*(range(len(c["labels"])) for c in ctrls)):
        got = evaluate(data, positions)
        if "summary" in got:
            params.append(int(got["summary"]["params"].replace(",", "")))
            macs.append(int(got["summary"]["macs"].replace(",", "")))
    return min(params), max(params), min(macs), max(macs)


# ---- the page ----------------------------------------------------------------------------------

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
        payload = _precompute(self.name, tuple(sorted(fixed.items())))
        data = json.loads(payload)
        shown = evaluate(data, positions)
        inputs = "".join(_control_html(c, i) for c, i in zip(ctrls, positions))
        # Every metaparameter without a control, at its fixed or default value.
        names = {c.name for c in ctrls}
        fixed_text = ", ".join(f"{k}={value_label(self.name, k, v)}" for k, v in sorted(
            defaults(self.name, fixed).items()) if k not in names)
        title = html.escape(architectures.get(self.name).title)
        error = shown.get("error")
        empty = {key: "" for key in SUMMARY_FIELDS}
        summary = summary_markup(self.name, shown.get("summary", empty), hidden=error is not None)
        tables = "".join(_layout_table(data, k, shown) for k in range(len(data["layouts"])))
        # "</" must not appear inside a <script> element.
        payload = payload.replace("</", "<\\/")
        return (
            f'<div class="mobilecnn-explorer" data-architecture="{self.name}">'
            f"<style>{css()}</style>"
            f'<div class="mcnn-title"><strong>{title}</strong> <code>{self.name}</code>'
            f' <span class="mcnn-fixed">({html.escape(fixed_text)})</span></div>'
            f'<div class="mcnn-controls">{inputs}</div>'
            f"{_thinned_note(self.name, fixed, ctrls)}"
            f'<div class="mcnn-out">{summary}{error_markup(error or "", hidden=error is None)}'
            f"</div>"
            f'<div class="mcnn-hint">Click a stage to show its blocks.</div>'
            f'<div class="mcnn-tablebox">{tables}</div>'
            f'<script type="application/json" class="mcnn-data">{payload}</script>'
            f"<script>{asset('explorer.js')}</script></div>")

    def _repr_html_(self) -> str:
        return self.html()


def _thinned_note(name: str, fixed: dict, ctrls) -> str:
    """Which sliders of the live explorer this page thins or leaves out (empty if none)."""
    thinned = [f"{html.escape(c.name)} ({len(c.values)} of {c.offered} values)"
               for c in ctrls if c.thinned]
    present = {c.name for c in ctrls}
    dropped = [html.escape(m.name) for m in architectures.get(name).metaparameters
               if m.name not in present and m.name not in fixed and m.name not in STATIC_DEFAULTS]
    if not thinned and not dropped:
        return ""
    parts = []
    if thinned:
        parts.append(f"its sliders offer fewer values than the live explorer's: "
                     f"{', '.join(thinned)}")
    if dropped:
        parts.append(f"{', '.join(dropped)} stay at the default")
    return (f'<div class="mcnn-hint" data-thinned="{len(thinned) + len(dropped)}">To keep this '
            f"page light, {'; '.join(parts)}. The live explorer offers them all.</div>")


def _layout_table(data: dict, layout: int, shown: dict) -> str:
    """The stage table of one layout (stages with their blocks), filled in if it is shown."""
    spec = data["layouts"][layout]
    current = shown.get("layout") == layout
    stages = {row[0]: row for row in shown["stages"]} if current else {}
    blocks = shown["blocks"] if current else []
    rows = []
    for i, stage in enumerate(spec["stages"]):
        _, shape, p, t, m = stages.get(stage, (stage, "", "", "", ""))
        button = (f'<button type="button" aria-expanded="false" title="show or hide the blocks '
                  f'of this stage">\u25b8 {html.escape(stage)}</button>')
        rows.append(cost_row(button, shape, p, t, m, f' class="mcnn-stage" data-row="{i}" '
                             f'data-stage="{html.escape(stage)}"'))
        for j, (s, block) in enumerate(spec["blocks"]):
            if s != i:
                continue
            _, _, shape, p, t, m = blocks[j] if current else (None, None, "", "", "", "")
            rows.append(cost_row(html.escape(block), shape, p, t, m,
                                 f' class="mcnn-block" data-block="{html.escape(block)}" '
                                 f'data-j="{j}" hidden'))
    hidden = "" if current else " hidden"
    return (f'<table class="mcnn-table" data-by="stage" data-layout="{layout}"{hidden}>'
            f'{table_head("stage")}<tbody>{"".join(rows)}</tbody></table>')


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


def page_weight(name: str, **fixed) -> int:
    """Bytes (UTF-8) of the static explorer of ``name``: HTML, data, script and style."""
    return len(static_explorer(name, **fixed).html().encode("utf-8"))
