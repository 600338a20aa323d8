"""ShuffleNet v1 and v2: the published figures, v1's scaled stem, v2's unit, its frameworks.

The profile tests are pure Python; the framework tests build small networks (32 to 48 pixels)
in Keras, PyTorch and TF Lite.
"""

import numpy as np
import pytest

import mobilecnn
from mobilecnn.architectures import shufflenet_v1, shufflenet_v2
from mobilecnn.graph import Net

FIGURES = [(name, figure) for name in ("shufflenet_v1", "shufflenet_v2")
           for figure in mobilecnn.architecture(name).published]


# ---- published figures (each agrees, and every tolerance is needed: tests/test_profile.py) ----

def test_the_published_figures_cover_every_table():
    v1 = {f.source for f in shufflenet_v1.PUBLISHED}
    assert {f"zhang2018shufflenet, Table {t}" for t in (1, 2, 5, 8)} <= v1
    table_2 = [dict(f.settings) for f in shufflenet_v1.PUBLISHED if f.source.endswith("Table 2")]
    assert sorted((s["scale"], s["groups"]) for s in table_2) == sorted(
        (s, g) for s in (0.25, 0.5, 1.0) for g in (1, 2, 3, 4, 8))
    v2 = {(f.source, dict(f.settings)["layout"]) for f in shufflenet_v2.PUBLISHED}
    assert ("ma2018shufflenetv2, Table 5", "paper") in v2
    assert any(layout == "torchvision" for _, layout in v2)


# ---- ShuffleNet v1: the stem scales as in the reference implementation -----------------------

@pytest.mark.parametrize("scale, widths", [
    (0.25, {1: 12, 2: 12, 3: 12, 4: 12, 8: 16}),
    (0.5, {1: 12, 2: 12, 3: 12, 4: 12, 8: 16}),   # MEGVII: 12 at g=3, 16 at g=8
    (1.0, {1: 24, 2: 24, 3: 24, 4: 24, 8: 24}),
    (1.5, {1: 24, 2: 24, 3: 24, 4: 24, 8: 24}),   # MEGVII keeps 24 at 1.5x
    (2.0, {1: 48, 2: 48, 3: 48, 4: 48, 8: 48}),
])
def test_shufflenet_v1_stem_width(scale, widths):
    for groups, width in widths.items():
        assert shufflenet_v1.stem_width(scale, groups) == width
        rows = {r.name: r for r in mobilecnn.profile("shufflenet_v1", groups=groups,
                                                     scale=scale).layers}
        assert rows["conv1"].output_shape == (112, 112, width)
        # the first unit concatenates the pooled stem with out - stem channels in g groups
        unit = rows["stage2_unit1_gconv2"]
        assert unit.output_shape[-1] == rows["stage2_unit1_concat"].output_shape[-1] - width
        assert unit.output_shape[-1] % groups == 0


def test_shufflenet_v1_half_width_is_the_reference_network():
    # The example: with a 24-wide stem 0.5x (g=3) cost 42.7M; the reference's 12-wide
    # stem gives the paper's 38M. osmr/imgclsmob's port of this network (its own stem scaled to
    # 12) asserts 718,324 parameters.
    p = mobilecnn.profile("shufflenet_v1", groups=3, scale=0.5)
    assert round(p.macs / 1e6, 1) == 37.6
    assert p.trainable_params == 718_324


# ---- ShuffleNet v2: torchvision's counts, the two layouts, the unit --------------------------

TORCHVISION = {0.5: 1_366_792, 1.0: 2_278_604, 1.5: 3_503_624, 2.0: 7_393_996}


@pytest.mark.parametrize("scale", TORCHVISION)
def test_shufflenet_v2_parameters_equal_torchvision(scale):
    p = mobilecnn.profile("shufflenet_v2", scale=scale)
    assert p.trainable_params == TORCHVISION[scale]
    # Keras counts the batch-norm moving statistics too: two per channel of every BN layer
    bn = sum(r.output_shape[-1] for r in p.layers if r.kind == "bn")
    assert p.params == TORCHVISION[scale] + 2 * bn


def test_shufflenet_v2_layouts_differ_only_in_the_first_unit_of_stage_2():
    for scale in (0.5, 1.0, 1.5, 2.0):
        tv = {r.name: r for r in mobilecnn.profile("shufflenet_v2", scale=scale).layers}
        paper = {r.name: r for r in mobilecnn.profile("shufflenet_v2", scale=scale,
                                                      layout="paper").layers}
        assert tv.keys() == paper.keys()
        differ = {n for n in tv if (tv[n].output_shape, tv[n].macs, tv[n].params)
                  != (paper[n].output_shape, paper[n].macs, paper[n].params)}
        assert all(n.startswith("stage2_unit1_") for n in differ), differ
        assert bool(differ) == (scale != 0.5)   # at 0.5x half the output is the stem's 24
        out = tv["stage2_unit1_concat"].output_shape[-1]
        assert paper["stage2_unit1_proj_conv"].output_shape[-1] == 24
        assert paper["stage2_unit1_conv2"].output_shape[-1] == out - 24
        assert tv["stage2_unit1_proj_conv"].output_shape[-1] == out // 2
        assert tv["stage2_unit1_conv1"].input_shape[-1] == 24   # the whole input


def test_shufflenet_v2_unit_structure_in_the_profile():
    rows = {r.name: r for r in mobilecnn.profile("shufflenet_v2", scale=1.0).layers}
    assert rows["conv1"].output_shape == (112, 112, 24)
    assert rows["maxpool"].output_shape == (56, 56, 24)
    for stage, (size, width, repeats) in {2: (28, 116, 4), 3: (14, 232, 8),
                                          4: (7, 464, 4)}.items():
        assert rows[f"stage{stage}_unit1_shuffle"].output_shape == (size, size, width)
        assert f"stage{stage}_unit1_split_1" not in rows            # stride 2: no split
        assert f"stage{stage}_unit{repeats + 1}_conv1" not in rows
        for unit in range(2, repeats + 1):
            name = f"stage{stage}_unit{unit}"
            half = (size, size, width // 2)
            assert rows[f"{name}_split_1"].output_shape == half
            assert rows[f"{name}_split_2"].output_shape == half
            assert rows[f"{name}_conv1"].input_shape == half         # the branch takes a half
            assert rows[f"{name}_dwconv"].kind == "depthwise3x3"
            assert rows[f"{name}_concat"].output_shape == (size, size, width)
            assert rows[f"{name}_shuffle"].kind == "channel_shuffle"
    assert rows["conv5"].output_shape == (7, 7, 1024)
    assert rows["fc"].output_shape == (1000,)
    assert mobilecnn.profile("shufflenet_v2", scale=2.0).layers[-4].output_shape == (7, 7, 2048)


def identity_unit_model():
    """One stride-1 unit on 8 channels, its branch set to the identity (for positive inputs)."""
    keras = pytest.importorskip("keras")
    from mobilecnn import keras_backend

    net = Net((3, 3, 8))
    shufflenet_v2.shuffle_unit(net, "input", 8, 1, "unit")
    model = keras_backend.build(net)
    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            c = layer.gamma.shape[0]
            layer.set_weights([np.ones(c), np.zeros(c), np.zeros(c),
                               np.full(c, 1 - layer.epsilon)])
        elif isinstance(layer, keras.layers.DepthwiseConv2D):
            kernel = np.zeros((3, 3, 4, 1))
            kernel[1, 1] = 1
            layer.set_weights([kernel])
        elif isinstance(layer, keras.layers.Conv2D):
            layer.set_weights([np.eye(4)[None, None]])
    return net, model


def test_shufflenet_v2_split_and_shuffle_route_the_channels():
    """Input channels 0..7: the first half passes, the second half goes through the branch
    (here the identity), and the shuffle interleaves them: 0, 4, 1, 5, 2, 6, 3, 7."""
    torch = pytest.importorskip("torch")
    from mobilecnn import torch_backend

    net, model = identity_unit_model()
    x = np.broadcast_to(np.arange(1, 9, dtype=np.float32), (2, 3, 3, 8)).copy()
    x[1] *= 10                                        # a second image, different values
    expected = x[..., [0, 4, 1, 5, 2, 6, 3, 7]]
    # each of three batch norms multiplies by rsqrt(1 - epsilon + epsilon), within 2 ulp in
    # x86 kernels, and the product is rounded: at most ~8 eps relative; 16 eps leaves 2x
    close = dict(rtol=16 * 2 ** -23, atol=0)
    assert np.allclose(np.asarray(model(x, training=False)), expected, **close)
    # the same in PyTorch, with the weights copied by name
    module = torch_backend.copy_from_keras(model, torch_backend.build(net)).eval()
    with torch.no_grad():
        out = module(torch.from_numpy(x).permute(0, 3, 1, 2)).permute(0, 2, 3, 1).numpy()
    assert np.allclose(out, expected, **close)
    # and with the branch silenced (last batch norm scale 0), odd channels carry nothing
    layer = model.get_layer("unit_conv2_bn")
    gamma, beta, mean, var = layer.get_weights()
    layer.set_weights([np.zeros_like(gamma), beta, mean, var])
    out = np.asarray(model(x, training=False))
    assert np.allclose(out[..., ::2], x[..., :4], **close) and not out[..., 1::2].any()


# ---- ShuffleNet v2 in the frameworks --------------------------------------------------------

@pytest.mark.parametrize("meta", [
    dict(scale=0.5, image_size=32, num_classes=5),
    dict(scale=1.5, image_size=48, num_classes=3, layout="paper"),
], ids=["0.5x-32px-torchvision", "1.5x-48px-paper"])
def test_shufflenet_v2_three_way_parity(meta):
    pytest.importorskip("torch")
    from mobilecnn import parity

    report = parity.check("shufflenet_v2", **meta).assert_ok()
    assert report.layers_compared == len(mobilecnn.profile("shufflenet_v2", **meta).layers)


def test_shufflenet_v2_keras_model_saves_and_reloads(tmp_path):
    keras = pytest.importorskip("keras")
    from mobilecnn import keras_backend, parity

    model = mobilecnn.keras_model("shufflenet_v2", scale=0.5, image_size=32, num_classes=4)
    parity.randomize_keras(model)
    path = tmp_path / "shufflenet_v2.keras"
    model.save(path)
    again = keras.saving.load_model(path)
    kinds = {type(layer) for layer in again.layers}
    assert keras_backend.ChannelSlice in kinds and keras_backend.ChannelShuffle in kinds
    assert keras.layers.Lambda not in kinds
    slices = [layer for layer in again.layers if isinstance(layer, keras_backend.ChannelSlice)]
    assert {(s.start, s.stop) for s in slices if s.name.startswith("stage2_")} == {(0, 24),
                                                                                  (24, 48)}
    x = np.random.default_rng(0).random((2, 32, 32, 3)).astype("float32")
    # the same float32 weights through the same kernels: the same numbers, bit for bit
    assert np.array_equal(model(x).numpy(), again(x).numpy())


# ---- bad input ------------------------------------------------------------------------------

@pytest.mark.parametrize("kwargs, words", [
    ({"scale": 0.75}, ["scale", "0.5, 1.0, 1.5, 2.0"]),
    ({"scale": "1x"}, ["scale"]),
    ({"layout": "megvii"}, ["layout", "'torchvision', 'paper'"]),
    ({"groups": 3}, ["groups", "layout", "scale"]),
    ({"rho": 0.1}, ["rho", "at least"]),
    ({"num_classes": 0}, ["num_classes"]),
])
def test_shufflenet_v2_bad_input_names_the_parameter(kwargs, words):
    with pytest.raises(ValueError) as err:
        mobilecnn.profile("shufflenet_v2", **kwargs)
    for word in words:
        assert word in str(err.value), (word, str(err.value))


def test_shufflenet_v2_smallest_input():
    # five halvings: 32 pixels leave a 1x1 map after stage 4; 16 pixels are refused
    assert mobilecnn.profile("shufflenet_v2", image_size=32).layers[-4].output_shape[:2] == (1, 1)
    with pytest.raises(ValueError, match="rho"):
        mobilecnn.profile("shufflenet_v2", image_size=16)
