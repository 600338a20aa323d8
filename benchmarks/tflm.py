"""Every architecture's int8 file in TensorFlow Lite for Microcontrollers: arena, ops, board needs.

For each architecture at the setting ``benchmarks/deploy.py`` trains (its ``Architecture.smoke``
setting; SqueezeNet at its chapter's), the microcontroller file (int8, batch 1) of an untrained
network whose batch norms took the statistics of random images (``mobilecnn.tflm.untrained_file``:
its arena and operators are those of the trained file) is loaded into TFLM's interpreter, and

* its arena is measured (head, tail, total, and the tail estimated for a 32-bit board) and set
  beside the analytic ``profile(...).peak_activation_bytes(8)``, with the itemized difference
  (``mobilecnn.tflm.difference``);
* its operators, the ``MicroMutableOpResolver`` they need, and its outputs on 8 random images
  against LiteRT's reference kernels and LiteRT's default (XNNPACK) kernels, in quantization steps;
* what each board of ``mobilecnn.microcontroller.BOARDS`` would need (flash: the trained int8 file
  of ``benchmarks/results/deploy.json`` where it has one, else this file, plus the runtime and
  the board's reserved flash; SRAM: the 32-bit arena estimate plus the stack) and the board's
  latency ESTIMATE (MACs over the core's assumed throughput; not a timing).

Then the published anchors (``--anchors``, on by default): the STM32 model zoo's MobileNet v2 0.35
at 128 and 224 pixels (1000 classes), whose activation RAM ST's toolchain measured, beside the
analytic peak and TFLM's arena of the same setting.

Writes ``benchmarks/results/tflm.json`` (or ``--out``) and prints one table.

    MOBILECNN_THREADS=1 nice python benchmarks/tflm.py
"""

import argparse
import datetime
import importlib.metadata
import importlib.util
import json
import os
import platform
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

import mobilecnn  # noqa: E402
from mobilecnn import book, deploy, microcontroller, tflm  # noqa: E402

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results" / "tflm.json"
DEPLOY_RESULTS = HERE / "results" / "deploy.json"
IMAGES = 8

EXECUTORCH = {
    "checked": "2026-12-04",
    "version": "executorch 1.5.1 (the newest on the package index; also 1.5.0, 1.4.x ... 0.2.0)",
    "torch_requirement": "none in its metadata (Requires-Dist lists no torch); its Python "
                         "bindings (extension/pybindings/_C) link libtorch, libtorch_cpu, "
                         "libtorch_python and libc10, so the wheel is built for one torch",
    "pairs_with_torch_2_13_0": "yes, as far as checked: unpacked beside the venv's torch 2.13.0 "
                               "(not installed), torch.export, to_edge_transform_and_lower with "
                               "the XNNPACK partitioner, to_executorch and its runtime ran a "
                               "3x3 convolution and ReLU; the output was within 1.8e-7 of eager "
                               "PyTorch",
    "install": "pip install --dry-run executorch==1.5.1 would add 21 packages to the venv "
               "(antlr4-python3-runtime, cattrs, coremltools 9.0, expecttest, hf-xet, "
               "httpcore2, httpx2, huggingface_hub, hydra-core, kgb, omegaconf, parameterized, "
               "py-cpuinfo, pyaml, pytorch_tokenizers, regex, ruamel.yaml, sentencepiece, "
               "tiktoken, tokenizers, truststore) and replace none",
    "measured": "not yet: not installed in this run (no size, latency, accuracy or planned "
                "memory of a .pte file here)",
}
"""What was found about ExecuTorch beside the book's torch pin, for the lead's note."""


def deploy_settings() -> dict:
    """``benchmarks/deploy.py``'s ``SETTINGS`` (one place for them)."""
    spec = importlib.util.spec_from_file_location("bench_deploy", HERE / "deploy.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.SETTINGS


def trained_sizes() -> dict:
    """``{architecture: (setting, stripped int8 bytes)}`` from the committed deploy results."""
    if not DEPLOY_RESULTS.is_file():
        return {}
    results = json.loads(DEPLOY_RESULTS.read_text())
    if results.get("smoke"):
        return {}
    out = {}
    for r in results["rows"]:
        if r["runtime"] == "LiteRT" and r["mode"] == "int8":
            out[r["architecture"]] = (results["trained"][r["architecture"]]["setting"],
                                      r["stripped_bytes"])
    return out


def versions() -> dict:
    out = {"python": platform.python_version()}
    for package in ("tflite-micro", "tensorflow", "ai-edge-litert", "keras", "numpy"):
        try:
            out[package] = importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            try:
                out[package] = importlib.metadata.version(package + "-cpu")
            except importlib.metadata.PackageNotFoundError:
                out[package] = None
    return out


def measure(name: str, setting: dict, trained: dict, image_size: int | None) -> dict:
    setting = dict(setting)
    if image_size:
        meta = {k: v for k, v in setting.items() if k != "image_size"}
        setting["image_size"] = max(image_size, mobilecnn.minimum_image_size(name, **meta))
    start = time.perf_counter()
    model_bytes, prof, images = tflm.untrained_file(name, **setting)
    convert_seconds = time.perf_counter() - start
    arena = tflm.arena(model_bytes)
    difference = tflm.difference(model_bytes, prof, arena)
    q = deploy.TFLiteClassifier(model_bytes).quantize_input(images[:IMAGES])
    micro = tflm.run(model_bytes, q).astype(int)
    steps_ref = int(np.abs(micro - tflm.litert_outputs(model_bytes, q, True).astype(int)).max())
    fast = tflm.litert_outputs(model_bytes, q, False).astype(int)
    steps_xnnpack = int(np.abs(micro - fast).max())
    same_top = float(np.mean(micro.argmax(1) == fast.argmax(1)))
    trained_setting, trained_bytes = trained.get(name, (None, None))
    use_trained = trained_setting == setting and trained_bytes is not None
    model_for_flash = trained_bytes if use_trained else len(model_bytes)
    boards = {}
    for board in microcontroller.BOARDS:
        need = microcontroller.device_need(model_for_flash, arena.total_32bit_estimate_bytes,
                                           prof.macs, board)
        boards[board.name] = {k: v for k, v in need.items() if k != "board"}
    ops = tflm.operators(model_bytes)
    return {"architecture": name, "setting": setting, "macs": prof.macs, "params": prof.params,
            "model_bytes_untrained": len(model_bytes),
            "model_bytes_untrained_stripped": len(deploy.strip_strings(model_bytes)),
            "model_bytes_trained_stripped": trained_bytes if use_trained else None,
            "flash_counts": "trained" if use_trained else "untrained",
            "peak_activation_bytes_int8": prof.peak_activation_bytes(8),
            "arena": arena.as_dict(),
            "arena_total_32bit_estimate_bytes": arena.total_32bit_estimate_bytes,
            "difference": difference.as_dict(),
            "difference_rows": difference.rows(),
            "operators": ops, "op_resolver": tflm.op_resolver(model_bytes),
            "steps_vs_litert_reference": steps_ref, "steps_vs_litert_xnnpack": steps_xnnpack,
            "same_top_class_as_xnnpack": same_top, "images": IMAGES,
            "convert_seconds": convert_seconds, "boards": boards}


def anchors() -> list:
    """The published anchors beside the analytic peak and TFLM's arena of the same setting."""
    out = []
    for a in microcontroller.ANCHORS:
        setting = dict(a.setting)
        num_classes = setting.pop("num_classes")
        model_bytes, prof, _ = tflm.untrained_file(a.architecture, num_classes=num_classes,
                                                   calibration=8, **setting)
        arena = tflm.arena(model_bytes)
        out.append({"architecture": a.architecture, "setting": dict(a.setting),
                    "board": a.board, "core": a.core, "clock_hz": a.clock_hz,
                    "runtime": a.runtime, "source": a.source,
                    "published_latency_ms": a.latency_ms,
                    "published_activation_bytes": a.activation_bytes,
                    "implied_macs_per_cycle": a.macs_per_cycle, "macs": a.macs,
                    "peak_activation_bytes_int8": prof.peak_activation_bytes(8),
                    "tflm_arena": arena.as_dict(),
                    "tflm_arena_total_32bit_estimate_bytes": arena.total_32bit_estimate_bytes})
    return out


def print_table(rows: list, anchor_rows: list) -> None:
    print(f"\n{'architecture':<19}{'analytic':>9}{'head':>9}{'tail':>9}{'tail32':>9}"
          f"{'file':>10}{'ops':>5}{'ref':>5}{'xnn':>5}{'Nano ms (est.)':>16}")
    for r in rows:
        a = r["arena"]
        nano = r["boards"][microcontroller.BUDGET.name]["latency_ms_estimate"]
        print(f"{r['architecture']:<19}{r['peak_activation_bytes_int8']:>9,}{a['head_bytes']:>9,}"
              f"{a['tail_bytes']:>9,}{a['tail_32bit_estimate_bytes']:>9,}"
              f"{r['model_bytes_untrained']:>10,}{len(r['operators']):>5}"
              f"{r['steps_vs_litert_reference']:>5}{r['steps_vs_litert_xnnpack']:>5}"
              f"{nano:>16,.0f}")
    for a in anchor_rows:
        print(f"anchor {a['architecture']} {a['setting']}: ST activation RAM "
              f"{a['published_activation_bytes']:,} B, analytic "
              f"{a['peak_activation_bytes_int8']:,} B, TFLM head "
              f"{a['tflm_arena']['head_bytes']:,} B; {a['published_latency_ms']} ms "
              f"at {a['clock_hz'] / 1e6:g} MHz = {a['implied_macs_per_cycle']:.3f} MACs/cycle")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    settings = deploy_settings()
    parser.add_argument("--architectures", nargs="*", default=list(settings),
                        choices=list(settings))
    parser.add_argument("--image-size", type=int, default=None,
                        help="override every setting's image size (smoke tests)")
    parser.add_argument("--anchors", action=argparse.BooleanOptionalAction, default=True,
                        help="also measure the STM32 model zoo's MobileNet v2 0.35 settings")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    book.setup(seed=0)
    trained = trained_sizes()
    rows = []
    for name in args.architectures:
        print(f"{name} {settings[name]}", flush=True)
        rows.append(measure(name, settings[name], trained, args.image_size))
    anchor_rows = anchors() if args.anchors else []
    print_table(rows, anchor_rows)
    command = ("MOBILECNN_THREADS=1 nice python benchmarks/tflm.py"
               + (" " + " ".join(argv if argv is not None else sys.argv[1:])))
    document = {
        "command": command.strip(), "date": datetime.date.today().isoformat(),
        "machine": book.machine()["text"], "versions": versions(), "smoke": book.smoke(),
        "provenance": book.provenance(__file__, argv),
        "note": "untrained networks, batch norms calibrated on random images: arena and "
                "operators as the trained files'; latencies on the boards are estimates "
                "(MACs over an assumed or published throughput), not timings",
        "assumptions": {"runtime_flash_bytes": microcontroller.RUNTIME_FLASH,
                        "stack_sram_bytes": microcontroller.STACK_SRAM,
                        "core_throughput": {core: {"macs_per_cycle":
                                                   microcontroller.macs_per_cycle(core),
                                                   "kind": kind, "why": why}
                                            for core, (kind, why)
                                            in microcontroller.CORE_THROUGHPUT.items()},
                        "boards": {b.name: {"core": b.core, "clock_hz": b.clock_hz,
                                            "reserved_flash_bytes": b.reserved_flash_bytes,
                                            "reserved_flash_source": b.reserved_flash_source}
                                   for b in microcontroller.BOARDS}},
        "rows": rows, "anchors": anchor_rows, "executorch": EXECUTORCH}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(document, indent=1) + "\n")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
