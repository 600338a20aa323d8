"""SqueezeNet: the paper's Table 1 at 227 px, torchvision's counts, pooling rounding, design space."""

import itertools

import numpy as np
import pytest

import mobilecnn
from mobilecnn.architectures import squeezenet as sq
from mobilecnn.ops import window_output

META = {m.name: m for m in mobilecnn.metaparameters("squeezenet")}


def layer(p, name):
    return next(r for r in p.layers if r.name == name)


def block_params(p, block):
    return sum(r.params for r in p.layers if r.block == block)


# ---- Table 1 ----------------------------------------------------------------------------------

def test_base_resolution_is_the_papers_227():
    p = mobilecnn.profile("squeezenet")
    assert p.image_size == 227 == sq.ARCHITECTURE.base_resolution
    assert mobilecnn.profile("squeezenet", image_size=224).metaparam("rho") == 224 / 227


def test_table1_at_227_pixels():
    p = mobilecnn.profile("squeezenet")
    for row in sq.TABLE1:
        if row.layer.startswith("fire"):
            out = layer(p, f"{row.layer}_concat").output_shape
            widths = (layer(p, f"{row.layer}_squeeze").output_shape[-1],
                      layer(p, f"{row.layer}_expand1x1").output_shape[-1],
                      layer(p, f"{row.layer}_expand3x3").output_shape[-1])
            assert widths == (row.s1x1, row.e1x1, row.e3x3), row
            assert block_params(p, row.layer) == row.params, row
        elif row.layer == "avgpool10":
            out = (1, 1) + layer(p, "global_pool").output_shape
        else:
            out = layer(p, row.layer).output_shape
            if row.params is not None:
                assert layer(p, row.layer).params == row.params, row
        assert out == row.output, row
    # the table adds up, and the network is the table
    assert sum(r.params for r in sq.TABLE1 if r.params) == sq.TABLE1_TOTAL == 1_248_424
    assert p.params == p.trainable_params == sq.TABLE1_TOTAL


def test_design_space_defaults_are_table1():
    widths = sq.fire_widths(**sq.DESIGN_DEFAULTS)
    fires = [r for r in sq.TABLE1 if r.layer.startswith("fire")]
    assert [(w.s1x1, w.e1x1, w.e3x3) for w in widths] == [(r.s1x1, r.e1x1, r.e3x3) for r in fires]
    assert sq.DESIGN_DEFAULTS == dict(base_e=128, incr_e=128, freq=2, pct3x3=0.5, SR=0.125)
    explicit = mobilecnn.profile("squeezenet", **sq.DESIGN_DEFAULTS)
    assert explicit.params == 1_248_424
    assert explicit.macs == mobilecnn.profile("squeezenet").macs


# ---- torchvision at 224 px ----------------------------------------------------------------------

@pytest.mark.parametrize("version, params, gmacs", [("1.0", 1_248_424, 0.82),
                                                     ("1.1", 1_235_496, 0.35)])
def test_torchvision_figures_need_ceil_pooling(version, params, gmacs):
    # torchvision's model documentation: 1,248,424 / 1,235,496 parameters, 0.82 / 0.35 GFLOPS
    # (which are multiply-accumulates) at 224 px; torchvision pools with ceil_mode=True.
    ceil = mobilecnn.profile("squeezenet", version=version, pooling="ceil", image_size=224)
    floor = mobilecnn.profile("squeezenet", version=version, pooling="floor", image_size=224)
    assert ceil.params == floor.params == params
    assert round(ceil.macs / 1e9, 2) == gmacs
    if version == "1.0":  # the library's old 777M: floor pooling misses torchvision's figure
        assert floor.macs < ceil.macs and round(floor.macs / 1e9, 2) == 0.78
    else:  # 1.1's 3x3 conv1 gives 111x111 at 224 px, where every window fits
        assert floor.macs == ceil.macs


def test_pool_sizes_at_224_pixels():
    sizes = {}
    for pooling in ("floor", "ceil"):
        p = mobilecnn.profile("squeezenet", pooling=pooling, image_size=224)
        sizes[pooling] = [layer(p, n).output_shape[0] for n in ("maxpool1", "maxpool4", "maxpool8")]
    assert sizes == {"floor": [54, 26, 12], "ceil": [54, 27, 13]}
    # at the paper's 227 pixels every window fits: the rounding does not matter
    a, b = (mobilecnn.profile("squeezenet", pooling=m) for m in ("floor", "ceil"))
    assert a.macs == b.macs and [r.output_shape for r in a.layers] == [r.output_shape for r in b.layers]


@pytest.mark.parametrize("window, stride", [(3, 2), (2, 2), (3, 3), (2, 3), (5, 2)])
def test_ceil_padding_is_pytorch_ceil_mode(window, stride):
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    rng = np.random.default_rng(0)
    for size in range(window, 40):
        pad = sq.ceil_padding(size, window, stride)
        x = torch.tensor(rng.uniform(0, 1, (1, 1, size, size)), dtype=torch.float32)
        reference = F.max_pool2d(x, window, stride, ceil_mode=True)
        assert window_output(size, window, stride, (0, pad)) == reference.shape[-1], size
        assert pad < window
        # zeros at the bottom and right, then "valid" pooling: the same numbers (inputs >= 0)
        padded = F.max_pool2d(F.pad(x, (0, pad, 0, pad)), window, stride)
        assert torch.equal(padded, reference), size


# ---- the design space -----------------------------------------------------------------------------

def expected_widths(base_e, incr_e, freq, pct3x3, SR):
    """The paper's section 5.1, written out again: e_i, then its split and its squeeze."""
    out = []
    for i in range(8):
        e = base_e + incr_e * (i // freq)
        e3 = int(np.floor(e * pct3x3 + 0.5))
        out.append((int(np.floor(e * SR + 0.5)), e - e3, e3))
    return out


def expected_params(widths, num_classes=1000):
    total = 7 * 7 * 3 * 96 + 96                       # conv1 of version 1.0
    cin = 96
    for s, e1, e3 in widths:
        total += cin * s + s + s * e1 + e1 + 9 * s * e3 + e3
        cin = e1 + e3
    return total + cin * num_classes + num_classes     # conv10


@pytest.mark.parametrize("change", [
    {"SR": 0.25}, {"SR": 0.5}, {"SR": 0.75}, {"SR": 1.0},
    {"pct3x3": 0.125}, {"pct3x3": 0.75}, {"pct3x3": 0.01, "SR": 0.5},
    {"base_e": 64, "incr_e": 32, "freq": 3}, {"incr_e": 0}, {"freq": 1, "SR": 0.375},
])
def test_moving_the_metaparameters_follows_the_formulas(change):
    meta = {**sq.DESIGN_DEFAULTS, **change}
    widths = expected_widths(**meta)
    p = mobilecnn.profile("squeezenet", **change)
    assert [(layer(p, f"fire{i}_squeeze").output_shape[-1],
             layer(p, f"fire{i}_expand1x1").output_shape[-1],
             layer(p, f"fire{i}_expand3x3").output_shape[-1]) for i in range(2, 10)] == widths
    assert p.params == expected_params(widths)
    assert p.params != 1_248_424


def test_squeeze_ratio_grows_the_3x3_weights_linearly():
    # all of a fire module's weights but the squeeze's input side scale with s1x1 = SR * e_i
    counts = [mobilecnn.profile("squeezenet", SR=sr).params for sr in (0.25, 0.5, 0.75, 1.0)]
    steps = np.diff(counts)
    assert np.all(steps > 0) and len(set(steps)) == 1


def test_every_grid_combination_is_a_valid_design():
    grids = [m.grid for m in sq.DESIGN_SPACE]
    for values in itertools.product(*grids):
        widths = sq.fire_widths(*values)
        assert all(w.s1x1 >= 1 and w.e1x1 >= 1 and w.e3x3 >= 1 for w in widths)
    for m in sq.DESIGN_SPACE:
        assert m.default in m.grid and 5 <= len(m.grid) <= 7, m.name


@pytest.mark.parametrize("bypass", ["simple", "complex"])
@pytest.mark.parametrize("design", [{}, {"incr_e": 0, "base_e": 96}, {"base_e": 64, "freq": 1}])
def test_bypass_follows_the_widths(bypass, design):
    p = mobilecnn.profile("squeezenet", bypass=bypass, **design)
    plain = mobilecnn.profile("squeezenet", **design)
    widths = expected_widths(**{**sq.DESIGN_DEFAULTS, **design})
    cin, simple, projected = 96, [], []
    for i, (s, e1, e3) in enumerate(widths, start=2):
        (simple if cin == e1 + e3 else projected).append((i, cin, e1 + e3))
        cin = e1 + e3
    adds = [r.name for r in p.layers if r.kind == "add"]
    expected = simple if bypass == "simple" else sorted(simple + projected)
    assert adds == [f"fire{i}_add" for i, _, _ in expected]
    added = 0 if bypass == "simple" else sum(c * e + e for _, c, e in projected)
    assert p.params - plain.params == added


# ---- bad input ----------------------------------------------------------------------------------

@pytest.mark.parametrize("kwargs, words", [
    ({"SR": 0}, ["SR", "(0.0, 1.0]"]),
    ({"SR": 1.5}, ["SR"]),
    ({"SR": 0.001}, ["SR", "fire2", "squeeze"]),
    ({"pct3x3": 1.0}, ["pct3x3", "1x1"]),
    ({"pct3x3": 0.001}, ["pct3x3", "3x3"]),
    ({"freq": 0}, ["freq", "[1"]),
    ({"base_e": 0}, ["base_e"]),
    ({"base_e": 2.5}, ["base_e", "whole number"]),
    ({"incr_e": -32}, ["incr_e"]),
    ({"pooling": "round"}, ["pooling", "'floor', 'ceil'"]),
    ({"rho": 34 / 227}, ["rho", "35-pixel"]),
])
def test_bad_input_names_the_parameter(kwargs, words):
    with pytest.raises(ValueError) as err:
        mobilecnn.profile("squeezenet", **kwargs)
    for word in words:
        assert word in str(err.value)


# ---- the frameworks agree, for both roundings --------------------------------------------------

@pytest.mark.parametrize("meta", [
    dict(pooling="floor", image_size=64),
    dict(pooling="ceil", image_size=64),
    dict(pooling="ceil", version="1.1", bypass="complex", image_size=66, base_e=32, incr_e=32,
         SR=0.25, pct3x3=0.25),
], ids=["floor", "ceil", "ceil-1.1-complex-design"])
def test_parity_for_both_poolings(meta):
    pytest.importorskip("keras")
    pytest.importorskip("torch")
    from mobilecnn import parity

    p = mobilecnn.profile("squeezenet", num_classes=10, **meta)
    if meta["pooling"] == "ceil":  # the setting exercises the extra padding
        assert any(r.name.startswith("maxpool") and r.output_shape[0] !=
                   window_output(r.input_shape[0], 3, 2, (0, 0)) for r in p.layers)
    parity.check("squeezenet", num_classes=10, **meta).assert_ok()
