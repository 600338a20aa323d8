"""diagrams.block_layout: the structure a block diagram draws, read from the graph."""

import pytest

import mobilecnn
from mobilecnn import diagrams


def layout(name, block, **meta):
    boxes, arrows = diagrams.block_layout(mobilecnn.profile(name, **meta), block)
    return {b.name: b for b in boxes}, arrows


def test_squeeze_excite_has_no_batch_norm_and_is_a_gate():
    # mobilenet_v3.squeeze_excite: pooling, two 1x1 convolutions with bias, no batch norm
    boxes, arrows = layout("mobilenet_v3_large", "expanded_conv_14")
    se = [b for n, b in boxes.items() if "squeeze_excite" in n and not n.endswith("_mul")]
    assert [b.op for b in se] == ["gap", "conv", "conv"]
    assert not any(b.bn for b in se) and not any("BN" in b.label for b in se)
    assert all(b.lane == -1 for b in se)                  # drawn beside the path, as a gate
    assert se[-1].act == "hard_sigmoid"
    mul = boxes["expanded_conv_14_squeeze_excite_mul"]
    assert mul.lane == 0 and not mul.bn and "BN" not in mul.label
    gate = {(a.src, a.dst) for a in arrows if a.kind == "gate"}
    # the gate reads the depthwise output, and its output multiplies that same tensor
    assert ("expanded_conv_14_depthwise", se[0].name) in gate
    assert (se[-1].name, mul.name) in gate
    assert ("expanded_conv_14_depthwise", mul.name, "flow") in {(a.src, a.dst, a.kind)
                                                                for a in arrows}
    # batch norm where the graph has it: expansion, depthwise and projection
    assert [boxes[f"expanded_conv_14_{k}"].bn for k in ("expand", "depthwise", "project")] == [
        True, True, True]


def test_squeezenext_projection_shortcut_runs_in_parallel():
    boxes, arrows = layout("squeezenext", "stage2_unit1")
    shortcut = boxes["stage2_unit1_shortcut"]
    assert shortcut.lane == 1                             # its own lane, not in series
    main = [b.name for b in sorted(boxes.values(), key=lambda b: b.x) if b.lane == 0]
    assert "stage2_unit1_shortcut" not in main
    assert main[0] == "input" and main[-1] == "stage2_unit1_add"
    projection = {(a.src, a.dst) for a in arrows if a.kind == "projection"}
    assert projection == {("input", "stage2_unit1_shortcut"),
                          ("stage2_unit1_shortcut", "stage2_unit1_add")}
    assert not [a for a in arrows if a.kind == "identity"]
    # in parallel: the shortcut sits between the input and the addition
    assert boxes["input"].x < shortcut.x < boxes["stage2_unit1_add"].x


def test_squeezenext_23v5_projection_in_series_then_identity():
    boxes, arrows = layout("squeezenext", "stage2_unit1", layout="23v5")
    assert boxes["stage2_unit1_project"].lane == 0
    assert {(a.src, a.dst) for a in arrows if a.kind == "identity"} == {
        ("stage2_unit1_project", "stage2_unit1_add")}


@pytest.mark.parametrize("block, shortcut", [("block_2", True), ("block_1", False)])
def test_mobilenet_v2_identity_shortcuts_stay_identity(block, shortcut):
    boxes, arrows = layout("mobilenet_v2", block)
    kinds = {a.kind for a in arrows}
    assert ("identity" in kinds) is shortcut
    assert "projection" not in kinds and "gate" not in kinds
    assert all(b.lane == 0 for b in boxes.values())
    assert "linear" in boxes[f"{block}_project"].label          # the linear bottleneck


def test_unknown_block_names_it():
    with pytest.raises(ValueError, match="block"):
        layout("mobilenet_v2", "block_99")


@pytest.mark.parametrize("name, block, meta, size", [
    ("mobilenet_v3_large", "expanded_conv_14", {}, (9, 4.2)),
    ("squeezenext", "stage2_unit1", {}, (9, 3.6)),      # chapter 7: three panels of 9 x 10.8
    ("squeezenext", "stage2_unit2", {}, (9, 3.6)),
    ("mobilenet_v2", "block_2", {}, (8, 2.8)),          # chapter 3: two panels of 8 x 5.6
    ("mobilenet_v2", "block_1", {}, (8, 2.8)),
    ("squeezenext", "stage2_unit1", {"layout": "23v5"}, (9, 3.6)),
])
def test_no_two_texts_overlap(name, block, meta, size):
    # at the sizes the chapters draw them: every text's rendered extent is disjoint
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=size)
    diagrams.block_diagram(mobilecnn.profile(name, **meta), block, ax)
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    extents = [t.get_window_extent(renderer) for t in ax.texts if t.get_text()]
    plt.close(fig)
    for i, a in enumerate(extents):
        for b in extents[i + 1:]:
            assert not a.overlaps(b), (a, b)
