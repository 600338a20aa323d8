"""IGCV1's study of L and M at a fixed parameter budget: the settings, the summary, the finding.

Zhang et al. (2017) vary the primary partitions ``L`` and secondary partitions ``M`` of the IGC
block while keeping the network's parameters roughly constant, and report (the seed, 9.4.1.2
item 5, from the paper's CIFAR-100 figure) that accuracy first rises with ``L`` (wider blocks)
and then slowly falls: wider is better up to a point. ``benchmarks/igcv_study.py`` trains such
a family on Fashion-MNIST; this module holds what the script and the chapter share:

* :func:`equal_budget` -- for each ``L``, the ``M`` whose whole network (the profile of
  ``igcv1``) comes closest to a parameter budget, and how far off it is;
* :func:`summarize` -- per setting the mean test accuracy and its 95% interval over seeds
  (:func:`mobilecnn.stats.mean_interval`), every run checked with
  :func:`mobilecnn.verdicts.did_not_train`, and each pair of neighbouring settings compared
  twice: as training settings paired by seed (:func:`mobilecnn.stats.seed_difference`) and as
  two trained models on the same test images, McNemar (:func:`mobilecnn.stats.verdict`, seed 0);
* :func:`finding` -- the sentence the chapter prints, computed from the summary: whether the
  narrowest and the widest settings are worse than the best one by more than the seeds' noise.

Pure Python over NumPy and the statistics helpers; nothing here trains.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import stats, verdicts
from .profiler import profile

NAME = "igcv1"


def _whole(value, name: str, low: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
        raise ValueError(f"{name} must be a whole number >= {low}, got {value!r}")
    return int(value)


@dataclass(frozen=True)
class Setting:
    """One (L, M) of the study: its width ``L * M`` (stage 1), the profile's parameter count
    and MACs at the study's depth and input size, and ``off`` = params / budget - 1."""

    primary_groups: int
    secondary_groups: int
    width: int
    params: int
    macs: int
    off: float

    @property
    def label(self) -> str:
        return f"L = {self.primary_groups}, M = {self.secondary_groups}"

    def metaparams(self, depth: int) -> dict:
        return dict(primary_groups=self.primary_groups, secondary_groups=self.secondary_groups,
                    depth=depth)


def equal_budget(primary_groups, budget: int, depth: int = 8, image_size: int = 16,
                 num_classes: int = 10, max_secondary: int = 64) -> tuple:
    """For each ``L`` of ``primary_groups``, the ``M`` (1 to ``max_secondary``) whose plain IGCV1
    network of ``depth`` layers has the parameter count closest to ``budget`` (PyTorch's count,
    ``trainable_params``: the weights the optimizer trains). Returns :class:`Setting`\\ s in the
    order given."""
    budget = _whole(budget, "budget")
    _whole(max_secondary, "max_secondary")
    out = []
    for L in primary_groups:
        L = _whole(L, "primary_groups")
        best = None
        for M in range(1, max_secondary + 1):
            p = profile(NAME, primary_groups=L, secondary_groups=M, depth=depth,
                        image_size=image_size, num_classes=num_classes)
            gap = abs(p.trainable_params - budget)
            if best is None or gap < best[0]:
                best = (gap, M, p)
            if p.trainable_params > budget:        # parameters grow with M: no closer M beyond
                break
        _, M, p = best
        out.append(Setting(L, M, L * M, p.trainable_params, p.macs,
                           p.trainable_params / budget - 1))
    return tuple(out)


def _key(run: dict) -> tuple:
    m = run["metaparams"]
    return m["primary_groups"], m["secondary_groups"]


def _correct(run: dict, y_test) -> np.ndarray:
    return stats.correct(np.array([int(c) for c in run["predictions"]]), y_test)


def summarize(runs: list, y_test, classes: int = 10) -> dict:
    """The study's summary from its runs (each with ``metaparams``, ``seed``, ``test_accuracy``,
    ``test_loss``, ``predictions``): ``rows`` in order of increasing ``L`` and ``neighbours``,
    one entry per pair of consecutive rows."""
    if not runs:
        raise ValueError("runs must hold at least one run")
    y_test = np.asarray(y_test)
    settings = sorted({_key(r) for r in runs})
    rows, neighbours = [], []
    by = {k: sorted((r for r in runs if _key(r) == k), key=lambda r: r["seed"]) for k in settings}
    for (L, M) in settings:
        group = by[L, M]
        accuracies = [r["test_accuracy"] for r in group]
        untrained = [r["seed"] for r in group if verdicts.did_not_train(r["test_loss"], classes)]
        row = {"primary_groups": L, "secondary_groups": M, "label": f"L = {L}, M = {M}",
               "width": L * M, "params": group[0]["params"], "macs": group[0]["macs"],
               "seeds": [r["seed"] for r in group], "test_accuracies": accuracies,
               "test_losses": [r["test_loss"] for r in group], "did_not_train": untrained}
        if len(group) >= 2:
            interval = stats.mean_interval(accuracies)
            row.update(mean=interval.mean, low=interval.low, high=interval.high,
                       half=interval.half, text=interval.text())
        else:
            row.update(mean=float(accuracies[0]), low=None, high=None, half=None,
                       text=f"{100 * accuracies[0]:.1f} (one seed: no interval)")
        rows.append(row)
    for a, b in zip(settings, settings[1:]):
        ra, rb = by[a], by[b]
        name_a, name_b = f"L = {a[0]}, M = {a[1]}", f"L = {b[0]}, M = {b[1]}"
        entry = {"a": name_a, "b": name_b}
        seeds = sorted({r["seed"] for r in ra} & {r["seed"] for r in rb})
        acc_a = {r["seed"]: r["test_accuracy"] for r in ra}
        acc_b = {r["seed"]: r["test_accuracy"] for r in rb}
        if len(seeds) >= 2:
            d = stats.seed_difference([acc_a[s] for s in seeds], [acc_b[s] for s in seeds],
                                      name_a, name_b)
            entry["by_seed"] = {"seeds": seeds, "differences": list(d.differences),
                                "mean": d.interval.mean, "low": d.interval.low,
                                "high": d.interval.high, "significant": d.significant,
                                "better": d.better, "sentence": d.sentence}
        first = seeds[0] if seeds else None
        if first is not None:
            ma = next(r for r in ra if r["seed"] == first)
            mb = next(r for r in rb if r["seed"] == first)
            v = stats.verdict(_correct(ma, y_test), _correct(mb, y_test),
                              f"{name_a} (seed {first})", f"{name_b} (seed {first})")
            entry["models"] = {"seed": first, "difference": v.difference, "low": v.low,
                               "high": v.high, "p": v.p, "significant": v.significant,
                               "better": v.better, "sentence": v.sentence}
        neighbours.append(entry)
    return {"rows": rows, "neighbours": neighbours}


@dataclass(frozen=True)
class Finding:
    """What the study says about "wider is better up to a point": ``best`` (a row label),
    ``rises`` (the narrowest setting trains worse networks than the best, by seed), ``falls``
    (the widest does), ``untrained`` (labels of settings with a run that did not train) and the
    ``sentence``."""

    best: str | None
    rises: bool
    falls: bool
    untrained: tuple
    sentence: str


def finding(summary: dict) -> Finding:
    """The verdict on the claim, from :func:`summarize`'s output.

    The best setting is the one with the highest mean. The claim holds when the best setting
    lies strictly inside the range of widths, the narrowest setting is worse than it, and the
    widest is worse than it, each by :func:`mobilecnn.stats.seed_difference` over the shared
    seeds (a paired t interval that excludes zero). Settings with a run that did not train
    (:func:`mobilecnn.verdicts.did_not_train`) are named and left out of the comparison."""
    rows = summary["rows"]
    untrained = tuple(r["label"] for r in rows if r["did_not_train"])
    live = [r for r in rows if not r["did_not_train"]]
    if not rows:
        raise ValueError("summary must hold at least one setting")
    if len(live) < 2:
        return Finding(live[0]["label"] if live else None, False, False, untrained,
                       f"No verdict: {len(live)} of the {len(rows)} settings trained (the "
                       "others ended with a test loss near ln 10: "
                       + ", ".join(untrained) + "), and a comparison needs two.")
    best = max(live, key=lambda r: r["mean"])

    def worse(row) -> stats.SeedDifference | None:
        if row is best:
            return None
        seeds = sorted(set(row["seeds"]) & set(best["seeds"]))
        if len(seeds) < 2:
            return None
        acc = dict(zip(row["seeds"], row["test_accuracies"]))
        top = dict(zip(best["seeds"], best["test_accuracies"]))
        return stats.seed_difference([acc[s] for s in seeds], [top[s] for s in seeds],
                                     row["label"], best["label"])

    low, high = worse(live[0]), worse(live[-1])
    rises = bool(low and low.significant and low.better == best["label"])
    falls = bool(high and high.significant and high.better == best["label"])
    head = (f"The best setting was {best['label']} (width {best['width']}, "
            f"{best['text']}% over {len(best['seeds'])} seeds)")
    parts = []
    if best is live[0]:
        parts.append("the narrowest setting was the best, the opposite of the claim")
    elif rises:
        parts.append(f"the narrowest setting trained worse networks ({low.sentence})")
    else:
        parts.append(f"against the narrowest setting, {low.sentence}" if low else
                     "the narrowest setting has too few shared seeds to compare")
    if best is live[-1]:
        parts.append("the widest setting was the best, so no decline was seen")
    elif falls:
        parts.append(f"the widest setting trained worse networks too ({high.sentence})")
    else:
        parts.append(f"against the widest setting, {high.sentence}" if high else
                     "the widest setting has too few shared seeds to compare")
    if rises and falls:
        verdict = ("wider was better up to a point, as the paper reports")
    elif rises:
        verdict = ("wider was better, but a decline beyond the best width is not one we can "
                   "detect")
    elif falls:
        verdict = ("the widest setting was worse than the best, but the narrowest was not "
                   "detectably worse: only half of the claim shows")
    else:
        verdict = "no difference we can detect between the extremes and the best setting"
    sentence = f"{head}; {parts[0]}; {parts[1]}. In short: {verdict}."
    if untrained:
        sentence += (" Did not train (test loss near ln 10, left out): "
                     + ", ".join(untrained) + ".")
    return Finding(best["label"], rises, falls, untrained, sentence)
