"""Reading a guideline sweep back: best round, unstable points, ratios and the verdict sentence
that chapter 6 glues (pure Python, synthetic rows and the committed results file)."""

import json
from pathlib import Path

import pytest

from mobilecnn import guidelines as G

ROOT = Path(__file__).resolve().parents[1]


def _row(guideline, variant, framework, rounds, scale=1):
    return dict(guideline=guideline, variant=variant, framework=framework, scale=scale,
                round_images_per_s=list(rounds))


def _g1(frameworks_rounds):
    """G1 rows: baseline 1:1 and variant 1:12 per framework, at scales 1 and 2."""
    rows = []
    for fw, (base, var) in frameworks_rounds.items():
        for scale in (1, 2):
            rows.append(_row("G1", "1:1", fw, base, scale))
            rows.append(_row("G1", "1:12", fw, var, scale))
    return rows


def test_best_round_is_the_fastest_and_the_ratio_uses_it():
    rows = [_row("G2", "g = 1", "torch", [10.0, 40.0]), _row("G2", "g = 8", "torch", [20.0, 30.0])]
    assert G.best(rows[0]) == 40.0
    assert G.round_ratio(rows[0]) == 4.0
    assert G.ratio(rows, "G2", "g = 8", "torch") == pytest.approx(0.75)
    assert G.relative(rows) == pytest.approx([1.0, 0.75])
    # the mean of the rounds (what a median of two rounds is) would say the opposite
    mean = lambda r: sum(r["round_images_per_s"]) / 2
    assert G.ratio(rows, "G2", "g = 8", "torch", statistic=mean) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="round_images_per_s"):
        G.best(_row("G2", "g = 1", "torch", []))
    with pytest.raises(ValueError, match="no row"):
        G.ratio(rows, "G2", "g = 4", "torch")
    with pytest.raises(ValueError, match="no baseline"):
        G.relative(rows[1:])


def test_paper_effect_is_the_largest_arm_ratio_and_marks_unstable_points():
    arm = [r[0] for r in G.PAPER["G2"]["arm"]]
    assert G.paper_effect("G2") == pytest.approx(arm[0] / min(arm))      # 40.0 / 27.8
    g4 = [r[0] for r in G.PAPER["G4"]["arm"]]                            # G4's variants are faster
    assert G.paper_effect("G4") == pytest.approx(max(g4) / g4[0])
    effect = G.paper_effect("G1")
    assert not G.unstable(_row("G1", "1:1", "torch", [100.0, 100.0 * effect * 0.99]))
    assert G.unstable(_row("G1", "1:1", "torch", [100.0, 100.0 * effect * 1.01]))
    with pytest.raises(ValueError, match="guideline"):
        G.paper_effect("G5")


def test_verdict_names_who_goes_the_paper_way_and_the_summary_follows():
    rows = _g1({"keras": ([100, 100], [120, 118]), "torch": ([100, 100], [80, 81]),
                "tflite": ([100, 99], [90, 90])})
    v = G.verdict(rows, "G1", "1:12")
    assert v.agree == ("torch", "tflite") and v.disagree == ("keras",) and not v.holds
    assert v.unstable == ()
    assert v.sentence() == ("PyTorch and TF Lite go the paper's way at every measured width; "
                            "Keras does not.")
    # one scale the wrong way is enough to disagree
    rows[-1]["round_images_per_s"] = [120, 120]
    assert "tflite" in G.verdict(rows, "G1", "1:12").disagree
    # G4's "neither" should be faster: slower=False flips the test
    g4 = [_row("G4", "ReLU and shortcut", "torch", [100, 100]),
          _row("G4", "neither", "torch", [110, 111])]
    assert G.verdict(g4, "G4", "neither", slower=False, frameworks=("torch",)).holds
    assert not G.verdict(g4, "G4", "neither", slower=True, frameworks=("torch",)).holds
    text = G.summary([v, G.verdict(g4, "G4", "neither", slower=False, frameworks=("torch",))])
    assert text == ("Memory traffic and operator count predict the direction of G4 in every "
                    "framework measured, but not of G1 (Keras).")
    assert "every guideline" in G.summary([G.verdict(g4, "G4", "neither", slower=False,
                                                     frameworks=("torch",))])


def test_verdict_flags_frameworks_whose_points_the_rounds_cannot_settle():
    rows = _g1({"torch": ([100, 400], [80, 80])})        # baseline rounds disagree 4x
    v = G.verdict(rows, "G1", "1:12", frameworks=("torch",))
    assert v.unstable == ("torch",) and "cannot settle" in v.sentence()
    with pytest.raises(ValueError, match="no variant"):
        G.verdict(rows, "G1", "1:3")
    with pytest.raises(ValueError, match="no G1"):
        G.verdict(rows, "G1", "1:12", frameworks=("keras",))


def test_listing():
    assert G.listing([]) == "none" and G.listing(["a"]) == "a"
    assert G.listing("abc") == "a, b and c" and G.listing([], "nobody") == "nobody"


def test_committed_file_contradicts_every_guideline_in_every_framework():
    # The review's finding, recomputed from the file chapter 6 reads: Keras runs G1's 1:12
    # network faster than 1:1, and Keras and TF Lite run G4 without ReLU and shortcut slower.
    rows = json.loads((ROOT / "benchmarks/results/shufflenet_v2_guidelines.json").read_text())["rows"]
    assert "keras" in G.verdict(rows, "G1", "1:12").disagree
    assert set(G.verdict(rows, "G4", "neither", slower=False).disagree) >= {"keras", "tflite"}
    assert G.model_ratio("G1", "1:12") < 1 and G.model_ratio("G4", "neither") > 1
