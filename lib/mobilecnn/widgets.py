"""Live explorers for Jupyter: move a slider, see the network's cost change at once.

* :func:`explorer` -- one architecture: a control per metaparameter, the summary line (counts,
  ratio to the unthinned network, the paper's rule of thumb) and the cost table by stage, block
  or layer.
* :func:`compare` -- several architectures side by side, each with its own controls, and a plot
  of MACs against parameters with the papers' published points marked.
* :func:`static_explorer` -- the same explorer for a page without a kernel (see
  :mod:`mobilecnn.static`); the book's pages use it.

Every number comes from :func:`mobilecnn.profile` through :func:`mobilecnn.reading.read`, and the
summary and table are the same HTML the static explorer writes. Every fact about an architecture
(its width multiplier, colour, base resolution and published figures) is read from its module
through :mod:`mobilecnn.architectures`. An update only assigns ``.value``
of widgets that are already displayed (two HTML widgets and, in :func:`compare`, one Image), so
nothing is re-created and outputs never pile up.

This module imports ipywidgets and (for plots) matplotlib; ``import mobilecnn`` does not import it.
"""

from __future__ import annotations

import base64
import functools
import html
import math

import ipywidgets as w

from . import architectures, reading, static
from .static import StaticExplorer, static_explorer  # noqa: F401  (re-exported)

__all__ = ["explorer", "compare", "static_explorer", "comparison_figure", "comparison_image",
           "published_points", "plot_limits", "Explorer", "Comparison"]

DETAIL = (("stages", "stage"), ("blocks", "block"), ("layers", "layer"))


class Explorer:
    """The live explorer of one architecture (see :func:`explorer`).

    Attributes: ``controls`` (metaparameter name -> widget), ``summary`` and ``table`` (HTML
    widgets), ``detail`` (stage / block / layer), ``panel`` (the whole box), ``reading`` (the
    current :class:`~mobilecnn.reading.Reading`).
    """

    def __init__(self, name: str, fixed: dict | None = None, initial: dict | None = None, *,
                 show_table: bool = True):
        self.name = name
        self.fixed = reading.check_fixed(name, fixed or {})
        self.specs = reading.controls(name, self.fixed)
        start = {**reading.defaults(name, self.fixed), **(initial or {})}
        unknown = set(initial or {}) - {c.name for c in self.specs}
        if unknown:
            raise ValueError(f"initial: {name} has no control for {sorted(unknown)[0]!r}; its "
                             f"controls are {', '.join(c.name for c in self.specs)}")
        self.controls = {c.name: _control_widget(c, c.values[c.index(start[c.name])])
                         for c in self.specs}
        self.summary = w.HTML()
        self.table = w.HTML()
        self.detail = w.ToggleButtons(options=DETAIL, value="stage", description="table by",
                                      style={"button_width": "5.5em"})
        self._listeners = []
        title = html.escape(architectures.get(name).title)
        fixed_text = ", ".join(f"{k}={reading.value_label(name, k, v)}"
                               for k, v in self.fixed.items())
        header = w.HTML(f"<style>{reading.css()}</style><b>{title}</b> <code>{name}</code>"
                        + (f" ({html.escape(fixed_text)})" if fixed_text else ""))
        rows = [header, w.HBox([_with_readout(c) for c in self.controls.values()],
                               layout=w.Layout(flex_flow="row wrap")),
                self.summary]
        if show_table:
            rows += [self.detail, self.table]
        self.panel = w.VBox(rows)
        self.panel.add_class("mcnn-live")
        for widget in (*self.controls.values(), self.detail):
            widget.observe(self._changed, names="value")
        self.refresh()

    @property
    def settings(self) -> dict:
        """The controls' current values."""
        return {key: widget.value for key, widget in self.controls.items()}

    def refresh(self) -> None:
        """Profile the current setting and write it into the (already displayed) widgets."""
        self.reading = reading.read(self.name, self.settings, self.fixed)
        self.summary.value = reading.summary_html(self.reading)
        self.table.value = reading.table_html(self.reading, self.detail.value)
        for listener in self._listeners:
            listener(self)

    def on_change(self, callback) -> None:
        """Call ``callback(explorer)`` after every refresh."""
        self._listeners.append(callback)

    def _changed(self, change) -> None:
        self.refresh()

    def to_static(self) -> StaticExplorer:
        """The kernel-free explorer of the same network, starting at the current setting.

        ``num_classes`` and ``dropout`` have no slider there; they are fixed at the current value.
        """
        current = self.settings
        fixed = {**self.fixed, **{k: v for k, v in current.items()
                                  if k in reading.STATIC_DEFAULTS}}
        # A value the static page's (possibly thinner) grid does not have is fixed there instead.
        grid = {c.name: c for c in reading.controls(self.name, fixed, static=True)}
        for k, v in current.items():
            if k in fixed:
                continue
            try:
                grid[k].index(v)
            except (KeyError, ValueError):
                fixed[k] = v
        initial = {k: v for k, v in current.items() if k not in fixed}
        return static_explorer(self.name, initial=initial, **fixed)

    def _repr_mimebundle_(self, include=None, exclude=None):
        """The live widget, plus ``text/html`` (the static explorer) for viewers with no kernel."""
        bundle = self.panel._repr_mimebundle_(include=include, exclude=exclude)
        bundle["text/html"] = self.to_static().html()
        return bundle


def _control_widget(control: reading.Control, value):
    options = list(zip(control.labels, control.values))
    layout = w.Layout(width="auto")
    style = {"description_width": "initial"}
    if control.kind == "choice":
        cls = w.ToggleButtons if len(options) <= 3 else w.Dropdown
        return cls(options=options, value=value, description=control.name, tooltip=control.doc,
                   style=style, layout=layout)
    # The slider's own readout has a fixed width that cuts "1.000 (224 px)" short and lets it run
    # into the next control; _with_readout shows the value in a label sized to its text instead.
    return w.SelectionSlider(options=options, value=value, description=control.name,
                             continuous_update=True, readout=False, style=style,
                             layout=w.Layout(width="16em"))


def _with_readout(widget):
    """A slider followed by a label that shows its current value (other controls as they are)."""
    if not isinstance(widget, w.SelectionSlider):
        return widget
    readout = w.Label(widget.label, layout=w.Layout(flex="0 0 auto", min_width="8.5em",
                                                    margin="0 1.2em 0 0.4em"))
    readout.add_class("mcnn-readout")
    w.dlink((widget, "label"), (readout, "value"))
    return w.HBox([widget, readout], layout=w.Layout(align_items="center", width="auto"))


def explorer(name: str, initial: dict | None = None, **fixed) -> Explorer:
    """A live explorer of ``name``: a control for every metaparameter not given in ``fixed``.

    Numeric metaparameters get a slider over exactly their ``grid`` (rho labelled with the input
    size in pixels), discrete ones buttons or a menu. ``initial`` sets where the controls start.
    Settings the network cannot take show the library's error message in the panel.
    """
    return Explorer(name, fixed, initial)


# ---- comparing architectures ------------------------------------------------------------------

def published_points(names=None) -> list:
    """``[(architecture, Figure), ...]``: every published figure that has both MACs and params.

    The figures come from the architecture modules (``Architecture.published``); those that
    give only one of the two counts cannot be placed on the plot and are left out.
    """
    names = architectures.ARCHITECTURES if names is None else names
    return [(name, fig) for name in names for fig in architectures.get(name).published
            if fig.macs is not None and fig.params is not None]


@functools.lru_cache(maxsize=4)
def plot_limits(names: tuple | None = None) -> tuple:
    """``((params low, high), (MACs low, high))`` in millions for the comparison plot.

    Computed from the data: every point of every architecture's static slider grid and every
    published figure, widened by a fifth of a decade on each side, so that points move when a
    slider does and the axes stay.
    """
    names = tuple(architectures.ARCHITECTURES) if names is None else names
    params, macs = [], []
    for name in names:
        lo_p, hi_p, lo_m, hi_m = static.grid_extent(name)
        params += [lo_p / 1e6, hi_p / 1e6]
        macs += [lo_m / 1e6, hi_m / 1e6]
    for _, fig in published_points(names):
        params.append(fig.params)
        macs.append(fig.macs)
    pad = 10 ** 0.2
    return (min(params) / pad, max(params) * pad), (min(macs) / pad, max(macs) * pad)


def comparison_figure(readings=None, published=None, *, fixed_axes: bool = True):
    """MACs against parameters for the given readings (default: every architecture at defaults).

    ``readings`` are :class:`~mobilecnn.reading.Reading` objects (invalid ones are left out).
    ``published`` is a list of ``(architecture, Figure)`` (default: :func:`published_points`).
    Filled dots: this library's counts; open squares: the published figures, in the
    architecture's colour. Log-log axes, since thinning moves networks by factors. With
    ``fixed_axes`` (the live comparison) the axes hold every point of every slider grid
    (:func:`plot_limits`), so that points move and axes stay; without, they fit the points drawn
    (a still image). The legend sits below the axes, one entry per reading (:func:`legend_label`).
    Returns a matplotlib ``Figure`` (no pyplot state).
    """
    from matplotlib.figure import Figure
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    if readings is None:
        readings = [reading.read(n, {}) for n in architectures.ARCHITECTURES]
    if published is None:
        published = published_points()
    fig = Figure(figsize=(7.5, 6.2), layout="constrained")
    ax = fig.add_subplot()
    for name, ref in published:
        ax.scatter(ref.params, ref.macs, s=70, facecolors="none", linewidths=1.2,
                   edgecolors=architectures.get(name).color, marker="s")
    if fixed_axes:
        (x_lo, x_hi), (y_lo, y_hi) = plot_limits()
    else:
        x_lo = y_lo = math.inf
        x_hi = y_hi = 0.0
        for _, ref in published:
            x_lo, x_hi = min(x_lo, ref.params / 1.4), max(x_hi, ref.params * 1.4)
            y_lo, y_hi = min(y_lo, ref.macs / 1.4), max(y_hi, ref.macs * 1.4)
    for r in readings:
        if r.profile is None:
            continue
        x, y = r.profile.params / 1e6, r.profile.macs / 1e6
        pad = 1.2 if fixed_axes else 1.4
        x_lo, x_hi, y_lo, y_hi = min(x_lo, x / pad), max(x_hi, x * pad), \
            min(y_lo, y / pad), max(y_hi, y * pad)
        ax.scatter(x, y, s=45, zorder=3, color=architectures.get(r.name).color,
                   label=legend_label(r))
    ax.set_xscale("log")
    ax.set_yscale("log")
    if not x_hi:                      # nothing drawn: the grid's limits
        (x_lo, x_hi), (y_lo, y_hi) = plot_limits()
    # Limits that hold every point of every slider grid and every published figure (and, if the
    # live explorer's finer grid goes further, the current points), so that points move, not axes.
    ax.set_xlim(x_lo, x_hi)
    ax.set_ylim(y_lo, y_hi)
    plain = FuncFormatter(lambda v, _: f"{v:g}")
    for axis in (ax.xaxis, ax.yaxis):
        if not fixed_axes:            # a decade or two: label 1, 2 and 5 of each
            axis.set_major_locator(LogLocator(base=10, subs=(1, 2, 5)))
        axis.set_major_formatter(plain)
        axis.set_minor_formatter(NullFormatter())
    ax.set_xlabel("parameters (millions, Keras count)")
    ax.set_ylabel("MACs per image (millions)")
    ax.set_title("This library's counts at the current settings (dots) and the published "
                 "figures (squares)", fontsize=8)
    ax.grid(True, which="both", alpha=0.25)
    if ax.get_legend_handles_labels()[0]:
        # Below the axes, in the figure's own layout (not anchored outside it, where constrained
        # layout would shrink the axes to make room and the canvas would cut the labels off).
        fig.legend(loc="outside lower center", ncols=2, fontsize=7, frameon=False)
    return fig


def legend_label(r) -> str:
    """A reading's legend entry: the architecture's title, the metaparameters that differ from
    their defaults (none at the defaults), and its two counts."""
    base = reading.defaults(r.name)
    label = lambda k, v: reading.value_label(r.name, k, v)  # noqa: E731
    changed = ", ".join(f"{k}={label(k, v)}" for k, v in r.settings
                        if k not in reading.STATIC_DEFAULTS and label(k, v) != label(k, base[k]))
    x, y = r.profile.params / 1e6, r.profile.macs / 1e6
    return (f"{architectures.get(r.name).title}{f' ({changed})' if changed else ''}: "
            f"{x:.2f}M params, {y:.1f}M MACs")


def figure_png(fig) -> bytes:
    """PNG bytes of a matplotlib figure (Agg, no display)."""
    import io

    from matplotlib.backends.backend_agg import FigureCanvasAgg

    buffer = io.BytesIO()
    FigureCanvasAgg(fig).print_png(buffer)
    return buffer.getvalue()


def comparison_image(readings=None):
    """The comparison plot as an ``IPython.display.Image`` (for a book page without a kernel)."""
    from IPython.display import Image

    return Image(data=figure_png(comparison_figure(readings, fixed_axes=False)), format="png")


class Comparison:
    """Several live explorers side by side and one plot (see :func:`compare`)."""

    def __init__(self, entries):
        self.explorers = [Explorer(name, initial=values, show_table=False)
                          for name, values in entries]
        self.plot = w.Image(format="png", layout=w.Layout(max_width="640px"))
        for e in self.explorers:
            e.panel.layout = w.Layout(min_width="320px", flex="1 1 0")
            e.on_change(self._redraw)
        self.panel = w.VBox([w.HBox([e.panel for e in self.explorers],
                                    layout=w.Layout(flex_flow="row wrap")), self.plot])
        self._redraw()

    def _redraw(self, _explorer=None) -> None:
        self.plot.value = figure_png(comparison_figure([e.reading for e in self.explorers]))

    def _repr_mimebundle_(self, include=None, exclude=None):
        bundle = self.panel._repr_mimebundle_(include=include, exclude=exclude)
        encoded = base64.b64encode(bytes(self.plot.value)).decode("ascii")
        bundle["text/html"] = (f'<img alt="MACs against parameters" '
                               f'src="data:image/png;base64,{encoded}">')
        return bundle


def compare(*entries) -> Comparison:
    """Architectures side by side, each with its own controls, and MACs plotted against params.

    ``entries`` are names or ``(name, {metaparameter: value})`` pairs (where the controls start);
    with none, every architecture at its defaults. The plot marks the published figures of every
    architecture module (:func:`published_points`) next to this library's counts for the current
    settings.
    """
    if not entries:
        entries = tuple(architectures.ARCHITECTURES)
    pairs = [(e, {}) if isinstance(e, str) else (e[0], dict(e[1])) for e in entries]
    return Comparison(pairs)
