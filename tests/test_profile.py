"""The analytic profiler on its own: published numbers, conventions, validation. Pure Python."""

import subprocess
import sys

import pytest

import mobilecnn
from mobilecnn.architectures.common import make_divisible


def test_list_architectures():
    assert mobilecnn.list_architectures() == ["mobilenet_v1", "mobilenet_v2", "squeezenet",
                                              "shufflenet_v1"]


def test_import_does_not_load_frameworks():
    code = ("import sys, mobilecnn, mobilecnn.profiler, mobilecnn.book; mobilecnn.profile('shufflenet_v1');"
            "bad = [m for m in ('tensorflow', 'torch', 'keras') if m in sys.modules];"
            "print(','.join(bad)); sys.exit(1 if bad else 0)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, f"import mobilecnn loaded {done.stdout.strip()}"


# ---- published numbers ----------------------------------------------------------------------
# Howard et al. 2017 (arXiv:1704.04861), Table 6 (width) and Table 7 (resolution):
# million Mult-Adds of MobileNet at each alpha (224 px) and each resolution (alpha 1).
MOBILENET_V1_WIDTH = {1.0: 569, 0.75: 325, 0.5: 149, 0.25: 41}
MOBILENET_V1_RESOLUTION = {224: 569, 192: 418, 160: 290, 128: 186}
# Same tables, million parameters (kernel weights only, as the paper counts them).
MOBILENET_V1_PARAMS = {1.0: 4.2, 0.75: 2.6, 0.5: 1.3, 0.25: 0.5}


@pytest.mark.parametrize("alpha, million", MOBILENET_V1_WIDTH.items())
def test_mobilenet_v1_width_multiplier_matches_paper(alpha, million):
    p = mobilecnn.profile("mobilenet_v1", alpha=alpha)
    assert p.macs / 1e6 == pytest.approx(million, rel=0.01)
    assert p.kernel_weights / 1e6 == pytest.approx(MOBILENET_V1_PARAMS[alpha], abs=0.05)


@pytest.mark.parametrize("size, million", MOBILENET_V1_RESOLUTION.items())
def test_mobilenet_v1_resolution_multiplier_matches_paper(size, million):
    p = mobilecnn.profile("mobilenet_v1", rho=size / 224)
    assert p.input_shape == (size, size, 3)
    assert p.macs / 1e6 == pytest.approx(million, rel=0.01)


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


def test_mobilenet_v2_matches_paper():
    # Sandler et al. 2018, Table 4: MobileNetV2 (1.0, 224): 300M Mult-Adds, 3.4M parameters.
    p = mobilecnn.profile("mobilenet_v2")
    assert p.macs / 1e6 == pytest.approx(300, rel=0.01)
    assert p.trainable_params / 1e6 == pytest.approx(3.4, rel=0.05)


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


# Zhang et al. 2018, Table 2: complexity (MFLOPs, meaning multiply-adds) of ShuffleNet 1x.
SHUFFLENET_MFLOPS = {1: 143, 2: 140, 3: 137, 4: 133, 8: 137}


@pytest.mark.parametrize("groups, mflops", SHUFFLENET_MFLOPS.items())
def test_shufflenet_complexity_matches_paper(groups, mflops):
    p = mobilecnn.profile("shufflenet_v1", groups=groups, scale=1.0)
    assert p.macs / 1e6 == pytest.approx(mflops, rel=0.02)


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

    for name in mobilecnn.list_architectures():
        specs = [m for m in mobilecnn.metaparameters(name) if m.name not in ("num_classes", "dropout")]
        for values in itertools.product(*(m.grid for m in specs)):
            meta = dict(zip((m.name for m in specs), values))
            try:
                p = mobilecnn.profile(name, **meta)
            except ValueError as err:
                assert str(err).startswith("rho="), (name, meta, err)
                continue
            assert p.macs > 0 and p.params > 0
            assert p.layers[-1].output_shape == (1000,)
