"""ShuffleNet v2's four guidelines measured on this machine; writes
benchmarks/results/shufflenet_v2_guidelines.json.

Each guideline's benchmark networks (``mobilecnn.guidelines.networks``: the paper's Tables 1 to
4, a stack of identical layers at fixed FLOPs) are timed in Keras, PyTorch and TF Lite, batch 1,
one thread, at the widths of the paper's ARM "x1" and "x2" columns. The variants of one
experiment are timed in turn, ``--rounds`` times over (``mobilecnn.guidelines.sweep``).

Run (about 15 minutes on a busy 2-core machine)::

    MOBILECNN_THREADS=1 .venv/bin/python benchmarks/shufflenet_v2_guidelines.py

``--scales 1 --size 8 --repeats 2 --rounds 1 --frameworks torch`` is a smoke run.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
OUT = HERE / "results" / "shufflenet_v2_guidelines.json"


def main(argv=None) -> dict:
    from mobilecnn import guidelines

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--guidelines", nargs="+", default=list(guidelines.GUIDELINES),
                        choices=guidelines.GUIDELINES)
    parser.add_argument("--scales", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--frameworks", nargs="+", default=list(guidelines.FRAMEWORKS),
                        choices=guidelines.FRAMEWORKS)
    parser.add_argument("--size", type=int, default=None,
                        help="input height and width (default: the paper's 56, 28 for G4)")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)

    from mobilecnn import book

    book.setup(seed=0)
    start = time.time()
    rows = guidelines.sweep(args.guidelines, tuple(args.scales), tuple(args.frameworks),
                            repeats=args.repeats, rounds=args.rounds, threads=1, size=args.size,
                            log=lambda line: print(line, flush=True))
    result = {"provenance": book.provenance(__file__, argv),
              "threads": int(os.environ.get("MOBILECNN_THREADS", "0")) or None,
              "settings": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
              "source": guidelines.SOURCE, "rows": rows, "seconds": time.time() - start}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1) + "\n")
    print(f"wrote {args.out} in {result['seconds']:.0f} s")
    return result


if __name__ == "__main__":
    main()
