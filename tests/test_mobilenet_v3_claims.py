"""The chapter's directional sentences are computed from the data, both ways."""

import pytest

from mobilecnn import activations


@pytest.mark.parametrize("swish, hard, words", [
    (1.15, 0.94, "hard-swish was the faster"),
    (0.94, 1.15, "swish was the faster"),
    (1.00, 1.02, "same time"),
])
def test_speed_sentence_follows_the_ratio(swish, hard, words):
    text = activations.speed_sentence({"swish": swish, "hard_swish": hard})
    assert words in text.split(".")[0] and "weak evidence" in text


def test_speed_sentence_rejects_missing_times():
    with pytest.raises(ValueError, match="timings"):
        activations.speed_sentence({"swish": 1.0})


def test_loss_comparison_same_direction_as_paper():
    c = activations.compare_losses("v3", "v2", (2.5, 3.6), [1.0, 1.2, 0.9], [2.0, 2.5, 2.2])
    assert c.mean == pytest.approx((31 / 30, 6.7 / 3))
    text = c.sentence()
    assert "v3 loses less than v2" in text and "the same direction as the paper" in text
    assert "in 0 of 3 seeds" in text and "overlap" not in text


def test_loss_comparison_opposite_direction_and_overlap():
    # the committed run's figures: v3 Small lost more on average, with overlapping seeds
    c = activations.compare_losses("v3", "v2", (2.5, 3.6), [6.1, 1.4, 0.8], [1.7, 0.3, 0.3])
    text = c.sentence()
    assert "lost more than v2" in text and "the opposite of the paper" in text
    assert "in 3 of 3 seeds" in text and "overlap" in text


def test_loss_comparison_needs_paired_seeds():
    with pytest.raises(ValueError, match="paired"):
        activations.compare_losses("a", "b", (1, 2), [1, 2], [1])
