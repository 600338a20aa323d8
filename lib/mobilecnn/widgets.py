"""Live explorers for Jupyter: move a slider, see the network's cost change at once.

* :func:`explorer` -- one architecture: a control per metaparameter, the summary line (counts,
  ratio to the unthinned network, the paper's rule of thumb) and the cost table by stage, block
  or layer.
* :func:`compare` -- several architectures side by side, each with its own controls, and a plot
  of MACs against parameters with the papers' published points marked.
* :func:`static_explorer` -- the same explorer for a page without a kernel (see
  :mod:`mobilecnn.static`); the book's pages use it.

Every number comes from :func:`mobilecnn.profile` through :func:`mobilecnn.static.read`, and the
summary and table are the same HTML the static explorer writes. An update only assigns ``.value``
of widgets that are already displayed (two HTML widgets and, in :func:`compare`, one Image), so
nothing is re-created and outputs never pile up.

This module imports ipywidgets and (for plots) matplotlib; ``import mobilecnn`` does not import it.
"""

from __future__ import annotations

import base64
import html
from dataclasses import dataclass

import ipywidgets as w

from . import architectures, static
from .static import StaticExplorer, static_explorer  # noqa: F401  (re-exported)

__all__ = ["explorer", "compare", "static_explorer", "comparison_figure", "comparison_image",
           "PUBLISHED", "Explorer", "Comparison"]

DETAIL = (("stages", "stage"), ("blocks", "block"), ("layers", "layer"))


class Explorer:
    """The live explorer of one architecture (see :func:`explorer`).

    Attributes: ``controls`` (metaparameter name -> widget), ``summary`` and ``table`` (HTML
    widgets), ``detail`` (stage / block / layer), ``panel`` (the whole box), ``reading`` (the
    current :class:`~mobilecnn.static.Reading`).
    """

    def __init__(self, name: str, fixed: dict | None = None, initial: dict | None = None, *,
                 show_table: bool = True):
        self.name = name
        self.fixed = static.check_fixed(name, fixed or {})
        self.specs = static.controls(name, self.fixed)
        start = {**static.defaults(name, self.fixed), **(initial or {})}
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
        fixed_text = ", ".join(f"{k}={static.value_label(k, v)}" for k, v in self.fixed.items())
        header = w.HTML(f"<style>{static.css()}</style><b>{title}</b> <code>{name}</code>"
                        + (f" ({html.escape(fixed_text)})" if fixed_text else ""))
        rows = [header, w.HBox(list(self.controls.values()), layout=w.Layout(flex_flow="row wrap")),
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
        self.reading = static.read(self.name, self.settings, self.fixed)
        self.summary.value = static.summary_html(self.reading)
        self.table.value = static.table_html(self.reading, self.detail.value)
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
        fixed = {**self.fixed, **{k: v for k, v in current.items() if k in static.STATIC_DEFAULTS}}
        initial = {k: v for k, v in current.items() if k not in fixed}
        return static_explorer(self.name, initial=initial, **fixed)

    def _repr_mimebundle_(self, include=None, exclude=None):
        """The live widget, plus ``text/html`` (the static explorer) for viewers with no kernel."""
        bundle = self.panel._repr_mimebundle_(include=include, exclude=exclude)
        bundle["text/html"] = self.to_static().html()
        return bundle


def _control_widget(control: static.Control, value):
    options = list(zip(control.labels, control.values))
    layout = w.Layout(width="auto")
    style = {"description_width": "initial"}
    if control.kind == "choice":
        cls = w.ToggleButtons if len(options) <= 3 else w.Dropdown
        return cls(options=options, value=value, description=control.name, tooltip=control.doc,
                   style=style, layout=layout)
    return w.SelectionSlider(options=options, value=value, description=control.name,
                             continuous_update=True, style=style, layout=w.Layout(width="22em"))


def explorer(name: str, initial: dict | None = None, **fixed) -> Explorer:
    """A live explorer of ``name``: a control for every metaparameter not given in ``fixed``.

    Numeric metaparameters get a slider over exactly their ``grid`` (rho labelled with the input
    size in pixels), discrete ones buttons or a menu. ``initial`` sets where the controls start.
    Settings the network cannot take show the library's error message in the panel.
    """
    return Explorer(name, fixed, initial)


# ---- comparing architectures ------------------------------------------------------------------

@dataclass(frozen=True)
class Published:
    """A network's cost as its paper (or the stated source) reports it."""

    name: str
    label: str
    metaparams: tuple
    macs: float
    params: float
    source: str


# Published figures, each with its source. "MACs" are multiply-accumulates (the papers' "Mult-Adds"
# and ShuffleNet's "FLOPs"); "params" as the source counts them, which for MobileNet v1 is kernel
# weights only (see the book's introduction on counting conventions).
PUBLISHED = (
    Published("mobilenet_v1", "MobileNet v1 1.0-224", (("alpha", 1.0), ("rho", 1.0)), 569e6, 4.2e6,
              "Howard et al. 2017, Table 8: 569M Mult-Adds, 4.2M parameters"),
    Published("mobilenet_v2", "MobileNet v2 1.0-224", (("alpha", 1.0), ("rho", 1.0)), 300e6, 3.4e6,
              "Sandler et al. 2018, Table 4: 300M MAdds, 3.4M parameters"),
    Published("squeezenet", "SqueezeNet 1.0", (("version", "1.0"),), 819e6, 1.248424e6,
              "Iandola et al. 2016, Table 1: 1,248,424 parameters; the paper gives no MACs, "
              "819M is torchvision's count for its SqueezeNet 1.0 (ceil-mode pooling, hence more "
              "than our floor-mode count)"),
    Published("shufflenet_v1", "ShuffleNet 1x (g=3)", (("groups", 3), ("scale", 1.0)), 137e6, 1.9e6,
              "Zhang et al. 2018, Table 1: 137 MFLOPs (multiply-adds; 140 in Table 2); the paper "
              "gives no parameter count, about 1.9M is what reimplementations report"),
)

# (parameters, MACs) axis limits in millions: they hold every point of every slider grid.
PLOT_LIMITS = ((0.1, 20.0), (0.3, 2000.0))

COLORS = {"mobilenet_v1": "#1f77b4", "mobilenet_v2": "#ff7f0e", "squeezenet": "#2ca02c",
          "shufflenet_v1": "#d62728"}


def comparison_figure(readings=None, published=PUBLISHED):
    """MACs against parameters for the given readings (default: every architecture at defaults).

    ``readings`` are :class:`~mobilecnn.static.Reading` objects (invalid ones are left out).
    Filled dots: this library's counts; open markers: the published figures. Log-log axes, since
    thinning moves networks by factors. Returns a matplotlib ``Figure`` (no pyplot state).
    """
    from matplotlib.figure import Figure
    from matplotlib.ticker import FuncFormatter, NullFormatter

    if readings is None:
        readings = [static.read(n, {}) for n in architectures.ARCHITECTURES]
    fig = Figure(figsize=(6.4, 5.0), layout="constrained")
    ax = fig.add_subplot()
    for ref in published:
        ax.scatter(ref.params / 1e6, ref.macs / 1e6, s=90, facecolors="none", linewidths=1.5,
                   edgecolors=COLORS.get(ref.name, "gray"), marker="s")
        ax.annotate(ref.label, (ref.params / 1e6, ref.macs / 1e6), fontsize=7,
                    xytext=(7, -11), textcoords="offset points", color="dimgray")
    for r in readings:
        if r.profile is None:
            continue
        settings = ", ".join(f"{k}={static.value_label(k, v)}" for k, v in r.settings
                             if k not in static.STATIC_DEFAULTS)
        ax.scatter(r.profile.params / 1e6, r.profile.macs / 1e6, s=45, zorder=3,
                   color=COLORS.get(r.name, "black"),
                   label=(f"{r.name} ({settings}): {r.profile.params / 1e6:.2f}M params, "
                          f"{r.profile.macs / 1e6:.1f}M MACs"))
    ax.set_xscale("log")
    ax.set_yscale("log")
    # Fixed limits that hold every setting of every slider grid, so that points move, not axes.
    ax.set_xlim(*PLOT_LIMITS[0])
    ax.set_ylim(*PLOT_LIMITS[1])
    plain = FuncFormatter(lambda v, _: f"{v:g}")
    for axis in (ax.xaxis, ax.yaxis):
        axis.set_major_formatter(plain)
        axis.set_minor_formatter(NullFormatter())
    ax.set_xlabel("parameters (millions, Keras count)")
    ax.set_ylabel("MACs per image (millions)")
    ax.set_title("This library's counts at the current settings (dots) and the papers' figures "
                 "(squares)", fontsize=8)
    ax.grid(True, which="both", alpha=0.25)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.16), fontsize=7, frameon=False)
    return fig


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

    return Image(data=figure_png(comparison_figure(readings)), format="png")


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
    with none, every architecture at its defaults. The plot marks the papers' published points
    (:data:`PUBLISHED`) next to this library's counts for the current settings.
    """
    if not entries:
        entries = tuple(architectures.ARCHITECTURES)
    pairs = [(e, {}) if isinstance(e, str) else (e[0], dict(e[1])) for e in entries]
    return Comparison(pairs)
