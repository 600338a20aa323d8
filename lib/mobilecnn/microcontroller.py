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

Both are lower bounds for a real build. What a board must really hold (:func:`device_need`):

* **flash** = the model + :data:`RUNTIME_FLASH` (TFLM's interpreter and kernels and the board's
  own code, an assumption with the published figures it rests on) + the flash the board
  reserves before the application (:attr:`Board.reserved_flash_bytes`: the Arduino Nano 33
  BLE's bootloader takes the first 64 KB);
* **SRAM** = the tensor arena that TFLM's interpreter measures (:mod:`mobilecnn.tflm`: the
  activations plus what the interpreter keeps per tensor, operator and channel, estimated for a
  32-bit device) + :data:`STACK_SRAM` (stack and runtime RAM, an assumption);
* **latency** = an *estimate*, never a timing: MACs over the board's clock times the
  multiply-accumulates per cycle that optimised int8 kernels reach on its core
  (:attr:`Board.macs_per_cycle`, from published measurements where there are some).

:data:`BOARDS` lists typical boards and where their numbers come from; :func:`sweep` runs
:func:`mobilecnn.profile` (pure Python, no framework) over an architecture's grid of widths and
resolutions and says which settings fit a budget.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from . import architectures
from .profiler import profile


# ---- what the published figures say about a core's speed ----------------------------------------

@dataclass(frozen=True)
class Anchor:
    """A published measurement of an int8 network on a microcontroller: what ran (``architecture``
    and ``setting``, as :func:`mobilecnn.profile` takes them), where (``board``, ``clock_hz``),
    what the publisher measured (``latency_ms``, and its activation RAM, ``activation_bytes``,
    where given) and with which runtime; ``source`` says where it is published."""

    architecture: str
    setting: tuple
    board: str
    core: str
    clock_hz: float
    latency_ms: float
    activation_bytes: int | None
    runtime: str
    source: str

    @property
    def macs(self) -> int:
        return profile(self.architecture, **dict(self.setting)).macs

    @property
    def macs_per_cycle(self) -> float:
        """Multiply-accumulates per clock cycle that the measurement implies."""
        return self.macs / (self.latency_ms / 1000 * self.clock_hz)

    @property
    def analytic_peak_bytes(self) -> int:
        """``profile(...).peak_activation_bytes(8)`` of the same setting, to set beside
        ``activation_bytes``."""
        return profile(self.architecture, **dict(self.setting)).peak_activation_bytes(8)


STM32_MODEL_ZOO = ("STMicroelectronics, stm32ai-modelzoo, image_classification/mobilenetv2/"
                   "README.md, 'Reference MCU memory footprint' and 'Reference MCU inference time' "
                   "tables (MobileNet v2 0.35, ImageNet, int8, STM32Cube.AI 10.0.0)")

ANCHORS = (
    Anchor("mobilenet_v2", (("alpha", 0.35), ("image_size", 128), ("num_classes", 1000)),
           "STM32H747I-DISCO", "Cortex-M7", 400e6, 116.13, round(237.32 * 1024),
           "STM32Cube.AI", STM32_MODEL_ZOO),
    Anchor("mobilenet_v2", (("alpha", 0.35), ("image_size", 224), ("num_classes", 1000)),
           "STM32H747I-DISCO", "Cortex-M7", 400e6, 313.92, round(832.64 * 1024),
           "STM32Cube.AI", STM32_MODEL_ZOO),
)
"""Published int8 measurements on a microcontroller: the STM32 model zoo's MobileNet v2 0.35 at
128 and 224 pixels (116.13 and 313.92 ms on one 400 MHz Cortex-M7 core; 237.32 and 832.64 KiB of
activation RAM, 30.14 and 30.19 KiB of runtime RAM, 108.29 and 108.40 KiB of code flash, all as
measured by ST's own toolchain, not TFLM)."""

CORE_THROUGHPUT = {
    "Cortex-M7": ("measured", "the mean of what ANCHORS imply (about 0.45 MACs per cycle), with "
                  "ST's runtime, not TFLM with CMSIS-NN: a figure of the same kind, not the same "
                  "kernels"),
    "Cortex-M4F": ("assumption", "half the Cortex-M7's rate: both cores have the DSP "
                   "extension's dual 16-bit multiply-accumulate (SMLAD) that CMSIS-NN uses, the "
                   "M7 can issue two instructions per cycle and the M4 one; no published int8 "
                   "figure for a Cortex-M4 was read for this book"),
    "Xtensa LX7": ("assumption", "the Cortex-M7's rate for one core with ESP-NN kernels (it has "
                   "128-bit SIMD instructions); no published figure was read for this book"),
}
"""For each core: whether its int8 throughput is measured (:data:`ANCHORS`) or an assumption,
and why (:func:`macs_per_cycle` gives the number)."""


@functools.cache
def macs_per_cycle(core: str) -> float:
    """Int8 multiply-accumulates per clock cycle assumed for ``core`` (:data:`CORE_THROUGHPUT`
    says where each comes from)."""
    if core not in CORE_THROUGHPUT:
        raise ValueError(f"core must be one of {', '.join(CORE_THROUGHPUT)}, got {core!r}")
    m7 = sum(a.macs_per_cycle for a in ANCHORS if a.core == "Cortex-M7") / sum(
        a.core == "Cortex-M7" for a in ANCHORS)
    return {"Cortex-M7": m7, "Cortex-M4F": m7 / 2, "Xtensa LX7": m7}[core]


KB = 1024
MB = 1024 * KB


@dataclass(frozen=True)
class Board:
    """A microcontroller board: on-chip SRAM, the flash that holds the program, the flash the
    board reserves before the application (bootloader, partition table), its core and clock,
    and the int8 multiply-accumulates per cycle assumed for latency estimates."""

    name: str
    mcu: str
    sram_bytes: int
    flash_bytes: int
    source: str
    core: str = ""
    clock_hz: float = 0.0
    reserved_flash_bytes: int = 0
    reserved_flash_source: str = ""

    @property
    def label(self) -> str:
        return (f"{self.name} ({self.mcu}): {self.sram_bytes // KB} KB SRAM, "
                f"{self.flash_bytes / MB:g} MB flash")

    @property
    def macs_per_cycle(self) -> float:
        """Int8 multiply-accumulates per cycle on this board's core (:func:`macs_per_cycle`)."""
        return macs_per_cycle(self.core)

    @property
    def throughput_source(self) -> str:
        kind, why = CORE_THROUGHPUT[self.core]
        return f"{kind}: {why}"

    def latency_estimate_ms(self, macs: float) -> float:
        """An ESTIMATE of one image's latency on this board: ``macs`` over ``clock_hz`` times
        :attr:`macs_per_cycle`. It ignores everything but multiply-accumulates (memory traffic,
        requantization, operators without MACs, the first call's set-up), so it is a rough
        guide for ranking settings, not a measurement; measure cycles on the device."""
        if not self.clock_hz:
            raise ValueError(f"{self.name} has no clock to estimate a latency from")
        return 1000 * float(macs) / (self.macs_per_cycle * self.clock_hz)


BOARDS = (
    Board("Arduino Nano 33 BLE Sense", "nRF52840", 256 * KB, 1 * MB,
          "Nordic Semiconductor, nRF52840 Product Specification: 1 MB flash, 256 KB RAM, "
          "64 MHz Arm Cortex-M4 with FPU",
          core="Cortex-M4F", clock_hz=64e6, reserved_flash_bytes=64 * KB,
          reserved_flash_source="arduino/ArduinoCore-mbed pull request 146: sketches are "
                                "'uploaded at 0x10000 (as in the standard bootloader and core)'"),
    Board("STM32F746G-DISCO", "STM32F746NG", 320 * KB, 1 * MB,
          "STMicroelectronics, STM32F746xx datasheet: 1 MB flash, 320 KB SRAM (including "
          "64 KB DTCM; 4 KB backup SRAM not counted), Arm Cortex-M7 up to 216 MHz",
          core="Cortex-M7", clock_hz=216e6, reserved_flash_bytes=0,
          reserved_flash_source="none: the STM32's built-in bootloader is in system memory, "
                                "outside the user flash (a bare-metal build, no OS)"),
    Board("ESP32-S3-DevKitC-1-N8", "ESP32-S3", 512 * KB, 8 * MB,
          "Espressif, ESP32-S3 datasheet: 512 KB on-chip SRAM (flash is off-chip: 8 MB in "
          "the ESP32-S3-WROOM-1-N8 module of this kit), Xtensa LX7 cores up to 240 MHz",
          core="Xtensa LX7", clock_hz=240e6, reserved_flash_bytes=64 * KB,
          reserved_flash_source="assumption: the second-stage bootloader and partition table "
                                "below the application (not read from Espressif's documents)"),
)
"""Typical boards for TF Lite Micro, smallest first (figures from the vendors' datasheets)."""

BUDGET = BOARDS[0]
"""The budget the deployment chapter asks about: 256 KB of SRAM and 1 MB of flash."""


# ---- what a build needs beyond the model --------------------------------------------------------

RUNTIME_FLASH = 128 * KB
"""An ASSUMPTION: flash for TFLM's interpreter, the kernels a CNN registers and the board's own
code (drivers, an RTOS such as the Nano 33 BLE's Mbed OS). What it rests on:

* TFLM's README said that "the core runtime fits in 16KB on a Cortex M3, and with enough
  operators to run a speech keyword detection model, takes up a total of 22KB" (quoted in
  tensorflow/tensorflow issue 32345);
* ST's runtime for MobileNet v2 0.35 takes 108.29 KiB of code flash (:data:`STM32_MODEL_ZOO`);
* users report far larger TFLM builds: a 348 KB hello-world binary for a Cortex-M33
  (tensorflow/tensorflow issue 48156) and 0.9 MB with four operators
  (tensorflow/tflite-micro issue 2263), before dead code is removed.

128 KB is ST's figure rounded up, for TFLM with a CNN's handful of kernels (CMSIS-NN's are
larger than the reference ones) plus a small RTOS; link your firmware and read its map file."""

STACK_SRAM = 32 * KB
"""An ASSUMPTION: SRAM for the stack, the runtime's own variables and the OS beside the tensor
arena. ST's runtime reports 30.14 KiB of runtime RAM for MobileNet v2 0.35
(:data:`STM32_MODEL_ZOO`); 32 KB rounds it up."""


def device_need(model_bytes: int, arena_bytes: int, macs: float, board: Board = BUDGET) -> dict:
    """What one int8 model needs of ``board``, in bytes and milliseconds.

    ``model_bytes`` is the ``.tflite`` file a firmware embeds (measured on a trained model where
    there is one: an untrained network's int8 file shares its identical zero biases and is
    smaller), ``arena_bytes`` the tensor arena (:func:`mobilecnn.tflm.arena`,
    ``total_32bit_estimate_bytes`` for a 32-bit board), ``macs`` the network's multiply-
    accumulates. Returns ``flash_bytes`` (model + :data:`RUNTIME_FLASH` + the board's reserved
    flash), ``sram_bytes`` (arena + :data:`STACK_SRAM`), ``latency_ms_estimate``
    (:meth:`Board.latency_estimate_ms`) and whether each fits.
    """
    for what, value in (("model_bytes", model_bytes), ("arena_bytes", arena_bytes),
                        ("macs", macs)):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
            raise ValueError(f"{what} must be a number >= 0, got {value!r}")
    flash = int(model_bytes) + RUNTIME_FLASH + board.reserved_flash_bytes
    sram = int(arena_bytes) + STACK_SRAM
    return {"board": board.name, "flash_bytes": flash, "sram_bytes": sram,
            "latency_ms_estimate": board.latency_estimate_ms(macs),
            "fits_flash": flash <= board.flash_bytes, "fits_sram": sram <= board.sram_bytes,
            "fits": flash <= board.flash_bytes and sram <= board.sram_bytes}


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
    activation bytes), ``flash`` (:func:`flash_estimate`), ``macs``, ``params``, what the board
    needs at least (``flash_need``: the estimated file + :data:`RUNTIME_FLASH` + the board's
    reserved flash; ``sram_need``: the analytic peak + :data:`STACK_SRAM`, a lower bound, since
    TFLM's arena adds its tail and any planner gaps to the peak), ``latency_ms_estimate``
    (:meth:`Board.latency_estimate_ms`, an estimate), and whether those needs fit ``budget``'s
    SRAM, its flash, and both."""
    rows = []
    for setting in settings if settings is not None else grid(name):
        prof = profile(name, num_classes=num_classes, **setting)
        sram, flash = prof.peak_activation_bytes(8), model(prof)
        flash_need = flash + RUNTIME_FLASH + budget.reserved_flash_bytes
        sram_need = sram + STACK_SRAM
        rows.append({"architecture": name, **setting, "sram": sram, "flash": flash,
                     "macs": prof.macs, "params": prof.params,
                     "flash_need": flash_need, "sram_need": sram_need,
                     "latency_ms_estimate": budget.latency_estimate_ms(prof.macs),
                     "fits_sram": sram_need <= budget.sram_bytes,
                     "fits_flash": flash_need <= budget.flash_bytes,
                     "fits": sram_need <= budget.sram_bytes and flash_need <= budget.flash_bytes})
    return rows
