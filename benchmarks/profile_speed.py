"""How fast is the analytic profiler compared with building the Keras model?

`mobilecnn.profile` drives the sliders, so it must answer in under 5 ms for every architecture
even when the setting was never seen before (the cache is cleared before each timing).

    python benchmarks/profile_speed.py
"""

import os
import statistics
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import mobilecnn  # noqa: E402
from mobilecnn import profiler  # noqa: E402

TARGET_MS = 5.0


def median_ms(fn, repeats):
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1e3)
    return statistics.median(times)


def uncached_profile(name):
    profiler._profile.cache_clear()
    return mobilecnn.profile(name)


def main():
    import keras

    mobilecnn.keras_model("mobilenet_v1", alpha=0.25, image_size=32)  # warm up TensorFlow
    print(f"{'architecture':<15}{'profile() ms':>14}{'cached ms':>11}{'keras_model() ms':>18}"
          f"{'ratio':>9}")
    worst = 0.0
    for name in mobilecnn.list_architectures():
        prof = median_ms(lambda: uncached_profile(name), 51)
        cached = median_ms(lambda: mobilecnn.profile(name), 51)

        def build():
            keras.backend.clear_session()
            mobilecnn.keras_model(name)

        build_ms = median_ms(build, 5)
        worst = max(worst, prof)
        print(f"{name:<15}{prof:>14.2f}{cached:>11.3f}{build_ms:>18.1f}{build_ms / prof:>8.0f}x")
    verdict = "OK" if worst < TARGET_MS else "TOO SLOW"
    print(f"slowest uncached profile(): {worst:.2f} ms (target < {TARGET_MS} ms): {verdict}")
    return 0 if worst < TARGET_MS else 1


if __name__ == "__main__":
    sys.exit(main())
