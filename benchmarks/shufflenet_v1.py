"""ShuffleNet v1's two measured claims, on this machine; writes benchmarks/results/shufflenet_v1.json.

1. ``shuffle``: the channel shuffle against no shuffle (the paper's Table 3). ShuffleNet is
   trained on the embedded digits at 32 pixels with ``mobilecnn.train.fit``, in Keras and in
   PyTorch, with and without the shuffle, for each number of groups and each seed.
2. ``groups``: theory against practice for group convolutions. One 1x1 convolution on a
   ``--shape`` input (840 channels divide by every g from 1 to 8) is timed in Keras, PyTorch and
   TF Lite for each g; the paper's theory says the time falls as 1/g.

Run (about 15 minutes on a 2-core machine)::

    MOBILECNN_THREADS=1 .venv/bin/python benchmarks/shufflenet_v1.py

``--seeds 0 --epochs 1 --groups 3 --conv-groups 1 2 --repeats 3`` is a smoke run.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
OUT = HERE / "results" / "shufflenet_v1.json"


def shuffle_sweep(seeds, groups, scale: float, epochs: int, frameworks) -> list:
    """One row per training run: shuffle on and off, per groups, framework and seed."""
    from mobilecnn import train

    rows = []
    for g in groups:
        for seed in seeds:
            for shuffle in (True, False):
                for framework in frameworks:
                    r = train.fit("shufflenet_v1", framework=framework, image_size=32,
                                  epochs=epochs, seed=seed, verbose=False, groups=g,
                                  scale=scale, shuffle=shuffle, num_classes=10)
                    rows.append({"groups": g, "scale": scale, "shuffle": shuffle,
                                 "framework": framework, "seed": seed, "epochs": r.epochs,
                                 "test_accuracy": r.test_accuracy, "seconds": r.seconds,
                                 "smoke": r.smoke})
                    print(f"g={g} shuffle={shuffle!s:5} {framework:5} seed {seed}: "
                          f"{r.test_accuracy:.3f} ({r.seconds:.0f} s)", flush=True)
    return rows


def group_timing(shape, groups, repeats: int, rounds: int) -> list:
    """Median time of one grouped 1x1 convolution per framework and g (one thread).

    The g values are timed in turn, ``rounds`` times over, and the median of the round medians
    is kept, so that a burst of load from another process does not fall on one g only.
    """
    from mobilecnn import costs, latency

    nets = {g: costs.single_layer("group", tuple(shape), shape[-1], kernel=1, groups=g)
            for g in groups}
    timers = {"keras": lambda n: latency.measure(n, "keras", repeats=repeats),  # book.setup caps TF
              "torch": lambda n: latency.measure(n, "torch", repeats=repeats, threads=1),
              "tflite": lambda n: latency.measure(n, "tflite", repeats=repeats, threads=1)}
    rows = []
    for framework, timer in timers.items():
        medians = {g: [] for g in groups}
        for _ in range(rounds):
            for g in groups:
                medians[g].append(timer(nets[g]).median)
        for g in groups:
            node = nets[g].nodes["group"]
            rows.append({"framework": framework, "groups": g, "shape": list(shape),
                         "macs": node.macs, "memory_access": costs.memory_access(node),
                         "seconds": statistics.median(medians[g]),
                         "round_medians": medians[g]})
            print(f"{framework:6} g={g}: {1e3 * rows[-1]['seconds']:.3f} ms", flush=True)
    return rows


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--groups", type=int, nargs="+", default=[3, 8])
    parser.add_argument("--scale", type=float, default=0.25)
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--frameworks", nargs="+", default=["keras", "torch"])
    parser.add_argument("--conv-groups", type=int, nargs="+", default=list(range(1, 9)))
    parser.add_argument("--shape", type=int, nargs=3, default=[14, 14, 840])
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--parts", nargs="+", choices=("shuffle", "groups"),
                        default=["shuffle", "groups"])
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)

    from mobilecnn import book

    book.setup(seed=0)
    start = time.time()
    # One record per part: the top level's describes the groups timing, shuffle_run's the sweep.
    provenance = book.provenance(__file__, argv)
    result = {"provenance": {**provenance, "part": "groups"},
              "threads": int(os.environ.get("MOBILECNN_THREADS", "0")) or None,
              "settings": {k: (str(v) if isinstance(v, Path) else v)
                           for k, v in vars(args).items()}}
    if args.out.exists():       # keep the other part when only one is rerun
        old = json.loads(args.out.read_text())
        kept = ("shuffle", "shuffle_seconds", "shuffle_run", "groups")
        kept += ("provenance",) * ("groups" not in args.parts)
        result.update({k: old[k] for k in kept if k in old})
    args.out.parent.mkdir(parents=True, exist_ok=True)

    def write():                # after each part: a failure later keeps what was measured
        result["seconds"] = time.time() - start
        args.out.write_text(json.dumps(result, indent=1) + "\n")

    if "shuffle" in args.parts:
        result["shuffle_run"] = {"provenance": {**provenance, "part": "shuffle"}}
        result["shuffle"] = shuffle_sweep(args.seeds, args.groups, args.scale, args.epochs,
                                          args.frameworks)
        result["shuffle_seconds"] = time.time() - start
        write()
    if "groups" in args.parts:
        result["groups"] = group_timing(args.shape, args.conv_groups, args.repeats, args.rounds)
        write()
    print(f"wrote {args.out} in {result['seconds']:.0f} s")
    return result


if __name__ == "__main__":
    main()
