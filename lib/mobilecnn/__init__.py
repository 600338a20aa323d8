"""mobilecnn: mobile convolutional networks described once, built in Keras and PyTorch, counted exactly.

``import mobilecnn`` is light: it imports neither TensorFlow nor PyTorch. The framework builders
import their framework when first called.
"""

from __future__ import annotations

from .architectures import ARCHITECTURES, describe, get as architecture, minimum_image_size
from .profiler import Profile, profile

__version__ = "0.1.0"

__all__ = ["list_architectures", "metaparameters", "profile", "describe", "keras_model",
           "torch_model", "copy_keras_to_torch", "Profile", "architecture", "minimum_image_size"]


def list_architectures() -> list:
    """Names accepted by :func:`profile`, :func:`keras_model` and :func:`torch_model`."""
    return list(ARCHITECTURES)


def metaparameters(name: str) -> tuple:
    """The :class:`~mobilecnn.architectures.common.Metaparameter` specs of an architecture."""
    return architecture(name).metaparameters


def keras_model(name: str, **metaparams):
    """A Keras 3 model (channels-last) of ``name``; layer names match :func:`profile`'s rows."""
    from .keras_backend import build

    return build(describe(name, **metaparams), name)


def torch_model(name: str, **metaparams):
    """A ``torch.nn.Module`` (channels-first) of ``name``; module names match :func:`profile`'s rows."""
    from .torch_backend import build

    return build(describe(name, **metaparams), name)


def copy_keras_to_torch(keras_model, torch_model):
    """Copy every weight of a Keras model built here into the PyTorch twin (matched by layer name)."""
    from .torch_backend import copy_from_keras

    return copy_from_keras(keras_model, torch_model)
