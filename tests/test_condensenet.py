"""CondenseNet: the converted network's layout and counts, the index layer, and the training of
learned group convolutions with their conversion, in Keras and PyTorch."""

import numpy as np
import pytest

import mobilecnn
from mobilecnn import condense
from mobilecnn.architectures import condensenet as cn
from mobilecnn.architectures.common import agrees
from mobilecnn.ops import strided_index

SMOKE = mobilecnn.architecture("condensenet").smoke_setting
TRAIN = {**SMOKE, "growth": 8}
"""The network the training tests train: the small setting at half its width (cheaper)."""


# ---- counts: what the authors print -------------------------------------------------------------

@pytest.mark.parametrize("figure", cn.PUBLISHED, ids=[f.label for f in cn.PUBLISHED])
def test_authors_flops_reproduce_the_printed_figures(figure):
    """The README's FLOPs are the authors' measure_model count: reproduced to the printed digits
    (Figure.tolerance only covers the gap to the multiply-adds alone)."""
    p = mobilecnn.profile("condensenet", **dict(figure.settings))
    assert agrees(cn.authors_flops(p) / 1e6, figure.macs)
    assert agrees(p.trainable_params / 1e6, figure.params)
    assert not agrees(p.macs / 1e6, figure.macs)          # so the tolerance is needed


def test_the_notes_quote_this_modules_counts():
    rows = [(s, m, e) for _, s, _, _, _, m, e, _ in cn._IMAGENET] + [
        ((("stages", st), ("growth", g), ("prune_classifier", False), ("num_classes", 10),
          ("image_size", 32)), m, e) for st, g, _, _, _, m, e, _ in cn._CIFAR]
    for settings, macs, extra in rows:
        p = mobilecnn.profile("condensenet", **dict(settings))
        assert p.macs == round(macs * 1e6)
        assert cn.authors_flops(p) - p.macs == round(extra * 1e6)


def test_the_growth_of_condensenet_182_is_the_only_one_that_fits():
    fits = [g for g in (8, 12, 16, 32)
            if agrees(mobilecnn.profile("condensenet", stages="30-30-30", growth=g,
                                        prune_classifier=False, num_classes=10,
                                        image_size=32).trainable_params / 1e6, 4.2)]
    assert fits == [12]


# ---- the layout ---------------------------------------------------------------------------------

def test_condensenet_74_layout():
    p = mobilecnn.profile("condensenet")
    rows = {r.name: r for r in p.layers}
    convs = [r for r in p.layers if r.kind.startswith("conv") or r.kind == "dense"]
    assert len(convs) == cn.depth("4-6-8-10-8") == 74
    assert rows["init_conv"].output_shape == (112, 112, 16)
    # exponentially increasing growth: stage m adds 8 * 2**(m-1) channels per layer
    for stage, (n, k) in enumerate(zip((4, 6, 8, 10, 8), (8, 16, 32, 64, 128)), start=1):
        for layer in range(1, n + 1):
            name = f"stage{stage}_layer{layer}"
            cin = rows[f"{name}_index"].input_shape[-1]
            assert rows[f"{name}_concat"].output_shape[-1] == cin + k
            assert rows[f"{name}_index"].output_shape[-1] == cin        # G * Cin / C, G = C
            assert rows[f"{name}_conv1"].output_shape[-1] == 4 * k
            assert rows[f"{name}_conv2"].kind == "conv3x3_group"
    # fully dense connectivity: a transition only pools, so every feature reaches the end
    assert [rows[f"transition{i}_pool"].output_shape for i in range(1, 5)] == [
        (56, 56, 16 + 4 * 8), (28, 28, 48 + 6 * 16), (14, 14, 144 + 8 * 32),
        (7, 7, 400 + 10 * 64)]
    assert rows["norm_last"].output_shape == (7, 7, 1040 + 8 * 128)
    assert rows["classifier_index"].output_shape == (1032,)
    assert rows["logits"].input_shape == (1032,)
    assert [r.kind for r in p.layers].count("index") == 36 + 1
    wide = {r.name: r for r in mobilecnn.profile("condensenet", groups=8, condense_factor=4).layers}
    assert wide["stage5_layer8_index"].output_shape[-1] == 8 * (2064 - 128) // 4
    assert wide["stage5_layer8_conv1"].kind == "conv1x1_group"
    cifar = mobilecnn.profile("condensenet", stages="14-14-14", prune_classifier=False,
                              image_size=32)
    assert {r.name: r for r in cifar.layers}["init_conv"].output_shape == (32, 32, 16)
    assert "classifier_index" not in {r.name for r in cifar.layers}


def reference_index(channels, groups, factor):
    return tuple((g + j * factor) % channels for g in range(groups)
                 for j in range(channels // factor))


@pytest.mark.parametrize("channels", [8, 24, 40, 64])
@pytest.mark.parametrize("groups", [1, 2, 4, 8])
@pytest.mark.parametrize("factor", [1, 2, 4, 8])
def test_default_index_is_valid(channels, groups, factor):
    index = strided_index(channels, groups, factor)
    assert index == reference_index(channels, groups, factor)
    keep = channels // factor
    for g in range(groups):
        part = index[g * keep:(g + 1) * keep]
        assert len(set(part)) == keep and all(0 <= i < channels for i in part)
    if groups == factor:
        assert sorted(index) == list(range(channels))


def test_bad_settings_name_the_parameter():
    with pytest.raises(ValueError, match="growth=12 must be a multiple of groups=8"):
        mobilecnn.profile("condensenet", growth=12, groups=8)
    with pytest.raises(ValueError, match="growth=12 must be a multiple of condense_factor=8"):
        mobilecnn.profile("condensenet", growth=12, groups=4, condense_factor=8)
    for key, value in (("groups", 3), ("condense_factor", 16), ("stages", "1-2"),
                       ("growth", 10), ("prune_classifier", 1)):
        with pytest.raises(ValueError, match=key):
            mobilecnn.profile("condensenet", **{key: value})
    net = mobilecnn.describe("condensenet", **TRAIN)
    with pytest.raises(ValueError, match="every index must be a channel in 0:16"):
        net.index("init_conv", (0, 16), name="bad")
    with pytest.raises(ValueError, match="at least one channel"):
        net.index("init_conv", (), name="bad")


# ---- the index layer in both frameworks --------------------------------------------------------

def test_index_layer_gathers_alike_and_saves(tmp_path):
    keras = pytest.importorskip("keras")
    torch = pytest.importorskip("torch")
    from mobilecnn.keras_backend import ChannelGather as KerasGather
    from mobilecnn.torch_backend import ChannelGather as TorchGather

    index = (5, 0, 5, 2, 7)          # repeats, omissions, any order
    x = np.random.default_rng(0).random((2, 3, 3, 8)).astype("float32")
    k = KerasGather(index)(x).numpy()
    t = TorchGather(index)(torch.from_numpy(x).permute(0, 3, 1, 2)).permute(0, 2, 3, 1).numpy()
    assert np.array_equal(k, x[..., list(index)]) and np.array_equal(t, k)
    assert [n for n, _ in TorchGather(index).named_buffers()] == ["index"]
    assert list(TorchGather(index).parameters()) == []
    model = mobilecnn.keras_model("condensenet", num_classes=4, **SMOKE)
    path = tmp_path / "condensenet.keras"
    model.save(path)
    again = keras.saving.load_model(path)
    assert not any(isinstance(layer, keras.layers.Lambda) for layer in again.layers)
    assert again.get_layer("stage1_layer1_index").index == model.get_layer(
        "stage1_layer1_index").index


def test_three_views_agree_on_the_small_setting():
    pytest.importorskip("torch")
    from mobilecnn import parity

    parity.check("condensenet", num_classes=10, **SMOKE).assert_ok()


# ---- the condensation schedule ------------------------------------------------------------------

def test_stages_split_the_first_half_of_training():
    assert [condense.stage_at(p, 4) for p in (0, 0.16, 1 / 6, 0.3, 1 / 3, 0.49, 0.5, 0.9)] == [
        0, 0, 1, 1, 2, 2, 3, 3]
    assert [condense.stage_at(p, 2) for p in (0, 0.49, 0.5, 1)] == [0, 0, 1, 1]
    assert condense.stage_at(0.7, 1) == 0


def test_dropping_takes_each_groups_weakest_columns():
    # 4 outputs in G = 2 groups: group 0 = outputs 0 and 2, group 1 = outputs 1 and 3
    w = np.array([[1, 5, 0.1, 3], [4, 0.2, 2, 6], [1, 5, 0.3, 3], [4, 0.1, 2, 6]], float)
    mask = condense.drop(np.ones((4, 4), bool), w, 2, 1)
    assert mask[0::2].tolist() == [[True, True, False, True]] * 2      # channel 2: 0.4 in all
    assert mask[1::2].tolist() == [[True, False, True, True]] * 2      # channel 1: 0.3 in all
    mask = condense.drop(mask, w, 2, 1)                                # the next weakest
    assert [list(k) for k in condense.kept_channels(mask, 2)] == [[1, 3], [0, 3]]


def scalar(value) -> float:
    return float(value.detach()) if hasattr(value, "detach") else float(value)


def lasso_reference(matrix, groups):
    out, cin = matrix.shape
    columns = (matrix.reshape(out // groups, groups, cin) ** 2).sum(axis=0)
    return np.sqrt(np.maximum(columns, condense.FLOOR)).sum()


@pytest.fixture(scope="module", params=["torch", "keras"])
def condensed(request):
    """A CondenseNet trained with learned group convolutions (smoke: a few steps on a subset)."""
    pytest.importorskip(request.param)
    setting = dict(TRAIN)
    size = setting.pop("image_size")
    # 4 steps of 16 images: enough to cross the three stage boundaries of C = 4 (the Keras
    # grouped 3x3 convolution's gradient is slow on the CPU, so the batches are small)
    recipe = mobilecnn.train.Recipe(batch_size=16, smoke_subset=64)
    return condense.fit(request.param, image_size=size, epochs=1, subset=64, recipe=recipe,
                        **setting)


def test_training_condenses_on_schedule(condensed):
    schedule = condensed.schedule
    steps = 4
    convs = [l for l in schedule.layers if l.kind == "conv"]
    assert len(convs) == 6 and [l.name for l in schedule.layers if l.kind == "dense"] == ["logits"]
    for layer in schedule.layers:
        kept = condense.kept_channels(schedule.masks[layer.name], layer.groups)
        assert [len(k) for k in kept] == [layer.inputs // layer.condense_factor] * layer.groups
        # the masked weights are exactly zero in the trained model
        w = condense.get_matrix(condensed.trained.model, layer.name)
        assert np.all(w[~schedule.masks[layer.name]] == 0)
        assert np.any(w[schedule.masks[layer.name]] != 0)
    # C = 4: stages 1, 2, 3 start at progress 1/6, 1/3, 1/2, i.e. at steps 1, 2, 2 of 4
    first = convs[0].name
    assert [(s, st) for s, name, st in schedule.drops if name == first] == [(1, 1), (2, 3)]
    assert [(s, st) for s, name, st in schedule.drops if name == "logits"] == [(steps // 2, 1)]


def test_penalty_is_the_group_lasso_until_condensed(condensed):
    model, schedule = condensed.trained.model, condensed.schedule
    expected = sum(lasso_reference(condense.get_matrix(model, l.name) * schedule.masks[l.name],
                                   l.groups) for l in schedule.layers if l.kind == "conv")
    fresh = condense.Condensation(dict(schedule.metaparams))
    fresh.model(condensed.trained.framework, None)
    copy = fresh.masks
    for name in copy:
        copy[name][:] = schedule.masks[name]
        fresh._write_mask(model, next(l for l in fresh.layers if l.name == name))
    value = scalar(fresh.penalty(model))
    # a float32 sum of 4 * (16 + 24 + 32 + 48 + 64 + 96) = 1,120 positive column norms: within
    # 1,120 * 2**-24 = 6.7e-5 of the exact sum, relatively (Higham)
    assert value == pytest.approx(condense.LASSO * expected, rel=6.7e-5)
    assert scalar(schedule.penalty(model)) == 0.0     # after the last condensing stage


def test_converted_network_computes_the_trained_function(condensed):
    from mobilecnn import train

    x = train.dataset_arrays("digits", 32)[1][0][:64]
    masked = train.predict(condensed.trained.model, x)
    converted = train.predict(condensed.converted, x)
    # Only the sums of the 1x1 convolutions and the classifier change: the same nonzero
    # products, added in another order and without the zeros. A float32 sum of n terms is
    # within n * 2**-24 of the sum of their magnitudes (Higham); n <= 128 inputs here gives
    # 7.6e-6, so probabilities (in [0, 1]) may differ by 1e-5 and no more.
    assert np.abs(masked - converted).max() < 1e-5
    assert np.array_equal(masked.argmax(1), converted.argmax(1))
    p = mobilecnn.profile("condensenet", num_classes=10, **TRAIN)
    if condensed.trained.framework == "keras":
        assert condensed.converted.count_params() == p.params
    else:
        assert sum(t.numel() for t in condensed.converted.parameters()) == p.trainable_params
    # the learned index is the one the network was built with
    index = condensed.schedule.indices()["stage1_layer1_index"]
    layer = (condensed.converted.get_layer("stage1_layer1_index").index
             if condensed.trained.framework == "keras"
             else tuple(condensed.converted.layers["stage1_layer1_index"].index.tolist()))
    assert tuple(layer) == index != strided_index(16, 4, 4)


def test_converting_before_the_end_is_refused():
    schedule = condense.Condensation(dict(mobilecnn.profile("condensenet", **TRAIN).metaparams))
    with pytest.raises(ValueError, match="not condensed yet"):
        schedule.indices()
    with pytest.raises(ValueError, match="lasso must be a number >= 0"):
        condense.Condensation(dict(schedule.metaparams), lasso=-1)
