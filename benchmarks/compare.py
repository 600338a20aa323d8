"""Every architecture of the book on the same axes: the comparison chapter's table, printed.

For every architecture, the digits setting that ``benchmarks/deploy.py`` trained (its accuracies
are read from ``benchmarks/results/deploy.json``) and the settings of ``--classes``
(``mobilecnn.compare.CLASSES``: the paper default, ~40M and ~150M MACs at 1000 classes) are
counted by the profiler and measured with ``mobilecnn.compare.measure``. Each is converted to
float32 and int8 TF Lite files and timed at batch 1 in Keras (compiled), PyTorch and LiteRT,
in turns. These are the same library calls as the chapter's, so the table is the same, measured
again on this machine.

    MOBILECNN_THREADS=1 .venv/bin/python benchmarks/compare.py
    MOBILECNN_THREADS=1 .venv/bin/python benchmarks/compare.py --classes "~40M MACs" --rounds 2
    .venv/bin/python benchmarks/compare.py --architectures mobilenet_v1 --classes --rounds 1

``--json PATH`` also writes the rows to a file. Nothing is written by default: the chapter
measures its own table when the book is built.
"""

import argparse
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("MOBILECNN_THREADS", "1")

ROOT = Path(__file__).resolve().parents[1]
DEPLOY = ROOT / "benchmarks" / "results" / "deploy.json"


def main(argv=None) -> list:
    import mobilecnn
    from mobilecnn import book, compare

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--architectures", nargs="+", default=mobilecnn.list_architectures(),
                        choices=mobilecnn.list_architectures())
    parser.add_argument("--classes", nargs="*", default=[c for c, _ in compare.CLASSES],
                        choices=[c for c, _ in compare.CLASSES],
                        help="comparison classes besides the digits settings (none: digits only)")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--json", type=Path, default=None, help="also write the rows here")
    args = parser.parse_args(argv)
    book.setup(seed=0)
    classes = [c for c in compare.CLASSES if c[0] in args.classes]
    started = time.perf_counter()
    rows = compare.table(json.loads(DEPLOY.read_text()), args.architectures, classes,
                         rounds=args.rounds, repeats=args.repeats, warmup=args.warmup,
                         log=lambda r: print(f"  measured {r['architecture']} "
                                             f"({r['setting_text']})", flush=True))
    machine = book.machine()["text"]
    print(f"\n{len(rows)} settings in {time.perf_counter() - started:.0f} s on {machine}, "
          f"threads {int(os.environ['MOBILECNN_THREADS'])}; latency: median ms, batch 1")
    head = (f"{'class':<17} {'architecture':<19} {'setting':<22} {'MACs M':>8} {'SRAM KB':>8} "
            f"{'int8 KB':>8} " + " ".join(f"{r:>15}" for r in compare.RUNTIMES))
    print(head)
    for r in rows:
        print(f"{r['class']:<17} {r['architecture']:<19} {r['setting_text']:<22} "
              f"{r['macs'] / 1e6:>8.1f} {r['peak_activation_bytes_int8'] / 1024:>8.0f} "
              f"{r['int8_bytes'] / 1024:>8.0f} "
              + " ".join(f"{r[f'latency_ms {rt}']:>15.2f}" for rt in compare.RUNTIMES))
    if args.json:
        args.json.write_text(json.dumps({"provenance": book.provenance(__file__, argv),
                                         "rows": rows}, indent=1,
                                        default=str) + "\n")
        print(f"wrote {args.json}")
    return rows


if __name__ == "__main__":
    main(sys.argv[1:])
