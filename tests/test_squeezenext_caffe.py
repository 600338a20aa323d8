"""SqueezeNext as the authors' Caffe files define it (github.com/amirgholami/SqueezeNext).

The expected values below are copied from the prototxt files named in each test (layer names
as in the file); the library's layer names are on the right. A change to the library that
moves away from the authors' network fails here.
"""

import pytest

import mobilecnn
from mobilecnn import architectures
from mobilecnn.architectures import squeezenext as sqnxt
from mobilecnn.ops import OPS




def nodes(layout, width=1.0):
    net = architectures.describe("squeezenext", layout=layout, width=width)
    return {n.name: n for n in net}


def source(by_name, name):
    """The non-in-place layer whose output ``name`` (a layer) reads first."""
    x = by_name[name].inputs[0]
    while by_name[x].op in OPS and OPS[by_name[x].op].inplace:
        x = by_name[x].inputs[0]
    return x


def sources(by_name, name):
    out = []
    for x in by_name[name].inputs:
        while by_name[x].op in OPS and OPS[by_name[x].op].inplace:
            x = by_name[x].inputs[0]
        out.append(x)
    return out


def conv(by_name, name):
    n = by_name[name]
    return n.out_shape[-1], n.attr("kernel"), n.attr("stride")


# 1.0-SqNxt-23v5/train_val.prototxt: (Caffe layer, num_output, (kernel_h, kernel_w), stride,
# its bottom) -> library layer
V5_1 = [
    ("Convolution1", 64, (5, 5), 2, "data", "conv1"),
    ("Convolution2", 32, (1, 1), 1, "pool1", "stage1_unit1_project"),
    ("Convolution3", 16, (1, 1), 1, "Convolution2", "stage1_unit1_squeeze1"),
    ("Convolution4", 8, (1, 1), 1, "Convolution3", "stage1_unit1_squeeze2"),
    ("Convolution5", 16, (3, 1), 1, "Convolution4", "stage1_unit1_conv3x1"),
    ("Convolution6", 16, (1, 3), 1, "Convolution5", "stage1_unit1_conv1x3"),
    ("Convolution7", 32, (1, 1), 1, "Convolution6", "stage1_unit1_expand"),
    ("Convolution13", 64, (1, 1), 2, "Eltwise2", "stage2_unit1_project"),
    ("Convolution14", 32, (1, 1), 1, "Convolution13", "stage2_unit1_squeeze1"),
    ("Convolution15", 16, (1, 1), 1, "Convolution14", "stage2_unit1_squeeze2"),
    ("Convolution18", 64, (1, 1), 1, "Convolution17", "stage2_unit1_expand"),
    ("Convolution34", 128, (1, 1), 2, "Eltwise6", "stage3_unit1_project"),
    ("Convolution35", 64, (1, 1), 1, "Convolution34", "stage3_unit1_squeeze1"),
    ("Convolution105", 256, (1, 1), 2, "Eltwise20", "stage4_unit1_project"),
    ("Convolution106", 128, (1, 1), 1, "Convolution105", "stage4_unit1_squeeze1"),
    ("Convolution107", 64, (1, 1), 1, "Convolution106", "stage4_unit1_squeeze2"),
    ("Convolution108", 128, (3, 1), 1, "Convolution107", "stage4_unit1_conv3x1"),
    ("Convolution110", 256, (1, 1), 1, "Convolution109", "stage4_unit1_expand"),
    ("Convolution111", 128, (1, 1), 1, "Eltwise21", "final_conv"),
]
# 2.0-SqNxt-23v5/train_val.prototxt: only the stage widths double; conv1 and Convolution111 stay
V5_2 = [
    ("Convolution1", 64, (5, 5), 2, "data", "conv1"),
    ("Convolution2", 64, (1, 1), 1, "pool1", "stage1_unit1_project"),
    ("Convolution3", 32, (1, 1), 1, "Convolution2", "stage1_unit1_squeeze1"),
    ("Convolution4", 16, (1, 1), 1, "Convolution3", "stage1_unit1_squeeze2"),
    ("Convolution5", 32, (3, 1), 1, "Convolution4", "stage1_unit1_conv3x1"),
    ("Convolution6", 32, (1, 3), 1, "Convolution5", "stage1_unit1_conv1x3"),
    ("Convolution7", 64, (1, 1), 1, "Convolution6", "stage1_unit1_expand"),
    ("Convolution13", 128, (1, 1), 2, "Eltwise2", "stage2_unit1_project"),
    ("Convolution14", 64, (1, 1), 1, "Convolution13", "stage2_unit1_squeeze1"),
    ("Convolution15", 32, (1, 1), 1, "Convolution14", "stage2_unit1_squeeze2"),
    ("Convolution16", 64, (3, 1), 1, "Convolution15", "stage2_unit1_conv3x1"),
    ("Convolution106", 256, (1, 1), 1, "Convolution105", "stage4_unit1_squeeze1"),
    ("Convolution107", 128, (1, 1), 1, "Convolution106", "stage4_unit1_squeeze2"),
    ("Convolution108", 256, (3, 1), 1, "Convolution107", "stage4_unit1_conv3x1"),
    ("Convolution109", 256, (1, 3), 1, "Convolution108", "stage4_unit1_conv1x3"),
    ("Convolution110", 512, (1, 1), 1, "Convolution109", "stage4_unit1_expand"),
    ("Convolution111", 128, (1, 1), 1, "Eltwise21", "final_conv"),
]


@pytest.mark.parametrize("width, rows", [(1.0, V5_1), (2.0, V5_2)], ids=["1.0", "2.0"])
def test_23v5_layers_are_the_prototxt_layers(width, rows):
    by_name = nodes("23v5", width)
    caffe_to_ours = {caffe: ours for caffe, *_, ours in rows}
    for caffe, filters, kernel, stride, bottom, ours in rows:
        assert conv(by_name, ours) == (filters, kernel, stride), caffe
        if bottom in caffe_to_ours:           # a convolution reads the one the file says
            assert source(by_name, ours) == caffe_to_ours[bottom], caffe


@pytest.mark.parametrize("width", [1.0, 2.0])
def test_23v5_first_blocks_add_their_projection(width):
    # Eltwise1: bottom Convolution2 + Convolution7; Eltwise3: Convolution13 + Convolution18;
    # Eltwise7: Convolution34 + Convolution39; Eltwise21: Convolution105 + Convolution110
    by_name = nodes("23v5", width)
    for stage in (1, 2, 3, 4):
        unit = f"stage{stage}_unit1"
        assert sorted(sources(by_name, f"{unit}_add")) == sorted([f"{unit}_project",
                                                                  f"{unit}_expand"])
        assert f"{unit}_shortcut" not in by_name


def test_23v5_counts_the_files_layers():
    # 111 Convolution layers (Convolution1 .. Convolution111), 21 Eltwise SUM layers, and
    # fc1000 without a bias (bias_term: false) in both 23v5 files
    by_name = nodes("23v5")
    assert sum(n.op == "conv" for n in by_name.values()) == 111
    assert sum(n.op == "add" for n in by_name.values()) == 21
    assert by_name["logits"].attr("bias") is False


def test_23v5_map_sizes():
    # 227 -> 5x5 / 2, no padding -> 112 -> 3x3 / 2 max pooling, Caffe rounds up -> 56
    p = mobilecnn.profile("squeezenext", layout="23v5")
    rows = {r.name: r for r in p.layers}
    assert rows["conv1"].output_shape == (112, 112, 64)
    assert rows["pool1"].output_shape == (56, 56, 64)
    assert rows["stage2_unit1_project"].output_shape == (28, 28, 64)


def test_23_first_block_reads_pool1_beside_its_projection():
    # 1.0-SqNxt-23/train_val.prototxt: Convolution1 kernel_size 7; Convolution2 (32, the
    # projection) and Convolution3 (16, the first squeeze) both have bottom "pool1", and
    # Eltwise1 adds Convolution2 and Convolution7
    by_name = nodes("23")
    assert conv(by_name, "conv1") == (64, (7, 7), 2)
    assert source(by_name, "stage1_unit1_shortcut") == "pool1"
    assert source(by_name, "stage1_unit1_squeeze1") == "pool1"
    assert conv(by_name, "stage1_unit1_shortcut") == (32, (1, 1), 1)
    assert conv(by_name, "stage1_unit1_squeeze1") == (16, (1, 1), 1)
    assert sorted(sources(by_name, "stage1_unit1_add")) == ["stage1_unit1_expand",
                                                            "stage1_unit1_shortcut"]


@pytest.mark.parametrize("filters", [32, 64, 128, 256])
def test_separable_pair_holds_as_many_weights_as_one_3x3_from_c4_to_c2(filters):
    # the pair is C/4 -> C/2 (3x1) and C/2 -> C/2 (1x3): 9C^2/8 weights, read off the profile
    p = mobilecnn.profile("squeezenext", layout="23")
    stage = sqnxt.STAGE_WIDTHS.index(filters) + 1
    unit = f"stage{stage}_unit2" if stage < 4 else "stage4_unit1"
    rows = {r.name: r for r in p.layers}
    pair = sum(rows[f"{unit}_{k}"].trainable_params          # no bias; batch norm is its own row
               for k in ("conv3x1", "conv1x3"))
    assert pair == 9 * filters ** 2 // 8
    assert sqnxt.separable_pair_weights(filters) == (pair, pair, 2 * pair)


@pytest.mark.parametrize("bad", [0, -4, 30])
def test_separable_pair_weights_rejects_bad_widths(bad):
    with pytest.raises(ValueError, match="filters"):
        sqnxt.separable_pair_weights(bad)
