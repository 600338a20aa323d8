"""How long does the live explorer take from a slider move to the refreshed table?

For each architecture the script walks every control of :func:`mobilecnn.widgets.explorer`
through its grid, one value change at a time, and times the assignment ``control.value = v``:
ipywidgets calls the explorer's observer synchronously, so the time covers profiling the new
setting and writing the summary and the table into the HTML widgets (what a kernel does before
it sends the update to the browser). ``profile``'s cache is cleared before every change, so every
setting is profiled from scratch (the unthinned baseline too, which a real session has cached).
The table is timed by stage (the default view) and by layer (the longest table). Target: the
median under 100 ms.

It also prints how long the static explorer's precomputation of each slider grid takes (a
one-time cost of building a book page), how many points the grid has and what the explorer
weighs in a page (HTML, factored data, script and style).

    python benchmarks/widget_latency.py
"""

import statistics
import sys
import time

import mobilecnn
from mobilecnn import profiler, static, widgets

TARGET_MS = 100.0


def changes(explorer):
    """Every grid value of every control, in turn, skipping values equal to the current one."""
    for key, widget in explorer.controls.items():
        for _, value in widget.options:
            if value != widget.value:
                yield widget, value


def latencies_ms(name, detail):
    explorer = widgets.explorer(name)
    explorer.detail.value = detail
    times = []
    for widget, value in changes(explorer):
        profiler._profile.cache_clear()
        start = time.perf_counter()
        widget.value = value
        times.append((time.perf_counter() - start) * 1e3)
        assert "data-field" in explorer.summary.value
    return times


def main():
    widgets.explorer("squeezenet")  # warm up imports
    print(f"{'architecture':<20}{'changes':>8}{'median ms (stages)':>20}{'median ms (layers)':>20}"
          f"{'max ms (layers)':>17}{'static grid':>13}{'precompute s':>14}{'page kB':>9}")
    worst = 0.0
    for name in mobilecnn.list_architectures():
        by_stage = latencies_ms(name, "stage")
        by_layer = latencies_ms(name, "layer")
        worst = max(worst, statistics.median(by_stage), statistics.median(by_layer))
        static._precompute.cache_clear()
        profiler._profile.cache_clear()
        start = time.perf_counter()
        points = len(static.precompute(name)["points"])
        precompute_s = time.perf_counter() - start
        print(f"{name:<20}{len(by_stage):>8}{statistics.median(by_stage):>20.1f}"
              f"{statistics.median(by_layer):>20.1f}{max(by_layer):>17.1f}{points:>13}"
              f"{precompute_s:>14.2f}{static.page_weight(name) / 1000:>9.1f}")
    verdict = "OK" if worst < TARGET_MS else "TOO SLOW"
    print(f"slowest median value change -> refreshed table: {worst:.1f} ms "
          f"(target < {TARGET_MS:.0f} ms): {verdict}")
    return 0 if worst < TARGET_MS else 1


if __name__ == "__main__":
    sys.exit(main())
