"""Quantized MobileNet v1 under TF Lite (LiteRT): size, accuracy and latency against Keras.

MobileNet v1 at alpha 0.5 and 32 pixels, trained on the digits (or loaded: the book's chapters
train the same model with `mobilecnn.train.fit_or_load`), converted in every mode of
`mobilecnn.deploy`, and measured with `mobilecnn.deploy.evaluate` on the 360 test images.

Sizes are printed as converted and with names stripped (`strip=True`, what a microcontroller
build ships; the size target is judged on those, file against file). Targets: the int8 file at
most 0.30 of the float32 file; int8 accuracy within 1 point of the
float model's; int8 single-image latency at least 10 times lower than calling the Keras model.

    MOBILECNN_THREADS=1 python benchmarks/deploy.py [--runs 200]
"""

import argparse
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from mobilecnn import book, data, deploy, train  # noqa: E402

TARGETS = {"size": 0.30, "accuracy_points": 1.0, "speedup": 10.0}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=200, help="timed single-image calls per model")
    parser.add_argument("--alpha", type=float, default=0.5)
    args = parser.parse_args(argv)
    book.setup(seed=0)

    (x_train, _), (x_test, y_test) = data.load("digits", image_size=32)
    result = train.fit_or_load("mobilenet_v1", framework="keras", image_size=32,
                               alpha=args.alpha, seed=0)
    print(result.summary() + (" (loaded from the cache)" if result.cached else ""))
    files = deploy.convert_all(result.model, representative_data=x_train[:300])
    stripped = {mode: deploy.strip_strings(flatbuffer) for mode, flatbuffer in files.items()}

    evals = {"keras": deploy.evaluate(result.model, x_test, y_test, runs=args.runs)}
    for mode, flatbuffer in files.items():
        evals[mode] = deploy.evaluate(flatbuffer, x_test, y_test, runs=args.runs, label=mode)

    keras_eval, float_file = evals["keras"], len(files["float32"])
    float_stripped = len(stripped["float32"])
    print(f"\n{'model':<9}{'bytes':>11}{'/float32':>10}{'stripped':>11}{'/float32':>10}"
          f"{'accuracy':>10}{'latency ms':>12}{'vs Keras':>10}{'images/s':>10}")
    for mode, e in evals.items():
        if mode == "keras":
            sizes = f"{'-':>10}{'-':>11}{'-':>10}"
        else:
            n = len(stripped[mode])
            sizes = f"{e.size / float_file:>10.3f}{n:>11,}{n / float_stripped:>10.3f}"
        print(f"{mode:<9}{e.size:>11,}{sizes}{100 * e.accuracy:>9.2f}%"
              f"{e.latency_ms:>12.3f}{keras_eval.latency_ms / e.latency_ms:>9.1f}x"
              f"{e.throughput:>10,.0f}")

    int8 = evals["int8"]
    checks = {
        f"int8 file / float32 file <= {TARGETS['size']} (names stripped)":
            len(stripped["int8"]) / float_stripped <= TARGETS["size"],
        f"int8 accuracy within {TARGETS['accuracy_points']:g} point of Keras":
            abs(100 * (int8.accuracy - keras_eval.accuracy)) <= TARGETS["accuracy_points"],
        f"int8 single-image latency >= {TARGETS['speedup']:g}x lower than Keras":
            keras_eval.latency_ms / int8.latency_ms >= TARGETS["speedup"],
    }
    print()
    for text, ok in checks.items():
        print(f"{'OK  ' if ok else 'MISS'} {text}")
    if result.smoke:
        print("smoke run (MOBILECNN_SMOKE=1): the accuracies are not results")
    return 0 if all(checks.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
