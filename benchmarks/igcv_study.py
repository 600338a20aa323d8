"""IGCV1's study of L and M on Fashion-MNIST: at a fixed budget, is wider better up to a point?

Zhang et al. (2017) vary the primary partitions ``L`` and the secondary partitions ``M`` of the
interleaved group convolution at a roughly constant number of parameters and report (the seed,
9.4.1.2 item 5, reading the paper's CIFAR-100 figure) that accuracy rises with ``L`` (wider
blocks) to a maximum and then slowly falls. This script trains that family: the plain IGCV1
network (``plain_igc.py``'s layout, ``mobilecnn.architectures.igcv``) at depth 8 (two IGC blocks
per stage), for each ``L`` the ``M`` whose network comes closest to the budget
(:func:`mobilecnn.igc_study.equal_budget`), three seeds each, in PyTorch, with the book's one
recipe (:func:`mobilecnn.train.fit_or_load`) on a stratified 10,000 of Fashion-MNIST's training
images, tested on all 10,000 test images; every run's per-image predictions are kept. The
summary (:func:`mobilecnn.igc_study.summarize`) gives each setting's mean and 95% interval and
compares neighbouring settings by seed and by McNemar's test; :func:`mobilecnn.igc_study.finding`
words the verdict.

    nice .venv/bin/python benchmarks/igcv_study.py              # the committed results
    .venv/bin/python benchmarks/igcv_study.py --summarize       # redo the summary only
    .venv/bin/python benchmarks/igcv_study.py --smoke --out /tmp/igc.json   # a smoke test

Sizing (measured on the shared 2-core machine, niced, one thread, other jobs running): one epoch
of 10,000 images took 282 s at 32 pixels for L = 8, M = 5 (66,000 parameters) and 51 s at 16
pixels; 21 s at 16 pixels for L = 32, M = 1 at the 29,000-parameter budget used here. So: 16
pixels, where the CIFAR network's three stages run on 16x16, 8x8 and 4x4 maps (at least 3x3, so
the 3x3 primary convolutions stay spatial to the end; at 32 pixels they would be 32, 16 and 8),
a 29,000-parameter budget, 3 epochs (471 optimizer steps of 64 images) per run, 6 settings x 3
seeds: 1,118 s (19 minutes) for the committed file, 30 to 135 s per run as the load varied.
Three epochs are a short schedule, not convergence; the results file keeps every run's training
loss and test accuracy per epoch (and its final test loss) so a reader can see how far from flat
they are, and every setting gets the same steps and the recipe's learning rate (no per-setting
sweep: the time budget did not allow one; the results say so).

``--smoke`` trains the two narrowest settings for one epoch on 256 images, two seeds: its
numbers check that the script works, they are not results.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
from fashion_baseline import labels, run_one  # noqa: E402  (one run, one way)
from mobilenet_v2_ablation import sweep  # noqa: E402  (the one sweep writer)

DEFAULT_OUT = ROOT / "benchmarks" / "results" / "igcv_study.json"
DATASET = "fashion_mnist"
PRIMARY = (1, 2, 4, 8, 16, 32)
BUDGET = 29_000
DEPTH = 8
IMAGE_SIZE = 16
FRAMEWORK = "torch"
SMOKE = dict(primary=(1, 2), seeds=[0, 1], epochs=1, subset=256)
NOTE = (
    "A short schedule: 3 epochs (471 steps of 64 images) on a stratified 10,000 training "
    "images, the recipe's learning rate for every setting (no per-setting sweep), PyTorch only; "
    "16-pixel inputs (Fashion-MNIST's 28x28 resized), so the three stages run on 16x16, 8x8 and "
    "4x4 maps. The paper trains on CIFAR-100 at 32 pixels for hundreds of epochs."
)


def main(argv=None) -> Path:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--subset", type=int, default=10000)
    parser.add_argument("--primary", nargs="+", type=int, default=list(PRIMARY),
                        help="the values of L; each gets the M closest to --budget")
    parser.add_argument("--budget", type=int, default=BUDGET)
    parser.add_argument("--smoke", action="store_true",
                        help="two settings, one epoch on 256 images, two seeds: a smoke test")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--summarize", action="store_true",
                        help="recompute the summary of the runs already in --out; train nothing")
    args = parser.parse_args(argv)
    if args.summarize:
        return write_summary(args.out, json.loads(args.out.read_text())["runs"])

    os.environ.setdefault("MOBILECNN_THREADS", "1")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from mobilecnn import book, igc_study

    primary, seeds, epochs, subset = args.primary, args.seeds, args.epochs, args.subset
    if args.smoke:
        primary, seeds = SMOKE["primary"], SMOKE["seeds"]
        epochs, subset = SMOKE["epochs"], SMOKE["subset"]
    settings = igc_study.equal_budget(primary, args.budget, DEPTH, IMAGE_SIZE)
    todo = [dict(name="igcv1", framework=FRAMEWORK, seed=seed, metaparams=s.metaparams(DEPTH),
                 image_size=IMAGE_SIZE, epochs=epochs, subset=subset or None, dataset=DATASET)
            for s in settings for seed in seeds]
    described = {"budget": args.budget, "depth": DEPTH, "image_size": IMAGE_SIZE,
                 "framework": FRAMEWORK, "seeds": seeds, "epochs": epochs,
                 "subset": subset or None, "test_images": "all 10,000",
                 "settings": [dict(primary_groups=s.primary_groups,
                                   secondary_groups=s.secondary_groups, width=s.width,
                                   params=s.params, macs=s.macs, off=round(s.off, 4))
                              for s in settings],
                 "predictions": "one character per test image: the predicted class (0-9), in "
                                "the order of the test set", "note": NOTE}
    runs = sweep(run_one, todo, args.out, "igcv_study.py", argv, 1, described,
                 extra={"machine_details": book.machine(), "smoke": args.smoke},
                 line=lambda r: (f"L = {r['metaparams']['primary_groups']:>2}, M = "
                                 f"{r['metaparams']['secondary_groups']:>2} seed {r['seed']}: "
                                 f"{r['test_accuracy']:.4f} ({r['seconds']:.0f} s"
                                 f"{', cached' if r['cached'] else ''})"))
    return write_summary(args.out, runs)


def write_summary(out: Path, runs: list) -> Path:
    """Add the summary and the finding to the results file ``out`` and print them."""
    from mobilecnn import igc_study

    summary = igc_study.summarize(runs, labels())
    report = json.loads(out.read_text())
    report.update(summary=summary, finding=igc_study.finding(summary).sentence)
    out.write_text(json.dumps(report, indent=1) + "\n")
    for r in summary["rows"]:
        print(f"{r['label']:<16} width {r['width']:>3}  {r['params']:>6} params  {r['text']}%"
              + (f"  did not train: seeds {r['did_not_train']}" if r["did_not_train"] else ""))
    for n in summary["neighbours"]:
        print(" ", n.get("by_seed", {}).get("sentence", ""))
        print(" ", n.get("models", {}).get("sentence", ""))
    print(report["finding"])
    return out


if __name__ == "__main__":
    main()
