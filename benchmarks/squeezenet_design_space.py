"""SqueezeNet's design space on digits: the paper's Figure 3 (squeeze ratio, share of 3x3
filters) and its bypass study (Table 3), trained over several seeds.

Section 5 of the SqueezeNet paper trains SqueezeNet on ImageNet with the squeeze ratio ``SR``
from 0.125 to 1.0 (``pct3x3`` = 0.5; its Figure 3(a)) and with the share of 3x3 expand filters
``pct3x3`` from 1% to 99% (``SR`` = 0.5; Figure 3(b)), and plots top-5 accuracy against model size.
Section 6 adds simple and complex bypasses (its Table 3). This script trains the same variants
(the metaparameters ``SR``, ``pct3x3`` and ``bypass`` of ``mobilecnn.architectures.squeezenet``)
on the book's embedded digits with the book's one training recipe, over several seeds, and writes
every run's test accuracy, parameters and time to a JSON file that the SqueezeNet chapter plots.

    MOBILECNN_THREADS=1 .venv/bin/python benchmarks/squeezenet_design_space.py     # the book's
    .venv/bin/python benchmarks/squeezenet_design_space.py --seeds 0 --epochs 2    # quicker

``--resume`` keeps the finished runs of an interrupted sweep. The three studies share runs: the SR sweep's point SR = 0.5 is the pct3x3 sweep's point
pct3x3 = 0.5, and its point SR = 0.125 (SqueezeNet) is the bypass study's "none"; each distinct
setting is trained once per seed and framework. Runs go to ``--jobs`` worker processes (default
2), each capped at ``MOBILECNN_THREADS`` threads (default 1).
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
from mobilenet_v2_ablation import sweep  # noqa: E402  (shared with that sweep)

DEFAULT_OUT = ROOT / "benchmarks" / "results" / "squeezenet_design_space.json"
SQUEEZE_RATIOS = (0.125, 0.5, 1.0)                  # Figure 3(a), at pct3x3 = 0.5
PCT3X3 = (0.125, 0.5, 0.875)                        # Figure 3(b), at SR = 0.5
BYPASSES = ("none", "simple", "complex")            # Table 3, at SqueezeNet's SR and pct3x3
BASE = dict(SR=0.125, pct3x3=0.5, bypass="none")    # SqueezeNet as published


def studies(squeeze_ratios=SQUEEZE_RATIOS, pct3x3=PCT3X3, bypasses=BYPASSES) -> dict:
    """``{study: [settings, ...]}``: the design points of each of the three studies."""
    return {
        "SR": [dict(BASE, SR=sr) for sr in squeeze_ratios],
        "pct3x3": [dict(BASE, SR=0.5, pct3x3=p) for p in pct3x3],
        "bypass": [dict(BASE, bypass=b) for b in bypasses],
    }


def settings_key(s: dict) -> tuple:
    return (s["SR"], s["pct3x3"], s["bypass"])


def distinct_settings(plan: dict) -> list:
    """Every setting of every study, once, in a stable order."""
    seen = {}
    for points in plan.values():
        for s in points:
            seen.setdefault(settings_key(s), s)
    return list(seen.values())


def model_size(**design) -> dict:
    """Parameters of the paper's network at these widths (SqueezeNet 1.0, 1000 classes, 227 px;
    the x axis of its Figure 3) and their float32 size in MiB (the unit of its 4.8 MB)."""
    import mobilecnn

    paper = mobilecnn.profile("squeezenet", version="1.0", **design)
    return {"paper_params": paper.params, "paper_mib": round(4 * paper.params / 2**20, 3)}


def run_one(task: dict) -> dict:
    """Train one setting in one framework with one seed; return what the results file keeps."""
    from mobilecnn import book, train

    book.setup(seed=task["seed"])
    design = dict(SR=task["SR"], pct3x3=task["pct3x3"], bypass=task["bypass"])
    result = train.fit("squeezenet", task["framework"], image_size=task["image_size"],
                       epochs=task["epochs"], seed=task["seed"], verbose=False,
                       subset=task["subset"], version=task["version"], **design)
    if task["framework"] == "keras":
        import keras

        keras.backend.clear_session()
    return {**task, **model_size(**design), "dataset": result.dataset,
            "test_accuracy": result.test_accuracy,
            "test_loss": result.history["test_loss"][-1],
            "train_accuracy": result.history["accuracy"][-1], "seconds": result.seconds,
            "epochs": result.epochs, "smoke": result.smoke, "params": result.params,
            "macs": result.macs,
            "history": [round(a, 4) for a in result.history["test_accuracy"]]}


def tasks(plan: dict, frameworks, seeds, version, image_size, epochs, subset) -> list:
    return [dict(framework=fw, seed=seed, version=version, image_size=image_size, epochs=epochs,
                 subset=subset, **s)
            for fw, seed, s in itertools.product(frameworks, seeds, distinct_settings(plan))]


def task_key(task: dict) -> tuple:
    """What decides a run: a finished run with the same key need not be trained again."""
    return tuple(task[k] for k in ("framework", "seed", "version", "image_size", "epochs",
                                   "subset", "SR", "pct3x3", "bypass"))


def main(argv=None) -> Path:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frameworks", nargs="+", default=["torch"], choices=["keras", "torch"])
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--version", default="1.1", choices=["1.0", "1.1"])
    parser.add_argument("--image-size", type=int, default=32)
    parser.add_argument("--epochs", type=int, default=15)
    parser.add_argument("--squeeze-ratios", nargs="+", type=float, default=list(SQUEEZE_RATIOS))
    parser.add_argument("--pct3x3", nargs="+", type=float, default=list(PCT3X3))
    parser.add_argument("--bypasses", nargs="+", default=list(BYPASSES), choices=BYPASSES)
    parser.add_argument("--subset", type=int, default=None,
                        help="train on this many images (a stratified sample); default: all")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--resume", action="store_true",
                        help="keep the runs already in --out that match a task, train the rest")
    args = parser.parse_args(argv)
    if args.jobs < 1:
        parser.error("--jobs must be >= 1")

    os.environ.setdefault("MOBILECNN_THREADS", "1")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    plan = studies(tuple(args.squeeze_ratios), tuple(args.pct3x3), tuple(args.bypasses))
    todo = tasks(plan, args.frameworks, args.seeds, args.version, args.image_size, args.epochs,
                 args.subset)
    runs: list = []
    if args.resume and args.out.is_file():
        done = {task_key(r): r for r in json.loads(args.out.read_text())["runs"]}
        runs = [done[task_key(t)] for t in todo if task_key(t) in done]
        todo = [t for t in todo if task_key(t) not in done]
    sweep(run_one, todo, args.out, "squeezenet_design_space.py", argv, args.jobs,
          {"version": args.version, "image_size": args.image_size, "epochs": args.epochs,
           "subset": args.subset, "seeds": args.seeds, "frameworks": args.frameworks},
          runs=runs,
          extra={"studies": {name: [list(settings_key(s)) for s in points]
                             for name, points in plan.items()}},
          line=lambda r: (f"{r['framework']:>5} SR {r['SR']:<5g} pct3x3 {r['pct3x3']:<5g} "
                          f"{r['bypass']:>7} seed {r['seed']}: {r['test_accuracy']:.3f} "
                          f"({r['seconds']:.0f} s)"))
    return args.out


if __name__ == "__main__":
    main()
