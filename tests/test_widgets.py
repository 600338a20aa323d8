"""The live explorer (ipywidgets, no browser) and the static explorer's precomputed data.

Every displayed number is read back from the widgets' HTML and compared with
``mobilecnn.profile`` (and, for the tables, with the profiler's own pandas roll-up).
"""

import html
import json
import re
import subprocess
import sys

import pytest

import mobilecnn
from mobilecnn import static, widgets

FIELD = re.compile(r'data-field="(\w+)"[^>]*>([^<]*)<')
ROW = re.compile(r"<tr data-row=\"\d+\">(.*?)</tr>")


def fields(text: str) -> dict:
    """The first value of every ``data-field`` in an HTML fragment."""
    out = {}
    for key, value in FIELD.findall(text):
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
    squeeze.controls["rho"].value = 160 / 224
    f = fields(squeeze.summary.value)
    assert f["params_ratio"] == "1.000" and f["params_rule"] == "1.000"
    assert f["macs_rule"] == f"{(160 / 224) ** 2:.3f}"


def test_invalid_setting_shows_the_message_and_recovers():
    explorer = widgets.explorer("squeezenet")
    explorer.controls["rho"].value = 32 / 224
    with pytest.raises(ValueError) as err:
        mobilecnn.profile("squeezenet", rho=32 / 224)
    f = fields(explorer.summary.value)
    assert f["error"] == str(err.value)
    assert "Traceback" not in explorer.summary.value
    assert explorer.table.value == ""
    explorer.controls["rho"].value = 96 / 224
    assert_summary(explorer.summary.value, mobilecnn.profile("squeezenet", rho=96 / 224))
    assert table_rows(explorer.table.value) == frame_rows(
        mobilecnn.profile("squeezenet", rho=96 / 224), "stage")


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
                ours = static.rollup(p, by)
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

@pytest.mark.parametrize("name", mobilecnn.list_architectures())
def test_precomputed_grid_equals_profile(name):
    data = static.precompute(name)
    ctrls = static.controls(name, static=True)
    assert [c["name"] for c in data["controls"]] == [c.name for c in ctrls]
    assert "num_classes" not in [c.name for c in ctrls]
    sizes = [len(c.values) for c in ctrls]
    expected_points = 1
    for size in sizes:
        expected_points *= size
    assert len(data["points"]) == expected_points
    for key, point in data["points"].items():
        settings = {c.name: c.values[int(i)] for c, i in zip(ctrls, key.split(","))}
        try:
            p = mobilecnn.profile(name, **settings)
        except ValueError as err:
            assert point == {"e": str(err)}
            continue
        assert point["t"] == [p.image_size, p.params, p.trainable_params, p.macs, p.flops]
        stages = [(data["stages"][s], pp, m) for s, _, pp, _, m in point["s"]]
        assert stages == p.by_stage()
        assert sum(b[3] for b in point["b"]) == p.params
        assert sum(b[5] for b in point["b"]) == p.macs


def test_squeezenet_grid_stores_its_invalid_settings():
    data = static.precompute("squeezenet")
    errors = [p["e"] for p in data["points"].values() if "e" in p]
    assert errors and all("rho must be at least" in e for e in errors)


def test_static_html_is_self_contained():
    page = static.static_explorer("mobilenet_v1", initial={"alpha": 0.5}).html()
    assert "src=" not in page and "http" not in page.lower().replace("http-equiv", "")
    payload = re.search(r'<script type="application/json" class="mcnn-data">(.*?)</script>',
                        page, re.S).group(1)
    assert json.loads(payload.replace("<\\/", "</"))["name"] == "mobilenet_v1"
    assert 'data-param="alpha"' in page and 'value="5"' in page      # 0.5 is grid position 5
    assert_summary(page, mobilecnn.profile("mobilenet_v1", alpha=0.5))
    with pytest.raises(ValueError, match="alpha"):
        static.static_explorer("mobilenet_v1", initial={"alpha": 0.33})
    with pytest.raises(ValueError, match="num_classes"):
        static.static_explorer("mobilenet_v1", initial={"num_classes": 10})
    fixed = static.static_explorer("mobilenet_v2", num_classes=10, expansion=4).html()
    assert 'data-param="expansion"' not in fixed
    assert_summary(fixed, mobilecnn.profile("mobilenet_v2", num_classes=10, expansion=4))


# ---- comparing ----------------------------------------------------------------------------------

def test_compare_plots_the_current_settings():
    comparison = widgets.compare(("mobilenet_v1", {"alpha": 0.5}), "squeezenet")
    first = bytes(comparison.plot.value)
    assert first.startswith(b"\x89PNG")
    v1, squeeze = comparison.explorers
    assert_summary(v1.summary.value, mobilecnn.profile("mobilenet_v1", alpha=0.5))
    v1.controls["rho"].value = 96 / 224
    assert bytes(comparison.plot.value) != first
    squeeze.controls["rho"].value = 32 / 224          # invalid: message shown, plot still drawn
    assert "error" in fields(squeeze.summary.value)
    assert bytes(comparison.plot.value).startswith(b"\x89PNG")
    fig = widgets.comparison_figure([v1.reading, squeeze.reading])
    labels = fig.axes[0].get_legend_handles_labels()[1]
    assert len(labels) == 1 and labels[0].startswith("mobilenet_v1")
    assert "text/html" in comparison._repr_mimebundle_()


def test_published_points_are_near_our_counts():
    """Guards the table of published figures against typos (conventions differ by a few %)."""
    for ref in widgets.PUBLISHED:
        p = mobilecnn.profile(ref.name, **dict(ref.metaparams))
        assert p.macs == pytest.approx(ref.macs, rel=0.06), ref.label
        ours = p.kernel_weights if ref.name == "mobilenet_v1" else p.params
        assert ours == pytest.approx(ref.params, rel=0.06), ref.label


def test_static_and_widgets_import_no_framework():
    code = ("import sys, mobilecnn.static, mobilecnn.widgets;"
            "mobilecnn.static.static_explorer('squeezenet').html();"
            "print(','.join(m for m in ('tensorflow', 'torch', 'keras') if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == ""
