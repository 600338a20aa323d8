"""What chapters 3 and 4 now say about their committed experiments, checked on the files."""

import json
from pathlib import Path

import mobilecnn
from mobilecnn import verdicts

ROOT = Path(__file__).resolve().parents[1]


def _runs(name):
    return json.loads((ROOT / "benchmarks" / "results" / name).read_text())


def test_v2_ablation_trained_runs_underfit_and_only_ablated_variants_did_not_train():
    runs = _runs("mobilenet_v2_ablation.json")["runs"]
    dead = [r for r in runs if verdicts.did_not_train(r["test_loss"], 10)]
    # every run that trained still fits its training set no better than the test set
    assert all(verdicts.underfitting(r["train_accuracy"], r["test_accuracy"])
               for r in runs if r not in dead)
    assert dead, "the page says some runs did not train"
    assert all((r["projection"], r["residual"]) != ("linear", "add") for r in dead)
    # every run with neither idea did not train
    neither = [r for r in runs if (r["projection"], r["residual"]) == ("relu6", "none")]
    assert all(r in dead for r in neither)


def test_squeezenet_sweep_runs_the_last_four_fire_modules_on_1x1_maps():
    settings = _runs("squeezenet_design_space.json")["settings"]
    p = mobilecnn.profile("squeezenet", version=settings["version"],
                          image_size=settings["image_size"], num_classes=10)
    maps = {r.block: r.output_shape[0] for r in p.layers if r.name.endswith("_concat")}
    assert [b for b, h in maps.items() if h == 1] == ["fire6", "fire7", "fire8", "fire9"]
