"""Will it fit on a microcontroller? Flash for the int8 model, SRAM for its activations.

A microcontroller keeps the model in flash (read-only, where the program lives too) and
computes in SRAM, which must hold the activations that are alive at the same time. For an int8
model run by TF Lite for Microcontrollers:

* **flash** is the ``.tflite`` file with its names stripped (:func:`mobilecnn.deploy.
  strip_strings`), measured on converted files, or estimated before converting with
  :func:`flash_estimate`: one byte per kernel weight, plus what every output channel carries
  (an int32 bias and the per-channel scales and zero-points), plus a cost per layer (the
  operator, its activation tensor's record and quantization parameters), plus a fixed part; the
  last three are fitted on real files by :func:`fit_flash_model`;
* **SRAM** is the peak activation memory at 8 bits, ``profile(...).peak_activation_bytes(8)``:
  the largest total of activations alive at once (inputs and outputs of a layer, and the
  tensors kept for a later skip connection or concatenation).

Both are lower bounds for a real build: the program, the interpreter (TF Lite Micro's kernels
take some tens of kilobytes of flash), the stack and the input buffers need room too.
:data:`BOARDS` lists typical boards and where their numbers come from; :func:`sweep` runs
:func:`mobilecnn.profile` (pure Python, no framework) over an architecture's grid of widths and
resolutions and says which settings fit a budget.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import architectures
from .profiler import profile

KB = 1024
MB = 1024 * KB


@dataclass(frozen=True)
class Board:
    """A microcontroller board's memory: on-chip SRAM and the flash that holds the program."""

    name: str
    mcu: str
    sram_bytes: int
    flash_bytes: int
    source: str

    @property
    def label(self) -> str:
        return (f"{self.name} ({self.mcu}): {self.sram_bytes // KB} KB SRAM, "
                f"{self.flash_bytes / MB:g} MB flash")


BOARDS = (
    Board("Arduino Nano 33 BLE Sense", "nRF52840", 256 * KB, 1 * MB,
          "Nordic Semiconductor, nRF52840 Product Specification: 1 MB flash, 256 KB RAM"),
    Board("STM32F746G-DISCO", "STM32F746NG", 320 * KB, 1 * MB,
          "STMicroelectronics, STM32F746xx datasheet: 1 MB flash, 320 KB SRAM (including "
          "64 KB DTCM; 4 KB backup SRAM not counted)"),
    Board("ESP32-S3-DevKitC-1-N8", "ESP32-S3", 512 * KB, 8 * MB,
          "Espressif, ESP32-S3 datasheet: 512 KB on-chip SRAM (flash is off-chip: 8 MB in "
          "the ESP32-S3-WROOM-1-N8 module of this kit)"),
)
"""Typical boards for TF Lite Micro, smallest first (figures from the vendors' datasheets)."""

BUDGET = BOARDS[0]
"""The budget the deployment chapter asks about: 256 KB of SRAM and 1 MB of flash."""


# ---- flash --------------------------------------------------------------------------------------

def flash_features(prof) -> dict:
    """What decides an int8 file's size, read from a :class:`mobilecnn.Profile`: the kernel
    weights (one byte each), the output channels of the layers with weights (each gets an int32
    bias and quantization parameters; batch normalization is folded away), and the number of
    layers (each an operator or a fused part of one, with its tensors' records)."""
    weighted = [r for r in prof.layers if r.params > 0 and r.kind != "bn"]
    return {"kernel_weights": prof.kernel_weights,
            "channels": sum(int(r.output_shape[-1]) for r in weighted),
            "layers": len(prof.layers)}


@dataclass(frozen=True)
class FlashModel:
    """``flash = kernel_weights + per_channel * channels + per_layer * layers + fixed`` bytes."""

    per_channel: float
    per_layer: float
    fixed: float

    def __call__(self, prof) -> int:
        f = flash_features(prof)
        return int(round(f["kernel_weights"] + self.per_channel * f["channels"]
                         + self.per_layer * f["layers"] + self.fixed))


def fit_flash_model(profiles, sizes) -> FlashModel:
    """Least-squares fit of :class:`FlashModel`'s three overheads to measured int8 files.

    ``profiles`` are the :class:`mobilecnn.Profile` of each converted model and ``sizes`` its
    stripped file's bytes. The kernel weights are taken at exactly one byte each (that is what
    int8 stores); what is fitted is the rest of the file. Needs at least three files.
    """
    profiles, sizes = list(profiles), np.asarray(sizes, dtype=float)
    if len(profiles) != len(sizes) or len(profiles) < 3:
        raise ValueError(f"need one size per profile and at least 3 of each, got "
                         f"{len(profiles)} profiles and {len(sizes)} sizes")
    features = [flash_features(p) for p in profiles]
    a = np.array([[f["channels"], f["layers"], 1.0] for f in features])
    rest = sizes - np.array([f["kernel_weights"] for f in features])
    (per_channel, per_layer, fixed), *_ = np.linalg.lstsq(a, rest, rcond=None)
    return FlashModel(float(per_channel), float(per_layer), float(fixed))


def flash_estimate(prof, model: FlashModel) -> int:
    """Estimated bytes of the stripped int8 ``.tflite`` file of the network ``prof`` describes."""
    return model(prof)


# ---- the sweep ----------------------------------------------------------------------------------

def grid(name: str) -> list:
    """The settings to try for ``name``: every value of its width metaparameter's slider grid
    (SqueezeNet has none: its default only), crossed with the book's resolutions
    (``RESOLUTIONS``, 32 to 224 pixels) from its smallest workable input up to its paper's, or
    up to the largest its rho allows where that is above the paper's (EffNet's 32 pixels)."""
    arch = architectures.get(name)
    largest = round(arch.base_resolution * _metaparameter(arch, "rho").high)
    widths = ([{arch.width: w} for w in _metaparameter(arch, arch.width).grid]
              if arch.width else [{}])
    settings = []
    for width in widths:
        smallest = architectures.minimum_image_size(name, **width)
        sizes = sorted({s for s in architectures.common.RESOLUTIONS if s >= smallest}
                       | {smallest, arch.base_resolution})
        settings += [{**width, "image_size": s} for s in sizes if s <= largest]
    return settings


def _metaparameter(arch, key: str):
    return next(m for m in arch.metaparameters if m.name == key)


def sweep(name: str, model: FlashModel, budget: Board = BUDGET, num_classes: int = 10,
          settings=None) -> list:
    """One dict per setting of :func:`grid` (or ``settings``): the setting, ``sram`` (peak int8
    activation bytes), ``flash`` (:func:`flash_estimate`), ``macs``, ``params``, and whether it
    fits ``budget``'s SRAM, its flash, and both."""
    rows = []
    for setting in settings if settings is not None else grid(name):
        prof = profile(name, num_classes=num_classes, **setting)
        sram, flash = prof.peak_activation_bytes(8), model(prof)
        rows.append({"architecture": name, **setting, "sram": sram, "flash": flash,
                     "macs": prof.macs, "params": prof.params,
                     "fits_sram": sram <= budget.sram_bytes,
                     "fits_flash": flash <= budget.flash_bytes,
                     "fits": sram <= budget.sram_bytes and flash <= budget.flash_bytes})
    return rows
