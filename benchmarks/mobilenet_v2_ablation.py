"""MobileNet v2's two ideas, ablated: linear vs ReLU6 projection, shortcut vs none, on digits.

The paper's Figure 6 trains four variants of MobileNet v2 on ImageNet: the linear bottleneck
against a ReLU6 after the projection, and the shortcut between bottlenecks against no shortcut.
This script trains the same four variants (the metaparameters ``projection`` and ``residual``
of ``mobilecnn.architectures.mobilenet_v2``) on the book's embedded digits, in Keras and in
PyTorch, over several seeds, with the book's one training recipe, and writes every run's test
accuracy, test loss and time to a JSON file that the MobileNet v2 chapter reads and plots.

    MOBILECNN_THREADS=1 .venv/bin/python benchmarks/mobilenet_v2_ablation.py           # the book's
    .venv/bin/python benchmarks/mobilenet_v2_ablation.py --seeds 0 --frameworks torch  # quicker

Runs go to ``--jobs`` worker processes (default 2), each capped at ``MOBILECNN_THREADS``
threads (default 1), so two runs share a 2-core machine without fighting over its cores. A
worker keeps its framework imported from one run to the next; each run builds a fresh model.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_OUT = ROOT / "benchmarks" / "results" / "mobilenet_v2_ablation.json"
PROJECTIONS = ("linear", "relu6")
RESIDUALS = ("add", "none")


def run_tasks(run, tasks, jobs: int):
    """Yield ``run(task)`` for every task, in order, ``jobs`` processes at a time.

    Each worker is a fresh interpreter ("spawn"), so no framework state is inherited; the
    caller writes its results file after each run, so an interrupted sweep keeps what finished.
    """
    if jobs == 1:
        for task in tasks:
            yield run(task)
        return
    import multiprocessing

    with ProcessPoolExecutor(jobs, mp_context=multiprocessing.get_context("spawn")) as pool:
        yield from pool.map(run, tasks)


def sweep(run, todo, out: Path, script: str, argv, jobs: int, settings: dict, runs=(),
          extra: dict | None = None, line=None) -> list:
    """Run ``todo`` with :func:`run_tasks` and (re)write ``out`` after every finished run, so that
    an interrupted sweep leaves its finished runs behind. ``runs`` are earlier runs to keep
    (``--resume``); ``settings`` and ``extra`` go into the file (``settings`` gains the dataset
    of the first run); ``line(run)`` prints one line per run at the end."""
    start = time.perf_counter()
    from mobilecnn import book

    provenance = book.provenance(script, argv)
    runs = list(runs)

    def write(complete: bool) -> None:
        report = {"provenance": provenance, "complete": complete,
                  "threads_per_run": int(os.environ["MOBILECNN_THREADS"]), "jobs": jobs,
                  "wall_seconds": round(time.perf_counter() - start, 1),
                  "settings": {**settings, "dataset": runs[0]["dataset"] if runs else None},
                  **(extra or {}), "runs": runs}
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(report, indent=1) + "\n")

    for result in run_tasks(run, todo, jobs):
        runs.append(result)
        write(complete=False)
    write(complete=True)
    for r in runs:
        if line:
            print(line(r), flush=True)
    print(f"wrote {out} in {time.perf_counter() - start:.0f} s")
    return runs


def run_one(task: dict) -> dict:
    """Train one variant in one framework with one seed; return what the results file keeps."""
    from mobilecnn import book, train

    book.setup(seed=task["seed"])
    meta = dict(alpha=task["alpha"], projection=task["projection"], residual=task["residual"])
    result = train.fit("mobilenet_v2", task["framework"], image_size=task["image_size"],
                       epochs=task["epochs"], seed=task["seed"], verbose=False,
                       subset=task["subset"], **meta)
    if task["framework"] == "keras":
        import keras

        keras.backend.clear_session()
    return {**task, "dataset": result.dataset, "test_accuracy": result.test_accuracy,
            "test_loss": result.history["test_loss"][-1],
            "train_accuracy": result.history["accuracy"][-1], "seconds": result.seconds,
            "epochs": result.epochs, "smoke": result.smoke, "params": result.params,
            "macs": result.macs,
            "history": [round(a, 4) for a in result.history["test_accuracy"]]}


def tasks(frameworks, seeds, alpha, image_size, epochs, subset) -> list:
    return [dict(framework=fw, projection=proj, residual=res, seed=seed, alpha=alpha,
                 image_size=image_size, epochs=epochs, subset=subset)
            for fw, seed, proj, res in itertools.product(frameworks, seeds, PROJECTIONS, RESIDUALS)]


def main(argv=None) -> Path:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frameworks", nargs="+", default=["keras", "torch"],
                        choices=["keras", "torch"])
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--alpha", type=float, default=0.35)
    parser.add_argument("--image-size", type=int, default=32)
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--subset", type=int, default=None,
                        help="train on this many images (a stratified sample); default: all")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args(argv)
    if args.jobs < 1:
        parser.error("--jobs must be >= 1")

    os.environ.setdefault("MOBILECNN_THREADS", "1")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    todo = tasks(args.frameworks, args.seeds, args.alpha, args.image_size, args.epochs,
                 args.subset)
    sweep(run_one, todo, args.out, "mobilenet_v2_ablation.py", argv, args.jobs,
          {"alpha": args.alpha, "image_size": args.image_size, "epochs": args.epochs,
           "subset": args.subset},
          line=lambda r: (f"{r['framework']:>5} {r['projection']:>6} {r['residual']:>4} "
                          f"seed {r['seed']}: {r['test_accuracy']:.3f} ({r['seconds']:.0f} s)"))
    return args.out


if __name__ == "__main__":
    main()
