"""The registry of architectures: name -> description, metaparameters, facts and their checks.

Every module of this package that defines ``ARCHITECTURE`` (an
:class:`~mobilecnn.architectures.common.Architecture`), or a tuple ``ARCHITECTURES`` of them, is
an architecture of the book: adding one is adding one file. The registry, the explorers, the
plots and the tests read it from here.
"""

from __future__ import annotations

import importlib
import pkgutil

from ..graph import Net, ShapeError
from .common import Architecture, Figure, Metaparameter  # noqa: F401  (re-exported)


def _discover() -> dict:
    found = []
    for info in pkgutil.iter_modules(__path__):
        module = importlib.import_module(f"{__name__}.{info.name}")
        # one ARCHITECTURE per module, or several as a tuple ARCHITECTURES (MobileNet v3's two)
        archs = getattr(module, "ARCHITECTURES", ()) + (getattr(module, "ARCHITECTURE", None),)
        found.extend(a for a in archs if isinstance(a, Architecture))
    found.sort(key=lambda a: (a.order, a.name))
    return {a.name: a for a in found}


ARCHITECTURES = _discover()


def get(name: str) -> Architecture:
    if name not in ARCHITECTURES:
        raise ValueError(f"unknown architecture {name!r}; name must be one of "
                         + ", ".join(repr(n) for n in ARCHITECTURES))
    return ARCHITECTURES[name]


def resolve(name: str, metaparams: dict) -> tuple:
    """Check ``metaparams`` against the architecture and fill in defaults.

    ``image_size`` (pixels) may be given instead of ``rho``; it sets
    ``rho = image_size / base_resolution`` (224 for most architectures).
    Returns ``(architecture, values, image_size)``; raises ``ValueError`` naming the parameter.
    """
    arch = get(name)
    base = arch.base_resolution
    metaparams = dict(metaparams)
    if "image_size" in metaparams:
        size = metaparams.pop("image_size")
        if "rho" in metaparams:
            raise ValueError("give rho or image_size, not both")
        if isinstance(size, bool) or not isinstance(size, int):
            raise ValueError(f"image_size must be a whole number of pixels, got {size!r}")
        metaparams["rho"] = size / base
    known = {m.name for m in arch.metaparameters}
    unknown = set(metaparams) - known
    if unknown:
        raise ValueError(f"{name} has no metaparameter {sorted(unknown)[0]!r}; its metaparameters "
                         f"are {', '.join(sorted(known | {'image_size'}))}")
    values = {m.name: m.check(metaparams.get(m.name, m.default)) for m in arch.metaparameters}
    image_size = int(round(base * values["rho"]))
    if image_size < arch.min_resolution:
        rho = next(m for m in arch.metaparameters if m.name == "rho")
        raise ValueError(f"rho={values['rho']:g} gives a {image_size}-pixel input; rho must be at "
                         f"least {arch.min_resolution / base:.4f} (a {arch.min_resolution}-pixel "
                         f"input) and at most {rho.high:g}")
    return arch, values, image_size


def describe(name: str, **metaparams) -> Net:
    """Build the :class:`~mobilecnn.graph.Net` for an architecture and its metaparameters."""
    arch, values, image_size = resolve(name, metaparams)
    net = Net((image_size, image_size, 3))
    args = {k: v for k, v in values.items() if k != "rho"}
    try:
        arch.describe(net, **args)
    except ShapeError as err:
        smallest = minimum_image_size(name, **args)
        raise ValueError(f"rho={values['rho']:g} gives a {image_size}-pixel input, too small for "
                         f"{name} ({err}); rho must be at least "
                         f"{smallest / arch.base_resolution:.4f} (a {smallest}-pixel input)") from None
    return net


def minimum_image_size(name: str, **args) -> int:
    """The smallest square input that every layer of the architecture can process.

    ``args`` are metaparameters (``rho`` excluded); the ones not given take their defaults."""
    arch = get(name)
    if "rho" in args or "image_size" in args:
        raise ValueError("minimum_image_size finds the input size: give neither rho nor image_size")
    args = {k: v for k, v in resolve(name, args)[1].items() if k != "rho"}
    for size in range(arch.min_resolution, arch.base_resolution + 1):
        try:
            arch.describe(Net((size, size, 3)), **args)
            return size
        except ShapeError:
            continue
    raise ValueError(f"{name} cannot process any input up to {arch.base_resolution} pixels")
