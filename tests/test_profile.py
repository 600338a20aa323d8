"""The analytic profiler on its own: published numbers, conventions, validation. Pure Python."""

import pathlib
import subprocess
import sys

import pytest

import mobilecnn
from mobilecnn.architectures.common import agrees, make_divisible

ROOT = pathlib.Path(__file__).resolve().parents[1]


def test_list_architectures_in_book_order():
    names = mobilecnn.list_architectures()
    assert names[:4] == ["mobilenet_v1", "mobilenet_v2", "squeezenet", "shufflenet_v1"]
    orders = [mobilecnn.architecture(n).order for n in names]
    assert orders == sorted(orders)


def test_import_does_not_load_frameworks():
    code = ("import sys, mobilecnn, mobilecnn.profiler, mobilecnn.book; mobilecnn.profile('shufflenet_v1');"
            "bad = [m for m in ('tensorflow', 'torch', 'keras') if m in sys.modules];"
            "print(','.join(bad)); sys.exit(1 if bad else 0)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, f"import mobilecnn loaded {done.stdout.strip()}"


# ---- published numbers ----------------------------------------------------------------------
# Every architecture module lists the figures its paper (or the reference implementation)
# prints, with the source; each must agree to the printed digits, plus the tolerance the module
# states and explains for the few the paper rounds oddly.
FIGURES = [(name, figure) for name, arch in mobilecnn.architectures.ARCHITECTURES.items()
           for figure in arch.published]


@pytest.mark.parametrize("name, figure", FIGURES, ids=[f"{n}:{f.label}" for n, f in FIGURES])
def test_published_figures_agree(name, figure):
    p = mobilecnn.profile(name, **dict(figure.settings))
    assert figure.macs is not None or figure.params is not None
    if figure.macs is not None:
        assert agrees(p.macs / 1e6, figure.macs, figure.tolerance), (p.macs, figure)
    if figure.params is not None:
        counted = getattr(p, figure.params_counts)
        assert agrees(counted / 1e6, figure.params, figure.tolerance), (counted, figure)
    assert (figure.tolerance == 0) == (figure.note == ""), "a tolerance needs its reason"
    if figure.tolerance:
        # and a figure that rounds to the printed digits must not carry slack it does not need
        exact = ((figure.macs is None or agrees(p.macs / 1e6, figure.macs)) and
                 (figure.params is None or agrees(getattr(p, figure.params_counts) / 1e6,
                                                  figure.params)))
        assert not exact and figure.tolerance <= 0.2, figure.label


def test_every_architecture_states_its_facts():
    for name, arch in mobilecnn.architectures.ARCHITECTURES.items():
        assert bool(arch.published) != bool(arch.unpublished), name   # figures, or why none
        assert arch.bib in open(ROOT / "references.bib").read(), name
        assert arch.color.startswith("#") and len(arch.color) == 7
        names = {m.name for m in arch.metaparameters}
        assert arch.width is None or arch.width in names
        assert "rho" in names and "num_classes" in names
        assert mobilecnn.profile(name).image_size == arch.base_resolution
    colors = [a.color for a in mobilecnn.architectures.ARCHITECTURES.values()]
    assert len(set(colors)) == len(colors)


def test_mobilenet_v1_pointwise_share_matches_paper_table_2():
    # Howard et al. 2017, Table 2: 1x1 convolutions hold 94.86% of Mult-Adds and 74.59% of the
    # parameters; the fully connected classifier (our 1x1 conv_preds) 0.18% and 24.33%.
    p = mobilecnn.profile("mobilenet_v1")
    pointwise = [r for r in p.layers if r.kind == "conv1x1" and r.name != "conv_preds"]
    classifier = [r for r in p.layers if r.name == "conv_preds"]
    assert sum(r.macs for r in pointwise) / p.macs == pytest.approx(0.9486, abs=0.001)
    assert sum(r.macs for r in classifier) / p.macs == pytest.approx(0.0018, abs=0.0001)
    weights = sum(r.trainable_params for r in pointwise)   # no biases, BN sits in its own rows
    assert weights / p.kernel_weights == pytest.approx(0.7459, abs=0.001)


def test_squeezenet_parameter_counts():
    # Iandola et al. 2016, Table 1 (1,248,424 parameters before pruning); the torchvision
    # reference has the same count, and 1,235,496 for version 1.1.
    assert mobilecnn.profile("squeezenet").params == 1_248_424
    assert mobilecnn.profile("squeezenet", version="1.1").params == 1_235_496


def test_squeezenet_bypass_costs():
    plain = mobilecnn.profile("squeezenet")
    simple = mobilecnn.profile("squeezenet", bypass="simple")
    complex_ = mobilecnn.profile("squeezenet", bypass="complex")
    # simple bypass adds nothing to learn; complex bypass adds 1x1 convs around fire 2, 4, 6, 8
    assert simple.params == plain.params
    added = sum(cin * cout + cout for cin, cout in ((96, 128), (128, 256), (256, 384), (384, 512)))
    assert complex_.params - plain.params == added
    assert [r.name for r in simple.layers if r.kind == "add"] == [
        "fire3_add", "fire5_add", "fire7_add", "fire9_add"]


def test_shufflenet_table_1_widths_and_first_conv():
    for groups, width in ((1, 144), (2, 200), (3, 240), (4, 272), (8, 384)):
        rows = {r.name: r for r in mobilecnn.profile("shufflenet_v1", groups=groups).layers}
        assert rows["stage2_unit1_concat"].output_shape == (28, 28, width)
        assert rows["stage3_unit1_concat"].output_shape == (14, 14, 2 * width)
        assert rows["stage4_unit1_concat"].output_shape == (7, 7, 4 * width)
        # the first pointwise conv of stage 2 is not grouped (24 input channels)
        assert rows["stage2_unit1_gconv1"].kind == "conv1x1"
        if groups > 1:
            assert rows["stage2_unit2_gconv1"].kind == "conv1x1_group"


def test_mobilenet_v1_last_depthwise_has_stride_1():
    rows = {r.name: r for r in mobilecnn.profile("mobilenet_v1").layers}
    assert rows["conv_dw_13"].input_shape == (7, 7, 1024)
    assert rows["conv_dw_13"].output_shape == (7, 7, 1024)


def test_mobilenet_v2_last_layer_width():
    def last(alpha):
        return {r.name: r for r in mobilecnn.profile("mobilenet_v2", alpha=alpha).layers}[
            "conv_last"].output_shape[-1]
    assert last(0.35) == last(1.0) == 1280
    assert last(1.4) == make_divisible(1280 * 1.4, 8) == 1792


def test_flops_are_twice_macs_and_totals_add_up():
    for name in mobilecnn.list_architectures():
        p = mobilecnn.profile(name)
        assert p.flops == 2 * p.macs
        frame = p.to_frame()
        assert frame["params"].sum() == p.params and frame["macs"].sum() == p.macs
        stages = p.to_frame("stage")
        assert stages["params"].sum() == p.params
        assert [s for s, _, _ in p.by_stage()] == list(stages["stage"])


def test_layer_names_are_unique_and_chain():
    for name in mobilecnn.list_architectures():
        p = mobilecnn.profile(name)
        names = [r.name for r in p.layers]
        assert len(names) == len(set(names))
        assert p.layers[-1].name == "predictions"


@pytest.mark.parametrize("alpha", [0.1, 0.25, 0.5, 0.75, 1.0])
def test_mobilenet_v1_truncates_widths(alpha):
    p = mobilecnn.profile("mobilenet_v1", alpha=alpha)
    assert p.layers[0].output_shape[-1] == int(32 * alpha)   # truncation, not rounding


@pytest.mark.parametrize("alpha", [0.35, 0.5, 0.75, 1.0, 1.3])
def test_mobilenet_v2_widths_are_multiples_of_8(alpha):
    p = mobilecnn.profile("mobilenet_v2", alpha=alpha)
    assert all(r.output_shape[-1] % 8 == 0 for r in p.layers if r.kind.startswith("conv"))


def test_image_size_is_rho_times_224():
    assert mobilecnn.profile("mobilenet_v1", rho=0.5).input_shape == (112, 112, 3)
    assert mobilecnn.profile("mobilenet_v1", image_size=32).metaparam("rho") == pytest.approx(32 / 224)


# ---- bad input --------------------------------------------------------------------------------
@pytest.mark.parametrize("name, kwargs, words", [
    ("mobilenet_v1", {"alpha": 0}, ["alpha", "(0.0, 1.0]"]),
    ("mobilenet_v1", {"alpha": -0.5}, ["alpha"]),
    ("mobilenet_v1", {"alpha": 1.5}, ["alpha", "1.0"]),
    ("mobilenet_v1", {"alpha": 0.01}, ["alpha", "0.03125"]),
    ("mobilenet_v1", {"alpha": "wide"}, ["alpha", "number"]),
    ("mobilenet_v1", {"alpha": True}, ["alpha", "number"]),
    ("mobilenet_v2", {"alpha": 0.2}, ["alpha", "[0.35, 1.4]"]),
    ("mobilenet_v2", {"expansion": 2.5}, ["expansion", "whole number"]),
    ("mobilenet_v1", {"rho": 0.1}, ["rho", "32-pixel"]),
    ("mobilenet_v1", {"rho": 1.2}, ["rho"]),
    ("squeezenet", {"rho": 34 / 224}, ["rho", "too small", "squeezenet", "35-pixel"]),
    ("squeezenet", {"bypass": "residual"}, ["bypass", "'none', 'simple', 'complex'"]),
    ("squeezenet", {"version": "1.2"}, ["version", "'1.0', '1.1'"]),
    ("squeezenet", {"version": 1.0}, ["version"]),
    ("shufflenet_v1", {"groups": 5}, ["groups", "1, 2, 3, 4, 8"]),
    ("shufflenet_v1", {"groups": "3"}, ["groups"]),
    ("shufflenet_v1", {"scale": 0.75}, ["scale", "0.25"]),
    ("mobilenet_v1", {"num_classes": 0}, ["num_classes", "[1"]),
    ("mobilenet_v1", {"num_classes": 2.5}, ["num_classes"]),
    ("mobilenet_v1", {"gamma": 1}, ["gamma", "alpha"]),
    ("mobilenet_v1", {"rho": 0.5, "image_size": 64}, ["rho", "image_size"]),
    ("mobilenet_v1", {"image_size": 31.5}, ["image_size"]),
    ("resnet50", {}, ["resnet50", "mobilenet_v1"]),
])
def test_bad_input_names_the_parameter(name, kwargs, words):
    with pytest.raises(ValueError) as err:
        mobilecnn.profile(name, **kwargs)
    for word in words:
        assert word in str(err.value)


def test_squeezenet_minimum_size_is_reported_and_works():
    size = mobilecnn.minimum_image_size("squeezenet", version="1.0", bypass="none",
                                        num_classes=10, dropout=0.5)
    with pytest.raises(ValueError, match=f"{size}-pixel"):
        mobilecnn.profile("squeezenet", image_size=size - 1)
    assert mobilecnn.profile("squeezenet", image_size=size).layers[-1].output_shape == (1000,)


def test_every_slider_setting_profiles_or_explains_itself():
    """The sliders' grid: every combination gives a profile, or a ValueError about rho only."""
    import itertools
    import random

    for name in mobilecnn.list_architectures():
        specs = [m for m in mobilecnn.metaparameters(name) if m.name not in ("num_classes", "dropout")]
        points = list(itertools.product(*(m.grid for m in specs)))
        if len(points) > 3000:  # SqueezeNet's design space: a fixed sample (its own tests cover
            points = random.Random(0).sample(points, 3000)  # every width combination)
        for values in points:
            meta = dict(zip((m.name for m in specs), values))
            try:
                p = mobilecnn.profile(name, **meta)
            except ValueError as err:
                assert str(err).startswith("rho="), (name, meta, err)
                continue
            assert p.macs > 0 and p.params > 0
            assert p.layers[-1].output_shape == (1000,)


# ---- peak activation memory -------------------------------------------------------------------
def test_live_memory_of_a_small_graph_by_hand():
    """input 4x4x2 -> conv a (4 ch) -> BN (in place) -> conv b (2 ch) -> add(input, b)."""
    from mobilecnn.graph import Net
    from mobilecnn.profiler import live_elements

    net = Net((4, 4, 2))
    a = net.bn(net.conv("input", 4, 3, name="a"))
    b = net.conv(a, 2, 1, name="b")
    net.add("input", b, name="sum")
    live = live_elements(net)
    # the input (32) waits for the addition; a is 64, b and the sum 32 each
    assert live == {"a": 32 + 64, "a_bn": 32 + 64, "b": 32 + 64 + 32, "sum": 32 + 32 + 32}


def test_peak_memory_of_a_chain_is_its_largest_layer_input_plus_output():
    """MobileNet v1 has no shortcuts: at most one layer's input and output are alive at once."""
    p = mobilecnn.profile("mobilenet_v1", alpha=0.5, rho=160 / 224)

    def elements(shape):
        n = 1
        for d in shape:
            n *= d
        return n

    largest = max(elements(r.input_shape) + elements(r.output_shape) for r in p.layers
                  if r.kind.startswith(("conv", "depthwise")))
    assert p.peak_activation_elements == largest
    assert p.peak_activation_bytes(16) == 2 * largest == 2 * p.peak_activation_bytes(8)
    with pytest.raises(ValueError, match="bits"):
        p.peak_activation_bytes(4)
