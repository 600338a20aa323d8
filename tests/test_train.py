"""mobilecnn.train: the recipe, determinism, smoke mode, saving and loading, the model cache.

Runs are short (one or two epochs on a subset of digits) with a thin MobileNet (alpha 0.25);
Keras' first training step traces the graph (~10-20 s per model), so the Keras tests share two
runs and are marked slow.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

import mobilecnn
from mobilecnn import data, train

TINY = dict(name="mobilenet_v1", image_size=32, alpha=0.25)
SHORT = dict(epochs=2, subset=128)


@pytest.fixture(autouse=True)
def full_mode(monkeypatch, tmp_path):
    """Full mode unless a test asks for smoke mode; a private model cache per test."""
    monkeypatch.delenv("MOBILECNN_SMOKE", raising=False)
    monkeypatch.delenv("MOBILECNN_DATASET", raising=False)
    monkeypatch.setenv("MOBILECNN_CACHE", str(tmp_path / "cache"))


def _fit(framework, seed=0, **kw):
    args = {**TINY, **SHORT, **kw}
    return train.fit(args.pop("name"), framework, seed=seed, verbose=False, **args)


def _labels(model, x):
    return train.predict(model, x).argmax(axis=1)


# ---- the recipe, without training ------------------------------------------------------------

def test_learning_rate_schedule():
    r = train.RECIPE
    steps, total = 23, 23 * 20
    lrs = [r.lr(s, total, steps) for s in range(total)]
    # the schedule's formula in float64 (approx: relative 1e-6)
    assert lrs[0] == pytest.approx(r.learning_rate / steps)           # warm-up starts near zero
    assert max(lrs) == pytest.approx(r.learning_rate)                  # peak after one epoch
    assert np.argmax(lrs) == steps - 1
    assert lrs[-1] < 1e-3 * r.learning_rate                            # cosine ends near zero
    assert all(a >= b for a, b in zip(lrs[steps:], lrs[steps + 1:]))   # decreasing after the peak
    assert r.lr(steps - 1, total, steps, batchnorm=False) == r.learning_rate_without_batchnorm


def test_batchnorm_decides_initialization():
    assert train.has_batchnorm("mobilenet_v1", alpha=0.5)
    assert not train.has_batchnorm("squeezenet", image_size=48)
    assert train.RECIPE.initialization(True) == "glorot"
    assert train.RECIPE.initialization(False) == "he"


def test_fan_in_both_layouts():
    assert train.fan_in((3, 3, 16, 32), "hwio") == train.fan_in((32, 16, 3, 3), "oihw") == 144
    assert train.fan_in((3, 3, 16, 1), "hwio", depthwise=True) == 9
    assert train.fan_in((16, 1, 3, 3), "oihw", depthwise=True) == 9
    assert train.fan_in((64, 10), "hwio") == train.fan_in((10, 64), "oihw") == 64


def test_shift_images_moves_pixels_within_bounds():
    rng = np.random.default_rng(0)
    x = np.zeros((50, 12, 12, 3), np.float32)
    x[:, 5:7, 5:7, :] = 1.0                        # a blob away from the border
    out = train.shift_images(x, 2, np.random.default_rng(1))
    assert out.shape == x.shape
    np.testing.assert_array_equal(out.sum(axis=(1, 2, 3)), x.sum(axis=(1, 2, 3)))  # nothing lost
    rows = [np.flatnonzero(o[..., 0].any(axis=1))[0] for o in out]
    assert set(rows) == {3, 4, 5, 6, 7}             # every shift in [-2, 2] occurs
    again = train.shift_images(x, 2, np.random.default_rng(1))
    np.testing.assert_array_equal(out, again)
    assert train.shift_images(x, 0, rng) is x


def test_batches_cover_the_data_once_per_epoch():
    (x, y), _ = data.load("digits", image_size=16)
    seen = [yb for _, yb in train.batches(x, y, train.RECIPE, np.random.default_rng(0))]
    assert [len(b) for b in seen[:-1]] == [train.RECIPE.batch_size] * (len(seen) - 1)
    np.testing.assert_array_equal(np.sort(np.concatenate(seen)), np.sort(y))


def test_stratified_subset():
    _, y = data.load("digits")[0]
    keep = train._stratified_subset(y, 100, seed=3)
    assert len(keep) == 100 and len(set(keep)) == 100
    assert np.bincount(y[keep]).min() >= 9 and np.bincount(y[keep]).max() <= 11
    np.testing.assert_array_equal(keep, train._stratified_subset(y, 100, seed=3))


@pytest.mark.parametrize("kwargs, match", [
    (dict(framework="jax"), "framework must be"),
    (dict(epochs=0), "epochs must be"),
    (dict(seed=-1), "seed must be"),
    (dict(subset=0), "subset must be"),
    (dict(dataset="mnist"), "dataset name must be one of"),
    (dict(rho=0.5), "give image_size"),
    (dict(alpha=3.0), "alpha"),
    (dict(name="resnet"), "unknown architecture"),
])
def test_fit_rejects_bad_arguments(kwargs, match):
    args = {"name": "mobilenet_v1", "framework": "torch", **kwargs}
    with pytest.raises(ValueError, match=match):
        train.fit(args.pop("name"), **args)


def test_squeezenet_at_32_pixels_is_refused_with_the_smallest_size():
    with pytest.raises(ValueError, match=r"too small for squeezenet.*35-pixel"):
        train.fit("squeezenet", "torch", image_size=32)


# ---- PyTorch runs ----------------------------------------------------------------------------

def test_torch_result_and_determinism():
    a = _fit("torch")
    b = _fit("torch")
    c = _fit("torch", seed=1)
    assert a.history == b.history                      # bit for bit, run after run
    assert a.history != c.history                      # and the seed matters
    cost = mobilecnn.profile("mobilenet_v1", image_size=32, alpha=0.25, num_classes=10)
    assert (a.params, a.macs) == (cost.params, cost.macs)
    assert a.metaparams["num_classes"] == 10 and a.epochs == 2 and not a.smoke
    assert set(a.history) == {"loss", "accuracy", "test_loss", "test_accuracy"}
    assert all(len(v) == 2 for v in a.history.values())
    assert a.test_accuracy == a.history["test_accuracy"][-1]
    assert "test accuracy" in repr(a) and "smoke" not in repr(a)


def test_torch_batchnorm_momentum_and_initialization():
    import torch

    result = _fit("torch", epochs=1, subset=64)
    bns = [m for m in result.model.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    assert bns and all(m.momentum == pytest.approx(1 - train.RECIPE.bn_momentum) for m in bns)


def test_torch_save_load_round_trip(tmp_path):
    result = _fit("torch", epochs=1)
    (_, _), (x_test, _) = data.load("digits", image_size=32)
    path = train.save(result, tmp_path / "model")
    assert path.suffix == ".pt"
    loaded = train.load(path)
    np.testing.assert_array_equal(_labels(loaded, x_test), _labels(result, x_test))
    np.testing.assert_allclose(train.predict(loaded, x_test), train.predict(result, x_test),
                               atol=1e-6)
    train.save(loaded, tmp_path / "again.pt")      # a loaded model keeps its metaparameters
    with pytest.raises(ValueError, match="must end in '.pt'"):
        train.save(result, tmp_path / "model.keras")
    bare = mobilecnn.torch_model("mobilenet_v1", alpha=0.25, image_size=32)
    with pytest.raises(ValueError, match="metaparams"):
        train.save(bare, tmp_path / "bare.pt")


def test_smoke_mode_is_labelled(monkeypatch):
    monkeypatch.setenv("MOBILECNN_SMOKE", "1")
    result = train.fit("mobilenet_v1", "torch", image_size=32, alpha=0.25, verbose=False)
    assert result.smoke and result.epochs == train.RECIPE.smoke_epochs
    assert result.subset == train.RECIPE.smoke_subset
    text = repr(result)
    assert "smoke run, not a result" in text and "%" not in text
    assert result.summary() == text


def test_fit_or_load_hits_the_cache(tmp_path, monkeypatch):
    args = dict(image_size=32, alpha=0.25, epochs=1, subset=64, verbose=False)
    first = train.fit_or_load("mobilenet_v1", "torch", **args)
    second = train.fit_or_load("mobilenet_v1", "torch", **args)
    assert not first.cached and second.cached
    assert second.history == first.history and second.seconds == first.seconds
    (_, _), (x_test, _) = data.load("digits", image_size=32)
    np.testing.assert_array_equal(_labels(second, x_test), _labels(first, x_test))
    files = sorted(p.name for p in train.cache_dir().iterdir())
    assert len(files) == 2 and files[0].endswith(".json") and files[1].endswith(".pt")
    # Other arguments, or smoke mode, are other keys: nothing is reused.
    other_seed = train.fit_or_load("mobilenet_v1", "torch", seed=1, **args)
    assert not other_seed.cached
    monkeypatch.setenv("MOBILECNN_SMOKE", "1")
    smoke = train.fit_or_load("mobilenet_v1", "torch", **args)
    assert smoke.smoke and not smoke.cached
    assert len(list(train.cache_dir().glob("*.json"))) == 3


def _key(**kw):
    args = dict(name="mobilenet_v1", framework="torch", dataset=None, image_size=32, epochs=None,
                seed=0, subset=None, recipe=None, metaparams={"alpha": 0.5})
    for k in list(kw):
        if k in args:
            args[k] = kw.pop(k)
    args["metaparams"] = {**args["metaparams"], **kw}
    return train.resolve_run(**args).key()


def test_cache_key_names_one_model_per_setting():
    """Two chapters asking for the same model in other words share it; anything that changes
    the weights is another model."""
    base = _key()
    r = train.RECIPE
    for same in (dict(epochs=r.epochs), dict(dataset="digits"), dict(num_classes=10),
                 dict(alpha=1 / 2), dict(dropout=0.001), dict(recipe=r),
                 dict(recipe=dataclasses.replace(r, smoke_epochs=3, smoke_subset=99)),
                 dict(recipe=dataclasses.replace(r, epochs=r.epochs + 1), epochs=r.epochs)):
        assert _key(**same) == base, same
    others = [_key(**other) for other in (
        dict(framework="keras"), dict(seed=1), dict(epochs=r.epochs + 1), dict(subset=500),
        dict(image_size=40), dict(alpha=0.75), dict(dropout=0.2), dict(num_classes=5),
        dict(recipe=dataclasses.replace(r, learning_rate=5e-3)),
        dict(recipe=dataclasses.replace(r, batch_size=32)))]
    assert len({base, *others}) == len(others) + 1


def test_cache_is_shared_across_spellings(monkeypatch):
    recipe = dataclasses.replace(train.RECIPE, epochs=1)
    first = train.fit_or_load("mobilenet_v1", "torch", image_size=32, alpha=0.25, subset=64,
                              recipe=recipe, verbose=False)
    # Another chapter: the epochs, dataset and class count spelled out, another smoke setting.
    other = dataclasses.replace(recipe, smoke_epochs=2)
    again = train.fit_or_load("mobilenet_v1", framework="torch", dataset="digits", image_size=32,
                              epochs=1, subset=64, recipe=other, alpha=0.25, num_classes=10,
                              verbose=False)
    assert not first.cached and again.cached and again.key == first.key
    assert again.history == first.history
    # fit gives its result the same key (the TF Lite cache starts from it).
    assert first.key == _key(alpha=0.25, subset=64, recipe=recipe)
    # No temporary file is left next to the model and its record.
    assert sorted(p.suffix for p in train.cache_dir().iterdir()) == [".json", ".pt"]


def test_torch_model_comes_back_contiguous():
    """fit trains channels-last; the module it returns is in PyTorch's ordinary layout."""
    import torch

    result = _fit("torch", epochs=1, subset=64)
    kernels = [p for p in result.model.parameters() if p.dim() == 4]
    assert kernels and all(p.is_contiguous() for p in kernels)
    assert not result.model.training
    assert not torch.are_deterministic_algorithms_enabled()   # fit leaves the global flag alone


def test_cache_dir_default(monkeypatch, root):
    monkeypatch.delenv("MOBILECNN_CACHE")
    assert train.cache_dir() == root / ".mobilecnn_cache"


# ---- Keras runs (tracing the training step takes ~10-20 s per model, more on a busy CPU) ------

@pytest.fixture(scope="module")
def keras_runs(tmp_path_factory):
    """Two identical short Keras runs (seed 0), in full mode whatever the environment says
    (a module-scoped fixture runs before the function-scoped ``full_mode``)."""
    with pytest.MonkeyPatch.context() as mp:
        mp.delenv("MOBILECNN_SMOKE", raising=False)
        mp.delenv("MOBILECNN_DATASET", raising=False)
        mp.setenv("MOBILECNN_CACHE", str(tmp_path_factory.mktemp("cache")))
        return _fit("keras"), _fit("keras")


@pytest.mark.slow
def test_keras_determinism(keras_runs):
    a, b = keras_runs
    assert a.history == b.history
    assert a.framework == "keras" and not a.smoke and a.metaparams["num_classes"] == 10
    import keras

    bns = [l for l in a.model.layers if isinstance(l, keras.layers.BatchNormalization)]
    assert bns and all(l.momentum == train.RECIPE.bn_momentum for l in bns)


@pytest.mark.slow
def test_keras_save_load_round_trip(keras_runs, tmp_path):
    result = keras_runs[0]
    (_, _), (x_test, _) = data.load("digits", image_size=32)
    path = train.save(result, tmp_path / "model")
    assert path.suffix == ".keras"
    loaded = train.load(path)
    np.testing.assert_array_equal(_labels(loaded, x_test), _labels(result, x_test))
    with pytest.raises(ValueError, match="must end in '.keras'"):
        train.save(result, tmp_path / "model.pt")


def test_load_rejects_unknown_files(tmp_path):
    with pytest.raises(FileNotFoundError):
        train.load(tmp_path / "missing.keras")
    (tmp_path / "model.h5").write_bytes(b"")
    with pytest.raises(ValueError, match="must end in"):
        train.load(tmp_path / "model.h5")
