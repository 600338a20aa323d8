"""Small numerical experiments that test a paper's claim on this machine (pure NumPy).

:func:`relu_manifold` is the experiment of Figure 1 of the MobileNet v2 paper (Sandler et al.
2018): a two-dimensional spiral is embedded in ``n`` dimensions by a random matrix ``T``, passed
through ReLU, and brought back to two dimensions with the pseudo-inverse ``T^+``. Where ``n`` is
small, ReLU zeroes so many coordinates that the spiral cannot be recovered; where ``n`` is large,
enough coordinates stay positive at every point that ``T^+ ReLU(T x)`` is close to ``x`` again.
The paper's conclusion: a ReLU is safe on a wide tensor and destroys information on a narrow one,
so the narrow tensors of MobileNet v2 (the bottlenecks) get no activation.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


def spiral(points: int = 1000, turns: float = 2.0) -> np.ndarray:
    """``points`` points ``(x, y)`` on an Archimedean spiral of ``turns`` turns, centred on the
    origin (radius from 0 to 1, then shifted by its mean so that the cloud straddles every
    coordinate axis, as the paper's input does)."""
    if not isinstance(points, int) or isinstance(points, bool) or points < 2:
        raise ValueError(f"points must be a whole number >= 2, got {points!r}")
    if not turns > 0:
        raise ValueError(f"turns must be > 0, got {turns!r}")
    angle = np.linspace(0.0, 2 * np.pi * turns, points)
    radius = angle / angle[-1]
    xy = np.stack([radius * np.cos(angle), radius * np.sin(angle)], axis=1)
    return xy - xy.mean(axis=0)


@dataclass(frozen=True)
class Recovery:
    """One run of :func:`relu_manifold`: the spiral after ReLU in ``n`` dimensions and back.

    ``recovered`` has the shape of the input (the paper plots it; for large ``n`` about half of
    the coordinates are zeroed at every point, so it is close to ``x / 2`` rather than ``x``).
    ``invertible`` is the fraction of points at which at least ``d`` coordinates stay positive:
    there (``T`` being random, its rows are in general position) the ReLU keeps ``d``
    independent linear measurements of the point, so the point can be recovered exactly from
    ``ReLU(T x)``. ``collapsed`` is the fraction of points that ReLU sends to zero (every
    coordinate negative): all of them become one point, and nothing can tell them apart again.
    """

    n: int
    seed: int
    recovered: np.ndarray
    invertible: float
    collapsed: float


def relu_manifold(x: np.ndarray, n: int, seed: int = 0) -> Recovery:
    """Embed the points ``x`` (``(N, d)``) in ``n`` dimensions with a random Gaussian matrix
    ``T`` (``n x d``, seeded), apply ReLU, and project back with the pseudo-inverse of ``T``:
    ``T^+ ReLU(T x)``."""
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 2:
        raise ValueError(f"x must be an (N, d) array of points, got shape {x.shape}")
    if not isinstance(n, int) or isinstance(n, bool) or n < 1:
        raise ValueError(f"n must be a whole number of dimensions >= 1, got {n!r}")
    rng = np.random.default_rng(seed)
    t = rng.normal(size=(n, x.shape[1]))
    embedded = np.maximum(x @ t.T, 0.0)
    recovered = embedded @ np.linalg.pinv(t).T
    positive = (embedded > 0).sum(axis=1)
    return Recovery(n, seed, recovered, float((positive >= x.shape[1]).mean()),
                    float((positive == 0).mean()))


def relu_manifold_sweep(dims=(2, 3, 5, 15, 30), seeds=range(20), points: int = 1000) -> dict:
    """``{n: [Recovery for each seed]}``: :func:`relu_manifold` on :func:`spiral` over several
    random embeddings, so that one lucky or unlucky matrix does not decide the picture."""
    x = spiral(points)
    return {n: [relu_manifold(x, n, seed) for seed in seeds] for n in dims}
