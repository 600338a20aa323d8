"""Every architecture of the book through both deployment paths: size, accuracy and latency.

Each architecture at a small book setting (``tests/test_deploy.py``'s ``SMALL``, 32 pixels) is
trained on the digits in both frameworks with ``mobilecnn.train.fit_or_load`` (other chapters
train the same settings, so most come from the cache). SqueezeNet, whose stem and pools need more
than 35 pixels, is taken at the SqueezeNet chapter's training setting (version 1.0, no bypass, 40
pixels) rather than ``SMALL``'s 48-pixel one with complex bypass, so that the chapter's model is
the one measured. Every architecture trains for the recipe's epochs. ``--update`` re-measures
some architectures and keeps the others' results (the file lists such updates). Then

* the Keras model is converted to TF Lite (``mobilecnn.deploy``) and run by LiteRT;
* the PyTorch model is exported to ONNX (``mobilecnn.deploy_torch``) and run by ONNX Runtime;

each in float32 and in int8 (post-training quantization calibrated on 300 training images), and
measured on the 360 test images with ``mobilecnn.deploy.evaluate``: accuracy, file size, and the
median latency of single-image calls, on one thread. The trained Keras and PyTorch models are
measured the same way, for reference. The int8 TF Lite file is also stripped of its names (what a
microcontroller build flashes), and the int8 SRAM need is ``profile(...).peak_activation_bytes(8)``.

Target: int8 accuracy within 1 point of the float file's, for every architecture and runtime.

Then quantization-aware training (``--qat``, PyTorch, torchao's PT2E flow: see
``mobilecnn.deploy_torch.pt2e_int8``) against post-training int8 on the same trained PyTorch
model, all run by ONNX Runtime: ONNX Runtime's own post-training int8 (the table's), PT2E
post-training int8 (the same quantizer as QAT, without training), and PT2E QAT for
``--qat-epochs`` epochs at learning rate 1e-4.

Writes ``benchmarks/results/deploy.json`` (or ``--out``) and prints one table.

    MOBILECNN_THREADS=1 python benchmarks/deploy.py [--runs 200]
"""

import argparse
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

import mobilecnn  # noqa: E402
from mobilecnn import book, data, deploy, deploy_torch, train  # noqa: E402

TRAINED = {"squeezenet": dict(version="1.0", image_size=40)}   # chapter 4's (see above)
SETTINGS = {name: TRAINED.get(name, mobilecnn.architectures.get(name).smoke_setting)
            for name in mobilecnn.list_architectures()}
"""Every architecture's small setting (``Architecture.smoke``), but SqueezeNet's: the chapter's."""

QAT_ARCHITECTURES = ("mobilenet_v1", "squeezenext")
QAT_EPOCHS = 2
ACCURACY_POINTS = 1.0
CALIBRATION = 300
RESULTS = Path(__file__).resolve().parent / "results" / "deploy.json"


def measure(name: str, setting: dict, runs: int, framework_runs: int) -> tuple:
    """The table rows and the training summaries of one architecture."""
    meta = dict(setting)
    image_size = meta.pop("image_size")
    (x_train, _), (x_test, y_test) = data.load("digits", image_size=image_size)
    representative = x_train[:CALIBRATION]
    prof = mobilecnn.profile(name, image_size=image_size, num_classes=10, **meta)
    common = {"architecture": name, "image_size": image_size, "params": prof.params,
              "macs": prof.macs, "peak_activation_bytes_int8": prof.peak_activation_bytes(8)}
    rows, trained = [], {}
    for framework in train.FRAMEWORKS:
        result = train.fit_or_load(name, framework, image_size=image_size, seed=0,
                                   verbose=False, **meta)
        trained[framework] = {"test_accuracy": result.test_accuracy, "cached": result.cached,
                              "smoke": result.smoke, "seconds": result.seconds}
        print(f"  {result.summary()}", flush=True)
        start = time.perf_counter()
        if framework == "keras":
            files = deploy.convert_all(result, ("float32", "int8"), representative)
            runtime, evaluate = "LiteRT", deploy.evaluate
        else:
            files = deploy_torch.export_all(result, ("float32", "int8"), representative)
            runtime, evaluate = "ONNX Runtime", deploy_torch.evaluate
        convert_seconds = time.perf_counter() - start
        reference = evaluate(result, x_test, y_test, runs=framework_runs)
        evals = {mode: evaluate(flatbuffer, x_test, y_test, runs=runs)
                 for mode, flatbuffer in files.items()}
        float_labels = evals["float32"].probabilities.argmax(1)
        label = "Keras" if framework == "keras" else "PyTorch"
        rows.append({**common, "runtime": label, "mode": "float32", "bytes": reference.size,
                     "accuracy": reference.accuracy, "latency_ms": reference.latency_ms,
                     "images_per_s": reference.throughput, "runs": reference.runs,
                     "agreement_with_float": None, "stripped_bytes": None})
        margin = np.diff(np.sort(evals["float32"].probabilities, axis=1)[:, -2:], axis=1)[:, 0]
        for mode, e in evals.items():
            stripped = (len(deploy.strip_strings(files[mode])) if runtime == "LiteRT" else None)
            flips = e.probabilities.argmax(1) != float_labels
            rows.append({**common, "runtime": runtime, "mode": mode, "bytes": e.size,
                         "accuracy": e.accuracy, "latency_ms": e.latency_ms,
                         "images_per_s": e.throughput, "runs": e.runs,
                         "agreement_with_float":
                             float(np.mean(e.probabilities.argmax(1) == float_labels)),
                         "stripped_bytes": stripped, "convert_seconds": convert_seconds,
                         # decisions int8 changed, and how close the float file's were
                         "flips": int(flips.sum()),
                         "median_margin": float(np.median(margin)),
                         "median_margin_flipped":
                             float(np.median(margin[flips])) if flips.any() else None,
                         "mean_probability_change": float(np.abs(
                             e.probabilities - evals["float32"].probabilities).mean())})
    return rows, trained


def qat(name: str, setting: dict, epochs: int, rows: list) -> dict:
    """PT2E post-training int8 and quantization-aware training of the trained PyTorch model."""
    meta = dict(setting)
    image_size = meta.pop("image_size")
    (x_train, y_train), (x_test, y_test) = data.load("digits", image_size=image_size)
    result = train.fit_or_load(name, "torch", image_size=image_size, seed=0,
                               verbose=False, **meta)
    out = {"architecture": name, "epochs": epochs, "learning_rate": 1e-4}
    for key, n in (("pt2e_ptq", 0), ("pt2e_qat", epochs)):
        start = time.perf_counter()
        onnx_bytes = deploy_torch.pt2e_int8(result, x_train[:CALIBRATION], x_train, y_train,
                                            epochs=n)
        classifier = deploy_torch.ONNXClassifier(onnx_bytes)
        out[key] = {"accuracy": float(np.mean(classifier.predict(x_test).argmax(1) == y_test)),
                    "bytes": len(onnx_bytes), "seconds": time.perf_counter() - start}
    for mode in ("float32", "int8"):
        row = next(r for r in rows if r["architecture"] == name
                   and r["runtime"] == "ONNX Runtime" and r["mode"] == mode)
        out["ort_" + mode] = {"accuracy": row["accuracy"], "bytes": row["bytes"]}
    print(f"QAT {name}: float {100 * out['ort_float32']['accuracy']:.2f}%, ORT PTQ "
          f"{100 * out['ort_int8']['accuracy']:.2f}%, PT2E PTQ "
          f"{100 * out['pt2e_ptq']['accuracy']:.2f}%, PT2E QAT ({epochs} epochs) "
          f"{100 * out['pt2e_qat']['accuracy']:.2f}%", flush=True)
    return out


def diagnose(name: str, runtime: str, setting: dict) -> dict:
    """For an int8 model that missed the target: does calibrating on every training image (not
    300) help, and, for LiteRT, do its reference kernels (no XNNPACK) give the same answers?"""
    meta = dict(setting)
    image_size = meta.pop("image_size")
    (x_train, _), (x_test, y_test) = data.load("digits", image_size=image_size)
    framework = "keras" if runtime == "LiteRT" else "torch"
    result = train.fit_or_load(name, framework, image_size=image_size, seed=0,
                               verbose=False, **meta)
    out = {"calibration_images_all": len(x_train)}
    if runtime == "LiteRT":
        every = deploy.TFLiteClassifier(deploy.convert(result, "int8", x_train))
        out["accuracy_calibrated_on_all"] = float(np.mean(every.predict(x_test).argmax(1)
                                                          == y_test))
        flatbuffer = deploy.convert(result, "int8", x_train[:CALIBRATION])
        fast = deploy.TFLiteClassifier(flatbuffer).predict(x_test).argmax(1)
        reference = reference_kernels(flatbuffer, x_test).argmax(1)
        out["accuracy_reference_kernels"] = float(np.mean(reference == y_test))
        out["reference_kernels_same_labels"] = float(np.mean(reference == fast))
    else:
        float_file = deploy_torch.export(result, "float32")
        every = deploy_torch.ONNXClassifier(deploy_torch.quantize_int8(float_file, x_train))
        out["accuracy_calibrated_on_all"] = float(np.mean(every.predict(x_test).argmax(1)
                                                          == y_test))
    return out


def reference_kernels(flatbuffer: bytes, x) -> np.ndarray:
    """Probabilities from LiteRT's reference kernels (``BUILTIN_REF``, no XNNPACK delegate)."""
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    classifier = deploy.TFLiteClassifier(flatbuffer)
    interpreter = Interpreter(model_content=flatbuffer,
                              experimental_op_resolver_type=OpResolverType.BUILTIN_REF)
    interpreter.allocate_tensors()
    out = []
    for image in x:
        interpreter.set_tensor(classifier.input_details["index"],
                               classifier.quantize_input(image[None]))
        interpreter.invoke()
        out.append(classifier.dequantize_output(
            interpreter.get_tensor(classifier.output_details["index"]))[0])
    return np.array(out)


def checks(rows: list) -> list:
    """One check per architecture and runtime: int8 within ``ACCURACY_POINTS`` of float32."""
    out = []
    by_key = {(r["architecture"], r["runtime"], r["mode"]): r for r in rows}
    for (name, runtime, mode), row in by_key.items():
        if mode != "int8":
            continue
        change = 100 * (row["accuracy"] - by_key[name, runtime, "float32"]["accuracy"])
        out.append({"architecture": name, "runtime": runtime, "change_points": change,
                    "ok": abs(change) <= ACCURACY_POINTS})
    return out


def print_table(rows: list) -> None:
    print(f"\n{'architecture':<19}{'runtime':<13}{'mode':<8}{'bytes':>11}{'stripped':>10}"
          f"{'accuracy':>10}{'latency ms':>12}{'images/s':>10}")
    for r in rows:
        stripped = f"{r['stripped_bytes']:>10,}" if r["stripped_bytes"] else f"{'-':>10}"
        print(f"{r['architecture']:<19}{r['runtime']:<13}{r['mode']:<8}{r['bytes']:>11,}"
              f"{stripped}{100 * r['accuracy']:>9.2f}%{r['latency_ms']:>12.3f}"
              f"{r['images_per_s']:>10,.0f}")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=200,
                        help="timed single-image calls per converted model")
    parser.add_argument("--framework-runs", type=int, default=50,
                        help="timed single-image calls per Keras or PyTorch model (slower)")
    parser.add_argument("--architectures", nargs="*", default=list(SETTINGS),
                        choices=list(SETTINGS))
    parser.add_argument("--image-size", type=int, default=None,
                        help="override every setting's image size (smoke tests)")
    parser.add_argument("--qat", nargs="*", default=list(QAT_ARCHITECTURES),
                        choices=list(SETTINGS), help="architectures for the QAT comparison")
    parser.add_argument("--qat-epochs", type=int, default=QAT_EPOCHS)
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--update", action="store_true",
                        help="keep the other architectures' results already in --out and "
                             "replace only those of --architectures")
    args = parser.parse_args(argv)
    book.setup(seed=0)
    threads = int(os.environ.get("MOBILECNN_THREADS", "1"))

    rows, trained = [], {}
    for name in args.architectures:
        setting = dict(SETTINGS[name])
        if args.image_size:
            meta = {k: v for k, v in setting.items() if k != "image_size"}
            setting["image_size"] = max(args.image_size,
                                        mobilecnn.minimum_image_size(name, **meta))
        print(f"{name} {setting}", flush=True)
        r, t = measure(name, setting, args.runs, args.framework_runs)
        rows += r
        trained[name] = {"setting": setting, **t}
    print_table(rows)
    results = checks(rows)
    for c in results:
        if not c["ok"] and c["change_points"] < 0:   # a loss: investigate it
            c["diagnosis"] = diagnose(c["architecture"], c["runtime"],
                                      trained[c["architecture"]]["setting"])
            print(f"diagnosis {c['architecture']} {c['runtime']}: {c['diagnosis']}", flush=True)
    print()
    for c in results:
        print(f"{'OK  ' if c['ok'] else 'MISS'} {c['architecture']} {c['runtime']}: int8 "
              f"{c['change_points']:+.2f} points from float32 (target within "
              f"{ACCURACY_POINTS:g})")
    qat_results = [qat(name, trained[name]["setting"] if name in trained else SETTINGS[name],
                       args.qat_epochs, rows) for name in args.qat if name in trained]
    smoke = book.smoke()
    if smoke:
        print("smoke run (MOBILECNN_SMOKE=1): the accuracies are not results")
    provenance = book.provenance(__file__, argv if argv is not None else sys.argv[1:])
    updates = []
    if args.update and args.out.is_file():
        old = json.loads(args.out.read_text())
        mine = set(args.architectures)
        rows = [r for r in old["rows"] if r["architecture"] not in mine] + rows
        trained = {**{k: v for k, v in old["trained"].items() if k not in mine}, **trained}
        results = [c for c in old["checks"] if c["architecture"] not in mine] + results
        qat_results = ([q for q in old["qat"] if q["architecture"] not in mine]
                       + qat_results)
        updates = old.get("updates", []) + [{"architectures": sorted(mine),
                                             "provenance": provenance}]
        provenance = old["provenance"]
        order = list(SETTINGS).index
        rows.sort(key=lambda r: order(r["architecture"]))
        results.sort(key=lambda c: order(c["architecture"]))
        trained = dict(sorted(trained.items(), key=lambda item: order(item[0])))
    document = {
        "provenance": provenance, "updates": updates, "threads": threads,
        "threads_note": "LiteRT and ONNX Runtime on 1 thread each; Keras and PyTorch on "
                        "MOBILECNN_THREADS threads",
        "smoke": smoke,
        "calibration_images": CALIBRATION, "accuracy_points": ACCURACY_POINTS,
        "trained": trained, "rows": rows, "checks": results, "qat": qat_results}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(document, indent=1) + "\n")
    print(f"wrote {args.out}")
    return 0 if all(c["ok"] for c in results) else 1


if __name__ == "__main__":
    sys.exit(main())
