"""MobileNet v3 on this CPU: the last stage's saving, int8 accuracy of v2 and v3, and NetAdapt.

Three parts, each writing its own key of one JSON file that the MobileNet v3 chapter reads:

* ``last_stage``: MobileNet v3 Large at 224 pixels with the original and the efficient last
  stage, converted to float32 TF Lite, batch 1, one thread; ``--runs`` single-image runs of
  each, alternating (:func:`mobilecnn.search.paired_latencies_ms`), so that a burst of load on
  a shared machine hits both and the per-run differences are paired;
* ``quantization``: MobileNet v2 (alpha 0.35, 59M MACs) and MobileNet v3 Small (alpha 1.0, 56M
  MACs) trained on the digits at 32 pixels in Keras (``train.fit_or_load``) for each seed, each
  converted to float32 and to full-integer int8 TF Lite (calibrated on 256 training images);
  test accuracy of both;
* ``netadapt``: :func:`mobilecnn.search.netadapt` on MobileNet v3 Small.

    MOBILECNN_THREADS=1 .venv/bin/python benchmarks/mobilenet_v3.py              # the book's
    MOBILECNN_THREADS=1 .venv/bin/python benchmarks/mobilenet_v3.py --parts netadapt
    .venv/bin/python benchmarks/mobilenet_v3.py --tiny --out /tmp/x.json         # a smoke run

Parts run one after the other in one process unless several ``--parts`` are given with
``--jobs 2``; the results file is read, updated (one key per part) and written under a lock,
so parts run by separate invocations can share it.
"""

from __future__ import annotations

import argparse
import fcntl
import json
import os
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_OUT = ROOT / "benchmarks" / "results" / "mobilenet_v3.json"
PARTS = ("last_stage", "quantization", "netadapt")


def last_stage(tiny: bool, runs: int) -> dict:
    import numpy as np

    import mobilecnn
    from mobilecnn import deploy, search

    name, size = ("mobilenet_v3_small", 64) if tiny else ("mobilenet_v3_large", 224)
    files, macs, params = {}, {}, {}
    for stage in ("original", "efficient"):
        model = mobilecnn.keras_model(name, image_size=size, last_stage=stage)
        files[stage] = deploy.convert(model, "float32")
        p = mobilecnn.profile(name, image_size=size, last_stage=stage)
        macs[stage], params[stage] = p.macs, p.trainable_params
    times = search.paired_latencies_ms(files, runs=runs)
    diff = times["original"] - times["efficient"]
    return {"name": name, "image_size": size, "macs": macs, "trainable_params": params,
            "runs": runs, "latency_ms": {s: t.tolist() for s, t in times.items()},
            "median_ms": {s: float(np.median(t)) for s, t in times.items()},
            "min_ms": {s: float(t.min()) for s, t in times.items()},
            "paired_difference_ms": {"median": float(np.median(diff)),
                                     "q25": float(np.percentile(diff, 25)),
                                     "q75": float(np.percentile(diff, 75)),
                                     "original_slower": int((diff > 0).sum())},
            "size_bytes": {s: len(b) for s, b in files.items()}}


def quantization(tiny: bool, seeds, epochs: int) -> dict:
    import numpy as np

    from mobilecnn import data, deploy, train

    networks = {"mobilenet_v2": dict(alpha=0.35), "mobilenet_v3_small": dict(alpha=1.0)}
    (x_train, _), (x_test, y_test) = data.load("digits", 32)
    calibration = x_train[np.random.default_rng(0).permutation(len(x_train))[:256]]
    runs = []
    for name, meta in networks.items():
        for seed in seeds:
            result = train.fit_or_load(name, "keras", image_size=32, epochs=epochs, seed=seed,
                                       verbose=False, subset=128 if tiny else None, **meta)
            files = deploy.convert_all(result.model, ("float32", "int8"), calibration)
            row = dict(name=name, seed=seed, epochs=epochs, **meta,
                       keras_accuracy=result.test_accuracy, cached=result.cached)
            for mode, blob in files.items():
                probs = deploy.TFLiteClassifier(blob).predict(x_test)
                row[f"{mode}_accuracy"] = float(np.mean(probs.argmax(1) == y_test))
                row[f"{mode}_bytes"] = len(blob)
            runs.append(row)
            print(f"  {name} seed {seed}: float {row['float32_accuracy']:.3f}, "
                  f"int8 {row['int8_accuracy']:.3f}", flush=True)
    return {"runs": runs, "smoke": train.book.smoke() or tiny}


def netadapt(tiny: bool, steps: int, base_epochs: int) -> dict:
    from mobilecnn import search

    if tiny:
        result = search.netadapt(steps=1, blocks=(1, 9), base_epochs=1, finetune_epochs=1,
                                 final_epochs=1, subset=128, latency_size=64, runs=5,
                                 validation=100)
    else:
        result = search.netadapt(steps=steps, base_epochs=base_epochs)
    return result.to_json()


def update(out: Path, key: str, value: dict, info: dict) -> None:
    """Read ``out`` (if any), set ``key`` and the run's description, write it back, under a lock."""
    out.parent.mkdir(parents=True, exist_ok=True)
    with open(out.with_suffix(".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        results = json.loads(out.read_text()) if out.is_file() else {}
        results[key] = {**info, **value}
        out.write_text(json.dumps(results, indent=1, default=str) + "\n")
    out.with_suffix(".lock").unlink(missing_ok=True)


def main(argv=None) -> Path:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--parts", nargs="+", choices=PARTS, default=list(PARTS))
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--epochs", type=int, default=6, help="quantization: training epochs")
    parser.add_argument("--steps", type=int, default=2, help="netadapt: search steps")
    parser.add_argument("--base-epochs", type=int, default=6,
                        help="netadapt: training epochs of the starting network")
    parser.add_argument("--runs", type=int, default=300,
                        help="last_stage: timed runs of each model, alternating")
    parser.add_argument("--tiny", action="store_true", help="a smoke run: tiny settings")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from mobilecnn import book

    book.setup(seed=0)
    for part in args.parts:
        start = time.perf_counter()
        print(f"{part} ...", flush=True)
        if part == "last_stage":
            value = last_stage(args.tiny, 20 if args.tiny else args.runs)
        elif part == "quantization":
            value = quantization(args.tiny, args.seeds[:1] if args.tiny else args.seeds,
                                 1 if args.tiny else args.epochs)
        else:
            value = netadapt(args.tiny, args.steps, args.base_epochs)
        info = {"provenance": book.provenance(__file__, argv),
                "threads": os.environ.get("MOBILECNN_THREADS"), "tiny": args.tiny,
                "wall_seconds": round(time.perf_counter() - start, 1)}
        update(args.out, part, value, info)
        print(f"{part}: {time.perf_counter() - start:.0f} s -> {args.out}", flush=True)
    return args.out


if __name__ == "__main__":
    main()
