"""The explorer's "Side by side" image: axes not squeezed by the legend, legend inside the
canvas, one readable entry per architecture (the defect the review found at 1300 px)."""

import matplotlib
import pytest

import mobilecnn
from mobilecnn import architectures, reading, widgets

pytest.importorskip("ipywidgets")


def drawn(fig):
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    return canvas.get_renderer()


@pytest.mark.parametrize("fixed_axes", [True, False])
def test_axes_keep_most_of_the_width_and_the_legend_fits(fixed_axes):
    fig = widgets.comparison_figure(fixed_axes=fixed_axes)
    renderer = drawn(fig)
    width, height = fig.bbox.width, fig.bbox.height
    axes = fig.axes[0].get_window_extent(renderer)
    assert axes.width > 0.7 * width          # the broken figure's axes were ~15% wide
    (legend,) = fig.legends
    box = legend.get_window_extent(renderer)
    assert box.x0 >= 0 and box.x1 <= width and box.y0 >= 0 and box.y1 <= height
    assert box.y1 <= axes.y0                  # below the axes, not over the points
    assert len(legend.get_texts()) == len(mobilecnn.list_architectures())


def test_labels_name_the_architecture_and_only_the_changed_settings():
    at_defaults = reading.read("mobilenet_v1", {})
    thinned = reading.read("mobilenet_v1", {"alpha": 0.5})
    fig = widgets.comparison_figure([at_defaults, thinned], published=[])
    labels = [t.get_text() for t in fig.legends[0].get_texts()]
    p = mobilecnn.profile("mobilenet_v1", alpha=0.5)
    assert labels[0].startswith("MobileNet v1: ")
    assert labels[1] == (f"MobileNet v1 (alpha=0.5): {p.params / 1e6:.2f}M params, "
                         f"{p.macs / 1e6:.1f}M MACs")
    # Every legend entry carries its marker, in the architecture's colour.
    handles = fig.legends[0].legend_handles
    assert [tuple(h.get_facecolor()[0]) for h in handles] == [
        matplotlib.colors.to_rgba(architectures.get("mobilenet_v1").color)] * 2


def test_still_image_fits_its_points():
    readings = [reading.read(n, {}) for n in mobilecnn.list_architectures()]
    ax = widgets.comparison_figure(readings, fixed_axes=False).axes[0]
    (x_lo, x_hi), (y_lo, y_hi) = ax.get_xlim(), ax.get_ylim()
    for r in readings:
        assert x_lo < r.profile.params / 1e6 < x_hi and y_lo < r.profile.macs / 1e6 < y_hi
    for _, fig in widgets.published_points():
        assert x_lo < fig.params < x_hi and y_lo < fig.macs < y_hi
    # Tighter than the live plot's, which must hold every slider position.
    (gx_lo, gx_hi), _ = widgets.plot_limits()
    assert x_hi / x_lo < gx_hi / gx_lo
