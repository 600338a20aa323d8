"""The live explorer (ipywidgets, no browser) and the static explorer's factored data.

Every displayed number is read back from the widgets' HTML and compared with
``mobilecnn.profile`` (and, for the tables, with the profiler's own pandas roll-up). The static
page's data is evaluated with :func:`mobilecnn.static.evaluate` (the Python twin of the page's
script) at sampled points of every architecture's grid and compared with ``profile``.
"""

import html
import itertools
import json
import random
import re
import subprocess
import sys

import matplotlib.colors
import pytest

import mobilecnn
from mobilecnn import architectures, reading, static, widgets

FIELD = re.compile(r'data-field="(\w+)"[^>]*>([^<]*)<')
# The static page keeps the summary and the error box both in its HTML and hides one of them.
VISIBLE_FIELD = re.compile(r'data-field="(\w+)"([^>]*)>([^<]*)<')
ROW = re.compile(r"<tr data-row=\"\d+\">(.*?)</tr>")


def fields(text: str) -> dict:
    """The first value of every visible ``data-field`` in an HTML fragment."""
    out = {}
    for key, attrs, value in VISIBLE_FIELD.findall(re.sub(r'<div class="mcnn-summary" hidden>'
                                                          r'.*?</div></div>', "", text)):
        if not re.search(r"\bhidden\b", attrs):
            out.setdefault(key, html.unescape(value))
    return out


def number(text: str) -> int:
    return int(text.replace(",", ""))


def table_rows(text: str) -> list:
    """``[(params, trainable_params, macs), ...]`` of a cost table."""
    rows = []
    for row in ROW.findall(text):
        f = dict(FIELD.findall(row))
        rows.append((number(f["params"]), number(f["trainable_params"]), number(f["macs"])))
    return rows


def assert_summary(text: str, expected) -> None:
    f = fields(text)
    assert "error" not in f
    assert number(f["params"]) == expected.params
    assert number(f["trainable_params"]) == expected.trainable_params
    assert number(f["macs"]) == expected.macs
    assert number(f["flops"]) == expected.flops
    assert f["image_size"] == f"{expected.image_size}\u00d7{expected.image_size}"
    assert number(f["peak_bytes"]) == expected.peak_activation_bytes(8)


def frame_rows(expected, by: str) -> list:
    frame = expected.to_frame(by)
    return [tuple(int(v) for v in row) for row in
            frame[["params", "trainable_params", "macs"]].itertuples(index=False)]


CHANGES = [
    ("mobilenet_v1", "alpha", 0.5),
    ("mobilenet_v1", "rho", 128 / 224),
    ("mobilenet_v1", "num_classes", 10),
    ("mobilenet_v2", "alpha", 1.4),
    ("mobilenet_v2", "expansion", 3),
    ("squeezenet", "version", "1.1"),
    ("squeezenet", "bypass", "complex"),
    ("shufflenet_v1", "groups", 8),
    ("shufflenet_v1", "scale", 0.5),
]


@pytest.mark.parametrize("name, key, value", CHANGES)
def test_moving_a_control_shows_the_profile(name, key, value):
    explorer = widgets.explorer(name)
    assert_summary(explorer.summary.value, mobilecnn.profile(name))
    explorer.controls[key].value = value
    expected = mobilecnn.profile(name, **{key: value})
    assert expected.macs != mobilecnn.profile(name).macs or key == "dropout"
    assert_summary(explorer.summary.value, expected)
    assert table_rows(explorer.table.value) == frame_rows(expected, "stage")
    explorer.detail.value = "block"
    assert table_rows(explorer.table.value) == frame_rows(expected, "block")
    explorer.detail.value = "layer"
    assert table_rows(explorer.table.value) == [(r.params, r.trainable_params, r.macs)
                                                for r in expected.layers]


def test_controls_offer_exactly_the_grid():
    for name in mobilecnn.list_architectures():
        explorer = widgets.explorer(name)
        metas = {m.name: m for m in mobilecnn.metaparameters(name)}
        assert set(explorer.controls) == set(metas)
        for key, widget in explorer.controls.items():
            offered = [value for _, value in widget.options]
            grid = list(metas[key].grid)
            extra = [v for v in offered if v not in grid]
            assert [v for v in offered if v in grid] == grid
            assert extra in ([], [metas[key].default])   # the default, if the grid lacks it
            assert widget.value == metas[key].default
    rho = widgets.explorer("mobilenet_v1").controls["rho"]
    assert dict(rho.options)["0.571 (128 px)"] == pytest.approx(128 / 224)


def test_ratio_and_rule_of_thumb():
    explorer = widgets.explorer("mobilenet_v1")
    explorer.controls["alpha"].value = 0.5
    explorer.controls["rho"].value = 128 / 224
    now = mobilecnn.profile("mobilenet_v1", alpha=0.5, rho=128 / 224)
    base = mobilecnn.profile("mobilenet_v1")
    f = fields(explorer.summary.value)
    assert f["params_ratio"] == f"{now.params / base.params:.3f}"
    assert f["macs_ratio"] == f"{now.macs / base.macs:.3f}"
    assert f["params_rule"] == "0.250"                            # alpha^2
    assert f["macs_rule"] == f"{0.25 * (128 / 224) ** 2:.3f}"     # alpha^2 rho^2
    assert "\u03b1\u00b2\u03c1\u00b2" in explorer.summary.value
    # SqueezeNet has no width multiplier: only rho^2, and parameters do not move with rho.
    squeeze = widgets.explorer("squeezenet")
    base = mobilecnn.architecture("squeezenet").base_resolution
    squeeze.controls["rho"].value = rho_of("squeezenet", 160)
    f = fields(squeeze.summary.value)
    assert f["params_ratio"] == "1.000" and f["params_rule"] == "1.000"
    assert f["macs_rule"] == f"{(160 / base) ** 2:.3f}"
    assert f"(160 px)" in dict((v, k) for k, v in squeeze.controls["rho"].options)[
        rho_of("squeezenet", 160)]


def rho_of(name: str, pixels: int) -> float:
    """The rho grid value of ``name`` that gives a ``pixels``-pixel input."""
    rho = next(m for m in mobilecnn.metaparameters(name) if m.name == "rho")
    base = mobilecnn.architecture(name).base_resolution
    return next(r for r in rho.grid if round(base * r) == pixels)


def test_invalid_setting_shows_the_message_and_recovers():
    explorer = widgets.explorer("squeezenet")
    explorer.controls["rho"].value = rho_of("squeezenet", 32)
    with pytest.raises(ValueError) as err:
        mobilecnn.profile("squeezenet", rho=rho_of("squeezenet", 32))
    f = fields(explorer.summary.value)
    assert f["error"] == str(err.value)
    assert "Traceback" not in explorer.summary.value
    assert explorer.table.value == ""
    explorer.controls["rho"].value = rho_of("squeezenet", 96)
    assert_summary(explorer.summary.value, mobilecnn.profile("squeezenet",
                                                             rho=rho_of("squeezenet", 96)))
    assert table_rows(explorer.table.value) == frame_rows(
        mobilecnn.profile("squeezenet", rho=rho_of("squeezenet", 96)), "stage")


def test_fixed_metaparameters_get_no_control():
    explorer = widgets.explorer("mobilenet_v1", num_classes=10, dropout=0.2)
    assert set(explorer.controls) == {"alpha", "rho"}
    assert_summary(explorer.summary.value, mobilecnn.profile("mobilenet_v1", num_classes=10))
    assert fields(explorer.summary.value)["params_ratio"] == "1.000"   # baseline keeps num_classes
    explorer.controls["alpha"].value = 0.75
    assert_summary(explorer.summary.value,
                   mobilecnn.profile("mobilenet_v1", num_classes=10, alpha=0.75))
    with pytest.raises(ValueError, match="alpha"):
        widgets.explorer("mobilenet_v1", alpha=3.0)
    with pytest.raises(ValueError, match="initial"):
        widgets.explorer("mobilenet_v1", initial={"groups": 3})


def test_updates_reuse_the_displayed_widgets():
    explorer = widgets.explorer("shufflenet_v1")
    children, summary, table = explorer.panel.children, explorer.summary, explorer.table
    for groups in (1, 2, 4, 8):
        explorer.controls["groups"].value = groups
    assert explorer.panel.children == children
    assert explorer.summary is summary and explorer.table is table
    assert summary.value.count('data-field="params"') == 1


def test_rollup_matches_the_profilers_frame():
    for name in mobilecnn.list_architectures():
        for meta in ({}, {"rho": 160 / 224}):
            p = mobilecnn.profile(name, **meta)
            for by in ("stage", "block"):
                frame = p.to_frame(by)
                ours = reading.rollup(p, by)
                assert [r[0] for r in ours] == list(frame[by])
                assert [r[2] for r in ours] == list(frame["output_shape"])
                assert [r[3:] for r in ours] == frame_rows(p, by)


def test_mimebundle_has_live_and_static_views():
    explorer = widgets.explorer("squeezenet")
    explorer.controls["bypass"].value = "simple"
    bundle = explorer._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in bundle
    page = bundle["text/html"]
    assert 'class="mobilecnn-explorer"' in page
    assert_summary(page, mobilecnn.profile("squeezenet", bypass="simple"))


# ---- the static explorer's data -------------------------------------------------------------

def sampled_positions(ctrls, count: int = 40, seed: int = 0) -> list:
    """The default point, every corner of the grid (up to 64) and ``count`` random points."""
    sizes = [len(c.values) for c in ctrls]
    corners = list(itertools.islice(itertools.product(*((0, n - 1) for n in sizes)), 64))
    rng = random.Random(seed)
    picks = [tuple(rng.randrange(n) for n in sizes) for _ in range(count)]
    return corners + picks


def expected_view(name: str, settings: dict):
    """What the page must show at ``settings``: from ``profile`` and the reading model."""
    got = reading.read(name, settings)
    if got.profile is None:
        return {"error": got.error}
    p = got.profile
    return {"summary": reading.summary_values(got),
            "stages": [(k, reading.shape_text(s), pp, t, m)
                       for k, _, s, pp, t, m in reading.rollup(p, "stage")],
            "blocks": [(st, k, reading.shape_text(s), pp, t, m)
                       for k, st, s, pp, t, m in reading.rollup(p, "block")]}


@pytest.mark.parametrize("name", mobilecnn.list_architectures())
def test_static_data_reproduces_profile_at_sampled_points(name):
    data = static.precompute(name)
    ctrls = static.controls(name, static=True)
    assert [c["name"] for c in data["controls"]] == [c.name for c in ctrls]
    assert "num_classes" not in [c.name for c in ctrls]
    sizes = [len(c.values) for c in ctrls]
    assert len(data["points"]) == math_prod(sizes)
    defaults = reading.defaults(name)
    start = tuple(c.index(defaults[c.name]) for c in ctrls)
    checked = 0
    for positions in [start, *sampled_positions(ctrls)]:
        settings = {c.name: c.values[i] for c, i in zip(ctrls, positions)}
        shown = static.evaluate(data, positions)
        want = expected_view(name, settings)
        if "error" in want:
            assert shown == want, settings
            continue
        assert shown["summary"] == want["summary"], settings
        assert shown["stages"] == want["stages"], settings
        assert shown["blocks"] == want["blocks"], settings
        p = mobilecnn.profile(name, **settings)
        assert sum(s[2] for s in shown["stages"]) == p.params
        assert sum(s[4] for s in shown["stages"]) == p.macs
        checked += 1
    assert checked >= 10


def math_prod(sizes):
    out = 1
    for size in sizes:
        out *= size
    return out


def test_factored_data_is_smaller_than_the_grid():
    """Per channel setting one record per block, not one per grid point and block."""
    data = static.precompute("mobilenet_v2")
    rho = next(c for c in data["controls"] if c["name"] == "rho")
    assert len(data["settings"]) * len(rho["labels"]) == len(data["points"])
    # Parameters do not depend on rho and MACs factor into pixels x per-pixel cost: the number of
    # distinct spatial slots is small and independent of the channel settings.
    assert len(data["slots"]) < 20


def test_squeezenet_grid_stores_its_invalid_settings():
    data = static.precompute("squeezenet")
    errors = [data["errors"][-1 - p] for p in data["points"] if p < 0]
    assert errors and all("rho must be at least" in e for e in errors)


def test_squeezenet_page_says_which_sliders_it_thins():
    ctrls = {c.name: c for c in static.controls("squeezenet", static=True)}
    full = {c.name: c for c in reading.controls("squeezenet", static=False)}
    assert math_prod(len(c.values) for c in ctrls.values()) <= reading.STATIC_POINTS
    assert ctrls["rho"].values == full["rho"].values              # rho is never thinned
    for key in ("version", "bypass"):
        assert ctrls[key].values == full[key].values              # nor are menus
    for c in ctrls.values():
        assert set(c.values) <= set(full[c.name].values)
        assert c.offered == len(full[c.name].values)
    page = static.static_explorer("squeezenet").html()
    note = re.search(r'data-thinned="\d+">(.*?)</div>', page).group(1)
    thinned = [c for c in ctrls.values() if c.thinned]
    dropped = set(full) - set(ctrls) - set(reading.STATIC_DEFAULTS)
    assert thinned or dropped
    for c in thinned:
        assert f"{c.name} ({len(c.values)} of {c.offered} values)" in note
    fixed_text = re.search(r'class="mcnn-fixed">\((.*?)\)</span>', page).group(1)
    for key in dropped:
        assert key in note
        assert f"{key}=" in fixed_text
    assert 'data-thinned' not in static.static_explorer("mobilenet_v1").html()


def test_page_weight_budget():
    """Each explorer's HTML (with data, script and style) fits its share of a 1 MB page."""
    sizes = {name: static.page_weight(name) for name in mobilecnn.list_architectures()}
    for name, size in sizes.items():
        print(f"{name:<22}{size / 1000:8.1f} kB")
    print(f"{'all (the explorer page)':<22}{sum(sizes.values()) / 1000:8.1f} kB")
    assert all(size < static.EXPLORER_BUDGET for size in sizes.values()), sizes
    assert sum(sizes.values()) < static.PAGE_BUDGET


def test_static_html_is_self_contained():
    page = static.static_explorer("mobilenet_v1", initial={"alpha": 0.5}).html()
    assert "src=" not in page and "http" not in page.lower().replace("http-equiv", "")
    payload = re.search(r'<script type="application/json" class="mcnn-data">(.*?)</script>',
                        page, re.S).group(1)
    assert json.loads(payload.replace("<\\/", "</"))["name"] == "mobilenet_v1"
    alpha = static.controls("mobilenet_v1", static=True)[0]
    assert 'data-param="alpha"' in page and f'value="{alpha.index(0.5)}"' in page
    assert_summary(page, mobilecnn.profile("mobilenet_v1", alpha=0.5))
    # The tables are filled in for the starting setting (readable without the script).
    rows = re.findall(r'<tr class="mcnn-stage"[^>]*>(.*?)</tr>', page)
    expected = mobilecnn.profile("mobilenet_v1", alpha=0.5).by_stage()
    assert [(number(dict(FIELD.findall(r))["params"]), number(dict(FIELD.findall(r))["macs"]))
            for r in rows] == [(p, m) for _, p, m in expected]
    with pytest.raises(ValueError, match="alpha"):
        static.static_explorer("mobilenet_v1", initial={"alpha": 0.33})
    with pytest.raises(ValueError, match="num_classes"):
        static.static_explorer("mobilenet_v1", initial={"num_classes": 10})
    fixed = static.static_explorer("mobilenet_v2", num_classes=10, expansion=4).html()
    assert 'data-param="expansion"' not in fixed
    assert_summary(fixed, mobilecnn.profile("mobilenet_v2", num_classes=10, expansion=4))


def test_invalid_start_shows_the_message_in_the_page():
    small = rho_of("squeezenet", 32)
    page = static.static_explorer("squeezenet", initial={"rho": small}).html()
    with pytest.raises(ValueError) as err:
        mobilecnn.profile("squeezenet", rho=small)
    box = re.search(r'<div class="mcnn-error" data-field="error" role="alert">(.*?)</div>', page)
    assert html.unescape(box.group(1)) == str(err.value)
    assert re.search(r'<div class="mcnn-summary" hidden>', page)


# ---- comparing ----------------------------------------------------------------------------------

def test_compare_plots_the_current_settings():
    comparison = widgets.compare(("mobilenet_v1", {"alpha": 0.5}), "squeezenet")
    first = bytes(comparison.plot.value)
    assert first.startswith(b"\x89PNG")
    v1, squeeze = comparison.explorers
    assert_summary(v1.summary.value, mobilecnn.profile("mobilenet_v1", alpha=0.5))
    v1.controls["rho"].value = 96 / 224
    assert bytes(comparison.plot.value) != first
    squeeze.controls["rho"].value = rho_of("squeezenet", 32)   # invalid: message, plot drawn
    assert "error" in fields(squeeze.summary.value)
    assert bytes(comparison.plot.value).startswith(b"\x89PNG")
    fig = widgets.comparison_figure([v1.reading, squeeze.reading])
    labels = fig.axes[0].get_legend_handles_labels()[1]
    assert len(labels) == 1 and labels[0].startswith("MobileNet v1 (alpha=0.5, rho=")
    assert "text/html" in comparison._repr_mimebundle_()


def test_published_points_come_from_the_architecture_modules():
    points = widgets.published_points()
    for name, fig in points:
        assert fig in mobilecnn.architecture(name).published
        assert fig.macs is not None and fig.params is not None
    # Figures without MACs or params are left out, and no architecture's figure is missed.
    for name in mobilecnn.list_architectures():
        both = [f for f in mobilecnn.architecture(name).published
                if f.macs is not None and f.params is not None]
        assert [f for n, f in points if n == name] == both
    assert not hasattr(widgets, "PUBLISHED") and not hasattr(widgets, "COLORS")


def test_plot_limits_hold_every_grid_point_and_figure():
    (x_lo, x_hi), (y_lo, y_hi) = widgets.plot_limits()
    for name in mobilecnn.list_architectures():
        lo_p, hi_p, lo_m, hi_m = static.grid_extent(name)
        assert x_lo < lo_p / 1e6 and hi_p / 1e6 < x_hi
        assert y_lo < lo_m / 1e6 and hi_m / 1e6 < y_hi
    for _, fig in widgets.published_points():
        assert x_lo < fig.params < x_hi and y_lo < fig.macs < y_hi
    readings = [reading.read(n, {}) for n in mobilecnn.list_architectures()]
    ax = widgets.comparison_figure(readings).axes[0]
    assert ax.get_xlim() == pytest.approx((x_lo, x_hi))    # matplotlib stores the floats given
    # One square per published figure, one dot per valid reading, in the architecture's colour.
    valid = [r for r in readings if r.profile is not None]
    assert len(ax.collections) == len(widgets.published_points()) + len(valid)
    dots = ax.collections[-len(valid):]
    assert [tuple(d.get_facecolor()[0]) for d in dots] == [
        matplotlib.colors.to_rgba(architectures.get(r.name).color) for r in valid]


def test_rho_labels_use_each_architectures_base_resolution():
    for name in mobilecnn.list_architectures():
        base = mobilecnn.architecture(name).base_resolution
        rho = next(c for c in reading.controls(name) if c.name == "rho")
        assert rho.labels[-1] == f"1.000 ({base} px)"
    assert reading.value_label("squeezenet", "rho", 1.0) == "1.000 (227 px)"
    assert reading.rule_names("mobilenet_v1") == ("\u03b1\u00b2", "\u03b1\u00b2\u03c1\u00b2")
    assert reading.rule_names("squeezenet") == ("1", "\u03c1\u00b2")


def test_static_and_widgets_import_no_framework():
    code = ("import sys, mobilecnn.reading, mobilecnn.static, mobilecnn.widgets;"
            "mobilecnn.static.static_explorer('squeezenet').html();"
            "print(','.join(m for m in ('tensorflow', 'torch', 'keras') if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == ""
