"""The registry of architectures: name -> description, metaparameters and their checks."""

from __future__ import annotations

from ..graph import Net, ShapeError
from .common import BASE_RESOLUTION, MIN_RESOLUTION, Architecture, Metaparameter
from . import mobilenet_v1, mobilenet_v2, shufflenet_v1, squeezenet

ARCHITECTURES = {
    a.name: a for a in (mobilenet_v1.ARCHITECTURE, mobilenet_v2.ARCHITECTURE,
                        squeezenet.ARCHITECTURE, shufflenet_v1.ARCHITECTURE)
}


def get(name: str) -> Architecture:
    if name not in ARCHITECTURES:
        raise ValueError(f"unknown architecture {name!r}; name must be one of "
                         + ", ".join(repr(n) for n in ARCHITECTURES))
    return ARCHITECTURES[name]


def resolve(name: str, metaparams: dict) -> tuple:
    """Check ``metaparams`` against the architecture and fill in defaults.

    ``image_size`` (pixels) may be given instead of ``rho``; it sets ``rho = image_size / 224``.
    Returns ``(architecture, values, image_size)``; raises ``ValueError`` naming the parameter.
    """
    arch = get(name)
    metaparams = dict(metaparams)
    if "image_size" in metaparams:
        size = metaparams.pop("image_size")
        if "rho" in metaparams:
            raise ValueError("give rho or image_size, not both")
        if isinstance(size, bool) or not isinstance(size, int):
            raise ValueError(f"image_size must be a whole number of pixels, got {size!r}")
        metaparams["rho"] = size / BASE_RESOLUTION
    known = {m.name for m in arch.metaparameters}
    unknown = set(metaparams) - known
    if unknown:
        raise ValueError(f"{name} has no metaparameter {sorted(unknown)[0]!r}; its metaparameters "
                         f"are {', '.join(sorted(known | {'image_size'}))}")
    values = {m.name: m.check(metaparams.get(m.name, m.default)) for m in arch.metaparameters}
    image_size = int(round(BASE_RESOLUTION * values["rho"]))
    if image_size < MIN_RESOLUTION:
        raise ValueError(f"rho={values['rho']:g} gives a {image_size}-pixel input; rho must be at "
                         f"least {MIN_RESOLUTION / BASE_RESOLUTION:.4f} (a {MIN_RESOLUTION}-pixel "
                         f"input) and at most 1")
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
                         f"{name} ({err}); rho must be at least {smallest / BASE_RESOLUTION:.4f} "
                         f"(a {smallest}-pixel input)") from None
    return net


def minimum_image_size(name: str, **args) -> int:
    """The smallest square input that every layer of the architecture can process."""
    arch = get(name)
    for size in range(MIN_RESOLUTION, BASE_RESOLUTION + 1):
        try:
            arch.describe(Net((size, size, 3)), **args)
            return size
        except ShapeError:
            continue
    raise ValueError(f"{name} cannot process any input up to {BASE_RESOLUTION} pixels")
