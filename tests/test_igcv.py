"""IGCV1, IGCV2 and IGCV3: the block formula, the composed kernels, the authors' layouts, errors."""

import itertools

import numpy as np
import pytest

import mobilecnn
from mobilecnn import grouped
from mobilecnn.architectures import describe, igcv
from mobilecnn.graph import Net

NAMES = ("igcv1", "igcv2", "igcv3")


# ---- IGCV1: the seed's parameter formula --------------------------------------------------------
@pytest.mark.parametrize("L, M", [(1, 8), (2, 4), (4, 8), (8, 2), (24, 2), (3, 5)])
def test_igc_block_weights_are_the_seeds_formula(L, M):
    net = describe("igcv1", primary_groups=L, secondary_groups=M, depth=8)
    convs = sum(n.weights for n in net if n.block == "stage1_block2" and n.op == "conv")
    p = mobilecnn.profile("igcv1", primary_groups=L, secondary_groups=M, depth=8)
    block = sum(r.trainable_params for r in p.layers if r.block == "stage1_block2")
    assert block == convs + 2 * L * M                  # and one batch norm: G = L M in and out
    assert convs == igcv.igc_block_params(L, M) == L * M * (9 * M + L)
    # T = G^2 (WH / L + 1 / M), the seed's second form
    assert igcv.igc_block_params(L, M) == pytest.approx((L * M) ** 2 * (9 / L + 1 / M))


def test_igcv1_layout_is_plain_igc():
    net = describe("igcv1", depth=20)       # L = 24, M = 2: 48, 96, 192 channels
    convs = [n for n in net if n.op == "conv"]
    assert len(convs) == 1 + 2 * 3 * 6              # the stem, two per block (depth 20 = 3*6+2)
    assert [n.out_shape[-1] for n in convs[:3]] == [48, 48, 48]
    secondary = {n.block.split("_")[0]: n.attr("groups") for n in convs if "secondary" in n.name}
    assert secondary == {"stage1": 2, "stage2": 4, "stage3": 8}      # M doubles, L stays
    assert {n.attr("groups") for n in convs if n.name.endswith("_primary")} == {24}
    widening = [n for n in convs if n.name.endswith("_primary") and n.attr("stride") == 2]
    assert [n.name for n in widening] == ["stage2_block1_primary", "stage3_block1_primary"]
    assert net.shape(net.output) == (1000,)


def test_igcv1_residual_is_resnet_igc():
    plain = describe("igcv1", depth=20)
    res = describe("igcv1", depth=20, residual=True)
    igc_blocks = {n.block for n in res if n.name.endswith("_primary")}
    assert len(igc_blocks) == 18 == len({n.block for n in plain if n.name.endswith("_primary")})
    assert sum(n.op == "add" for n in res) == 9
    projections = [n for n in res if n.name.endswith("_projection")]
    assert [(n.attr("groups"), n.attr("stride")) for n in projections] == [(24, 2), (24, 2)]
    # resnet_igc.py's first block of a widening unit: C_in / L secondary groups
    assert res.nodes["stage2_unit1_igc1_secondary"].attr("groups") == 48 // 24


# ---- the composed kernels ------------------------------------------------------------------------
@pytest.mark.parametrize("L, M", [(2, 3), (4, 8), (8, 4), (24, 2), (1, 16), (16, 1)])
def test_igcv1_block_is_dense_with_exactly_one_path(L, M):
    net = describe("igcv1", primary_groups=L, secondary_groups=M, depth=8)
    for block in ("stage1_block2", "stage2_block2", "stage3_block1"):
        m = grouped.composed_connectivity(net, block)
        assert (m == 1).all(), block          # every output depends on every input, once


def test_without_the_permutation_the_block_is_not_dense():
    net = Net((8, 8, 12))
    net.block = "igc"
    x = net.conv("input", 12, 3, groups=3, name="primary")
    net.conv(x, 12, 1, groups=4, name="secondary")
    m = grouped.composed_connectivity(net, "igc")
    assert (m == 0).any() and m.max() == 3      # the two groupings overlap instead of crossing


@pytest.mark.parametrize("composed", [2, 3, 4, 5])
def test_igcv2_blocks_meet_the_complementary_condition(composed):
    net = describe("igcv2", composed=composed)
    for block in ("stage1_unit1_block1", "stage2_unit1_block2", "stage3_unit2_block2"):
        assert (grouped.composed_connectivity(net, block) == 1).all(), block
    # the widening block's 3x3 layer makes two outputs per input channel: two paths each
    assert (grouped.composed_connectivity(net, "stage2_unit1_block1") == 2).all()


def test_igcv3_blocks_are_dense_under_the_loose_condition():
    net = describe("igcv3")
    m = grouped.composed_connectivity(net, "block_1")       # no shortcut
    assert m.min() >= 1 and m.max() > 1                      # several paths (super-channels)
    with_shortcut = grouped.composed_connectivity(net, "block_2")   # branch + identity
    assert (with_shortcut - np.eye(len(with_shortcut), dtype=int)).min() >= 1


def test_composed_connectivity_rejects_blocks_it_cannot_multiply():
    net = describe("igcv1", depth=8, residual=True)
    with pytest.raises(ValueError, match="block="):
        grouped.composed_connectivity(net, "stage2_unit1")   # its add reads the other block
    with pytest.raises(ValueError, match="block="):
        grouped.composed_connectivity(net, "no_such_block")


def test_inverse_shuffle_undoes_the_shuffle():
    for c, g in [(12, 3), (16, 2), (24, 24), (10, 1)]:
        p, q = grouped.shuffle_matrix(c, g), grouped.shuffle_matrix(c, g, inverse=True)
        assert (q @ p == np.eye(c)).all() and (q == p.T).all()
    keras = pytest.importorskip("keras")  # noqa: F841
    torch = pytest.importorskip("torch")
    from mobilecnn.keras_backend import ChannelShuffle as KerasShuffle
    from mobilecnn.torch_backend import ChannelShuffle as TorchShuffle

    x = np.arange(12, dtype="float32")
    k = KerasShuffle(3, inverse=True)(KerasShuffle(3)(x.reshape(1, 1, 1, -1))).numpy().ravel()
    t = TorchShuffle(3, inverse=True)(TorchShuffle(3)(torch.from_numpy(x).reshape(1, -1, 1, 1)))
    assert (k == x).all() and (t.numpy().ravel() == x).all()
    assert (KerasShuffle(3, inverse=True)(x.reshape(1, 1, 1, -1)).numpy().ravel()
            == grouped.shuffle_matrix(12, 3, inverse=True) @ x).all()


# ---- IGCV2's factors -----------------------------------------------------------------------------
def test_balanced_factors():
    assert igcv.balanced_factors(64, 2) == (8, 8)
    assert igcv.balanced_factors(128, 2) == (16, 8)
    assert igcv.balanced_factors(512, 3) == (8, 8, 8)
    assert igcv.balanced_factors(48, 1) == (48,)
    for c, k in itertools.product((16, 24, 40, 96, 128, 256), (1, 2, 3, 4)):
        f = igcv.balanced_factors(c, k)
        assert len(f) == k and int(np.prod(f)) == c and list(f) == sorted(f, reverse=True)
    with pytest.raises(ValueError, match="count"):
        igcv.balanced_factors(64, 0)


# ---- IGCV3: the authors' network -----------------------------------------------------------------
def test_igcv3_rows_are_the_authors():
    rows = [(r.expansion, r.channels, r.repeats, r.stride) for r in igcv.IGCV3_TABLE[1:-1]]
    assert rows == [(1, 16, 1, 1), (6, 24, 4, 2), (6, 32, 6, 2), (6, 64, 8, 2), (6, 96, 6, 1),
                    (6, 160, 6, 2), (6, 320, 1, 1)]           # symbols/igcv3.py


def test_igcv3_layers_are_the_released_symbols():
    """The first layers of models/igcv3-symbol.json (the released model): filters, groups."""
    net = describe("igcv3")
    expected = {"conv1": (32, 1, 2), "block_0_expand": (32, 2, 1), "block_0_project": (16, 2, 1),
                "block_1_expand": (96, 2, 1), "block_1_depthwise": (96, None, 2),
                "block_1_project": (24, 2, 1), "block_2_expand": (144, 2, 1)}
    for name, (filters, groups, stride) in expected.items():
        n = net.nodes[name]
        assert n.out_shape[-1] == filters and n.attr("stride") == stride, name
        assert groups is None or n.attr("groups") == groups, name
    assert net.nodes["conv_last"].out_shape[-1] == 1280
    blocks = 1 + 4 + 6 + 8 + 6 + 6 + 1
    assert sum(n.op == "relu6" for n in net) == blocks + 2      # depthwise layers, stem, last
    assert sum(n.op == "add" for n in net) == blocks - 7        # all but each row's first
    assert sum(n.op == "channel_shuffle" and n.attr("inverse", False) for n in net) == blocks
    assert mobilecnn.profile("igcv3").trainable_params == 3_491_688     # README: 3.5M


def test_igcv3_alpha_keeps_every_width_even():
    for alpha in (0.25, 0.35, 0.6, 0.75, 1.3, 1.4):
        for n in describe("igcv3", alpha=alpha):
            if n.op == "conv" and n.attr("groups") == 2:
                assert n.out_shape[-1] % 2 == 0 and n.in_shape[-1] % 2 == 0


# ---- errors and grids ----------------------------------------------------------------------------
@pytest.mark.parametrize("name, bad, match", [
    ("igcv1", dict(primary_groups=0), "primary_groups"),
    ("igcv1", dict(secondary_groups=2.5), "secondary_groups"),
    ("igcv1", dict(depth=10), "depth"),
    ("igcv1", dict(residual="yes"), "residual"),
    ("igcv1", dict(image_size=64), "rho"),
    ("igcv2", dict(composed=1), "composed"),
    ("igcv2", dict(blocks=3), "blocks"),
    ("igcv2", dict(alpha=4.0), "alpha"),
    ("igcv3", dict(alpha=2.0), "alpha"),
    ("igcv3", dict(image_size=16), "rho"),
])
def test_bad_input_names_the_parameter(name, bad, match):
    with pytest.raises(ValueError, match=match):
        mobilecnn.profile(name, **bad)


@pytest.mark.parametrize("name", NAMES)
def test_every_grid_point_profiles(name):
    grids = {m.name: m.grid for m in mobilecnn.metaparameters(name)}
    for values in itertools.product(*grids.values()):
        p = mobilecnn.profile(name, **dict(zip(grids, values)))
        assert p.params > 0 and p.macs > 0


@pytest.mark.parametrize("name, extra", [("igcv1", dict(residual=False, depth=8)),
                                         ("igcv2", dict(composed=4)), ("igcv3", {})])
def test_three_views_agree_at_the_small_setting(name, extra):
    pytest.importorskip("keras")
    pytest.importorskip("torch")
    from mobilecnn import parity

    parity.check(name, **{**mobilecnn.architectures.get(name).smoke_setting, **extra}).assert_ok()
