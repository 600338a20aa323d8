"""What the ShuffleNet v1 chapter relies on: the shuffle's permutation in both frameworks, the
paper's unit-cost formulas, the ``shuffle`` metaparameter, the TF Lite timer and the benchmark."""

import json
from pathlib import Path

import numpy as np
import pytest

import mobilecnn
from mobilecnn import costs, grouped
from conftest import load_benchmark

ROOT = Path(__file__).resolve().parents[1]


def test_shuffle_permutation_by_hand():
    # two groups of three: a0 a1 a2 | b0 b1 b2 -> a0 b0 a1 b1 a2 b2
    assert grouped.shuffle_permutation(6, 2).tolist() == [0, 3, 1, 4, 2, 5]
    # three groups of two: a0 a1 | b0 b1 | c0 c1 -> a0 b0 c0 a1 b1 c1
    assert grouped.shuffle_permutation(6, 3).tolist() == [0, 2, 4, 1, 3, 5]
    assert grouped.shuffle_permutation(5, 1).tolist() == list(range(5))
    for c, g in ((12, 3), (240, 8), (24, 4)):
        p = grouped.shuffle_permutation(c, g)
        assert sorted(p.tolist()) == list(range(c))
        # every run of g consecutive outputs takes exactly one channel from every input group
        n = c // g
        assert all(sorted(p[k:k + g] // n) == list(range(g)) for k in range(0, c, g))


@pytest.mark.parametrize("bad", [(7, 2), (6, 0), (6, True), (0, 1)])
def test_shuffle_permutation_rejects_bad_groups(bad):
    with pytest.raises(ValueError, match="groups|channels"):
        grouped.shuffle_permutation(*bad)


@pytest.mark.parametrize("channels,groups", [(12, 3), (24, 8), (10, 2)])
def test_both_frameworks_shuffle_as_the_paper_says(channels, groups):
    """Feed each channel its own index; both library layers must output the permutation."""
    import torch

    from mobilecnn.keras_backend import ChannelShuffle as KerasShuffle
    from mobilecnn.torch_backend import ChannelShuffle as TorchShuffle

    expected = grouped.shuffle_permutation(channels, groups)
    x = np.broadcast_to(np.arange(channels, dtype="float32"), (1, 2, 3, channels)).copy()
    keras_out = np.asarray(KerasShuffle(groups)(x))[0, 0, 0]
    torch_out = TorchShuffle(groups)(torch.from_numpy(x).permute(0, 3, 1, 2)).numpy()[0, :, 0, 0]
    assert keras_out.tolist() == expected.tolist()
    assert torch_out.tolist() == expected.tolist()


def test_unit_formulas_match_the_profiled_layers_on_random_shapes():
    rng = np.random.default_rng(0)
    for _ in range(30):
        g = int(rng.integers(1, 9))
        h, w = (int(v) for v in rng.integers(1, 30, size=2))
        c = g * int(rng.integers(1, 40))
        m = g * int(rng.integers(1, 20))
        for kind in grouped.UNIT_KINDS:
            counted = costs.total(grouped.unit(kind, h, w, c, m, g), "macs")
            assert counted == grouped.unit_macs(kind, h, w, c, m, g), (kind, h, w, c, m, g)


def test_the_library_unit_costs_what_the_formula_says():
    """A stride-1 unit of the real network, m = c / 4: its convolutions add up to hw(2cm/g + 9m)."""
    for g in (1, 2, 3, 4, 8):
        net = mobilecnn.describe("shufflenet_v1", groups=g)
        nodes = [n for n in net if n.block == "stage3_unit2"]
        h, w, c = nodes[0].in_shape
        assert sum(n.macs for n in nodes) == grouped.unit_macs("shufflenet", h, w, c, c // 4, g)


def test_unit_rejects_bad_arguments():
    with pytest.raises(ValueError, match="kind"):
        grouped.unit("mobilenet", 4, 4, 8, 4, 2)
    with pytest.raises(ValueError, match="kind"):
        grouped.unit_macs("mobilenet", 4, 4, 8, 4, 2)
    with pytest.raises(ValueError, match="groups"):
        grouped.unit("shufflenet", 4, 4, 9, 4, 2)
    with pytest.raises(ValueError, match="m must"):
        grouped.unit("resnet", 4, 4, 8, 0, 1)


def test_shuffle_metaparameter_removes_only_the_shuffles():
    on = mobilecnn.profile("shufflenet_v1", groups=8, scale=0.5)
    off = mobilecnn.profile("shufflenet_v1", groups=8, scale=0.5, shuffle=False)
    shuffles = [r.name for r in on.layers if r.kind == "channel_shuffle"]
    assert len(shuffles) == 15                     # every unit but stage 2's ungrouped first
    assert [r.name for r in on.layers if r.name not in shuffles] == [r.name for r in off.layers]
    assert (on.macs, on.params) == (off.macs, off.params)
    g1 = mobilecnn.profile("shufflenet_v1", groups=1)
    assert not any(r.kind == "channel_shuffle" for r in g1.layers)
    with pytest.raises(ValueError, match="shuffle"):
        mobilecnn.profile("shufflenet_v1", shuffle=1)


def test_unit_steps_say_what_the_paper_says():
    net = mobilecnn.describe("shufflenet_v1", groups=3)
    first = grouped.unit_steps(net, "stage2_unit1")
    assert first[0] == ("branch", "1\u00d71 Conv \u2192 60 ch\nBN, ReLU")   # not grouped
    assert ("shortcut", "3\u00d73 AvgPool, stride 2") in first
    assert first[-1][1].startswith("Concat")
    plain = grouped.unit_steps(net, "stage3_unit2")
    assert [s for s, _ in plain] == ["branch"] * 4 + ["join"]
    assert "no ReLU" in plain[2][1] and "Channel shuffle" in plain[1][1]
    with pytest.raises(ValueError, match="block"):
        grouped.unit_steps(net, "stage9_unit1")


def test_benchmark_runs_on_a_tiny_setting(tmp_path, monkeypatch):
    monkeypatch.setenv("MOBILECNN_SMOKE", "1")
    bench = load_benchmark("shufflenet_v1")
    out = tmp_path / "result.json"
    bench.main(["--seeds", "0", "--groups", "3", "--frameworks", "torch", "--conv-groups", "1",
                "2", "--shape", "4", "4", "8", "--repeats", "2", "--rounds", "1",
                "--out", str(out)])
    result = json.loads(out.read_text())
    assert [(r["shuffle"], r["framework"]) for r in result["shuffle"]] == [(True, "torch"),
                                                                           (False, "torch")]
    assert all(r["smoke"] for r in result["shuffle"])
    assert {(r["framework"], r["groups"]) for r in result["groups"]} == {
        (f, g) for f in ("keras", "torch", "tflite") for g in (1, 2)}
    macs = {r["groups"]: r["macs"] for r in result["groups"] if r["framework"] == "torch"}
    assert macs[1] == 2 * macs[2] == 4 * 4 * 8 * 8
    assert result["provenance"]["machine"]["cores"] >= 1 and result["shuffle_run"]["provenance"]["part"] == "shuffle"
