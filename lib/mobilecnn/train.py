"""Training the book's networks on small data, one recipe for Keras and PyTorch.

``import mobilecnn.train`` is light as well: TensorFlow or PyTorch is imported by the function
that needs it.

:func:`fit` trains one architecture in one framework and returns a :class:`TrainResult`;
:func:`fit_or_load` does the same but first looks for a model trained with exactly the same
arguments in the cache directory (:func:`cache_dir`), so the book never trains a model twice;
:func:`save` and :func:`load` store a model in its framework's own format; :func:`predict` gives
class probabilities for channels-last images in either framework.

The recipe (:class:`Recipe`, :data:`RECIPE`) is shared by both frameworks, down to the batches:
the shuffling and the augmentation are done in NumPy with one seeded generator, so a Keras run and
a PyTorch run with the same seed see the same images in the same order with the same shifts. See
:class:`Recipe` for the choices and why they were made.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import time
from dataclasses import asdict, dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from . import architectures, book, data
from .profiler import profile

FRAMEWORKS = ("keras", "torch")
SUFFIX = {"keras": ".keras", "torch": ".pt"}
TORCH_FORMAT = "mobilecnn-torch-1"
EVAL_BATCH = 512
"""Images per forward pass when :func:`fit` measures the test set after each epoch."""


@dataclass(frozen=True)
class Recipe:
    """Training hyperparameters (kept apart from an architecture's metaparameters).

    The networks were designed for ImageNet: a million images, thousands of steps per epoch.
    Here they meet 1,437 images, 23 steps of 64 per epoch, which changes several defaults:

    * ``bn_momentum=0.9`` (Keras convention: the weight of the old running average; PyTorch's
      ``momentum`` is ``1 - 0.9 = 0.1``). The architectures keep Keras' default of 0.99, whose
      running averages need a few hundred steps to forget their initial values; after a few
      short epochs they still describe the untrained network, and test accuracy (which uses the
      running averages) collapses while training accuracy looks fine. 0.9 forgets within ~20 steps.
    * ``optimizer``: AdamW (Adam with decoupled weight decay, the same update in Keras and
      PyTorch: ``w -= lr * weight_decay * w``), ``weight_decay`` 5e-4, ``epsilon`` 1e-7 (Keras'
      default, set explicitly in PyTorch too). Adam adapts each weight's step, so one rate suits
      quite different networks (but see the exception below).
    * ``learning_rate`` 1e-2 at its peak: with only ~350 steps in all, the smaller rates usual for
      Adam (1e-3) leave MobileNet v1 at 40-80% after six epochs. The rate rises linearly from zero
      over ``warmup_epochs`` (one epoch), then follows a cosine down to zero at the last step.
    * ``shift``: each training image moves by up to ``shift`` of its side (1/16: 2 pixels at 32
      pixels) in each direction, filled with zeros; light augmentation for 1,437 images.
    * ``epochs`` 15: enough for every network here to pass 95% test accuracy on digits (at 12,
      MobileNet v2 sometimes stops just short of it), and for MobileNet v1 (alpha 0.5, 32 pixels)
      to pass 97% in both frameworks. Fewer epochs were measured for the book's time budget and
      fall short of that: at 12, 96.9% in Keras and 96.9% in PyTorch (seed 0); at 10, 96.9% and
      96.1-97.5% (seeds 0-2); at 8, 94.7-96.7% in PyTorch.
    * ``batch_size`` 64: 128 made an epoch no faster in Keras (one thread) and 19% faster in
      PyTorch, for half the optimizer steps; 32 made both 40-60% slower.
    * Initialization: Keras' default, Glorot-uniform kernels and zero biases, in both frameworks
      (PyTorch's own default differs, so :func:`fit` re-initializes its modules the Keras way).

    One exception, decided by the network's structure, not its name: a network **without batch
    normalization** (SqueezeNet) has nothing that re-normalizes its activations. Glorot's
    initialization halves their variance at each ReLU, so 18 convolutions deep the logits are ~0
    and nothing trains; it gets He-uniform kernels instead (He et al. 2015, bound
    ``sqrt(6 / fan_in)``), which keep the variance constant. Its class scores also come out of a
    ReLU (conv10), and that ReLU has a trap: when every class map is negative on every image,
    every logit is 0, the loss is exactly ``ln 10`` and no gradient reaches any weight, so training
    stops for good at 10% accuracy (the "loss stuck at 6.9", ``ln 1000``, that ImageNet users of
    SqueezeNet report). He-initialized class maps start with random scores of about unit size,
    confidently wrong, so the loss starts above ``ln 10`` and the fastest way down is to shrink
    every score toward 0: within a few steps, at any learning rate from 1e-4 to 1e-2 and with SGD
    as with Adam, 11 of 21 runs of the design-space sweep fell into the trap. Two changes keep
    it out:

    * the **class-score layer starts at zero kernels and a positive bias**
      (``class_score_bias`` = 1): every logit starts equal and positive, the loss starts at
      ``ln 10`` with nothing to gain by shrinking, the ReLU passes every gradient, and the kernel
      learns from the first step (the bias gets no push on balanced batches);
    * a **lower peak learning rate**, ``learning_rate_without_batchnorm`` = 3e-4: at 1e-3 a run
      that had reached 37% could still collapse in its second epoch (complex bypass, seed 0).

    Measured on the 21 runs of ``benchmarks/squeezenet_design_space.py`` (SqueezeNet 1.1, 32
    pixels, 15 epochs, PyTorch, seeds 0-2): none stays at chance; the lowest ends at 89%.
    """

    batch_size: int = 64
    learning_rate: float = 1e-2
    learning_rate_without_batchnorm: float = 3e-4
    class_score_bias: float = 1.0
    weight_decay: float = 5e-4
    epsilon: float = 1e-7
    warmup_epochs: float = 1.0
    bn_momentum: float = 0.9
    shift: float = 1 / 16
    epochs: int = 15
    smoke_epochs: int = 1
    smoke_subset: int = 256

    def peak_learning_rate(self, batchnorm: bool) -> float:
        return self.learning_rate if batchnorm else self.learning_rate_without_batchnorm

    def initialization(self, batchnorm: bool) -> str:
        """ "glorot" (Keras' default) for networks with batch normalization, else "he"."""
        return "glorot" if batchnorm else "he"

    def lr(self, step: int, total: int, steps_per_epoch: int, batchnorm: bool = True) -> float:
        """Learning rate at ``step`` (0-based) of ``total``: linear warm-up, then cosine decay."""
        peak = self.peak_learning_rate(batchnorm)
        warmup = max(1, round(self.warmup_epochs * steps_per_epoch))
        if step < warmup:
            return peak * (step + 1) / warmup
        progress = (step - warmup) / max(1, total - warmup)
        return peak * 0.5 * (1 + math.cos(math.pi * progress))


def has_batchnorm(name: str, **metaparams) -> bool:
    """Whether the network has batch normalization (read from its profile)."""
    return any(row.kind == "bn" for row in profile(name, **metaparams).layers)


RECIPE = Recipe()


@dataclass(repr=False)
class TrainResult:
    """What :func:`fit` returns: the trained model, its history and what it cost.

    ``history`` holds one value per epoch for ``loss`` and ``accuracy`` (training batches, with
    augmentation and dropout), ``test_loss`` and ``test_accuracy``. ``params`` and ``macs`` are
    :func:`mobilecnn.profile`'s for the same settings. ``smoke`` is True for a smoke run (a few
    steps on a subset, see :func:`mobilecnn.book.smoke`): its accuracy is not a result. ``key``
    names the run in the model cache (:func:`fit_or_load`); other caches built on a trained model
    (the TF Lite files of :func:`mobilecnn.deploy.convert`) start from it.
    """

    name: str
    framework: str
    dataset: str
    image_size: int
    metaparams: dict
    epochs: int
    seed: int
    recipe: Recipe
    model: object
    history: dict
    test_accuracy: float
    seconds: float
    smoke: bool
    params: int
    macs: int
    subset: int | None = None
    cached: bool = False
    key: str | None = None

    def summary(self) -> str:
        head = (f"{self.name} ({self.framework}) on {self.dataset} at {self.image_size}px, "
                f"{self.epochs} epoch{'s' if self.epochs != 1 else ''}")
        if self.smoke:
            return f"{head}: smoke run, not a result"
        trained = f"trained in {self.seconds:.0f} s"
        if self.cached:
            trained += ", loaded from the cache"
        return (f"{head}: test accuracy {self.test_accuracy:.2%} ({trained}); "
                f"{self.params:,} params, {self.macs / 1e6:.1f}M MACs")

    __repr__ = summary

    def to_frame(self):
        """The history as a pandas DataFrame, one row per epoch."""
        import pandas as pd

        frame = pd.DataFrame(self.history)
        frame.index = pd.RangeIndex(1, len(frame) + 1, name="epoch")
        return frame


# ---- the data the loop sees ----------------------------------------------------------------------

@lru_cache(maxsize=2)
def dataset_arrays(name: str, image_size: int, subset: int | None = None, seed: int = 0) -> tuple:
    """The arrays of :func:`mobilecnn.data.load` (with its ``subset`` and ``seed``: the training
    images are subset before they are resized, so 10,000 of Fashion-MNIST's 60,000 at 64 pixels
    take 0.5 GB, not 3 GB), kept (read-only) for the next run."""
    (x_train, y_train), (x_test, y_test) = data.load(name, image_size, subset=subset, seed=seed)
    for a in (x_train, y_train, x_test, y_test):
        a.setflags(write=False)
    return (x_train, y_train), (x_test, y_test)


_stratified_subset = data.stratified_subset   # the subset fit takes (name kept for its callers)


def shift_images(x: np.ndarray, max_shift: int, rng: np.random.Generator) -> np.ndarray:
    """Move each image by a random whole number of pixels in ``[-max_shift, max_shift]`` along
    each axis, filling the uncovered border with zeros (channels-last)."""
    if max_shift == 0:
        return x
    n, h, w, _ = x.shape
    padded = np.pad(x, ((0, 0), (max_shift, max_shift), (max_shift, max_shift), (0, 0)))
    dy, dx = rng.integers(-max_shift, max_shift + 1, size=(2, n))
    rows = (np.arange(h)[None, :] + max_shift - dy[:, None])          # (n, h)
    cols = (np.arange(w)[None, :] + max_shift - dx[:, None])          # (n, w)
    return padded[np.arange(n)[:, None, None], rows[:, :, None], cols[:, None, :]]


def batches(x: np.ndarray, y: np.ndarray, recipe: Recipe, rng: np.random.Generator):
    """One epoch of shuffled, augmented ``(x, y)`` batches, channels-last; the last may be short."""
    order = rng.permutation(len(x))
    max_shift = int(round(recipe.shift * x.shape[1]))
    for start in range(0, len(x), recipe.batch_size):
        idx = order[start:start + recipe.batch_size]
        yield shift_images(x[idx], max_shift, rng), y[idx]


def _metrics(logits: np.ndarray, y: np.ndarray) -> tuple:
    """Mean cross-entropy and accuracy of ``logits`` against labels ``y``."""
    logits = logits.astype(np.float64)
    shifted = logits - logits.max(axis=1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    loss = -log_probs[np.arange(len(y)), y].mean()
    return float(loss), float((logits.argmax(axis=1) == y).mean())


# ---- run settings --------------------------------------------------------------------------------

def _in_notebook() -> bool:
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    return shell is not None and type(shell).__name__ == "ZMQInteractiveShell"


def verbose_flag(verbose) -> bool:
    """``None`` means: print one line per epoch in a notebook, unless under pytest or smoke mode."""
    if verbose is not None:
        return bool(verbose)
    return _in_notebook() and not book.smoke() and "PYTEST_CURRENT_TEST" not in os.environ


def _threads() -> int | None:
    return int(os.environ.get("MOBILECNN_THREADS", "0")) or None


def _whole(value, low: int) -> bool:
    return not isinstance(value, bool) and isinstance(value, int) and value >= low


def _check(name: str, framework: str, epochs, seed, subset) -> None:
    architectures.get(name)
    if framework not in FRAMEWORKS:
        raise ValueError(f"framework must be 'keras' or 'torch', got {framework!r}")
    if epochs is not None and not _whole(epochs, 1):
        raise ValueError(f"epochs must be a whole number >= 1 (or None for the recipe's), "
                         f"got {epochs!r}")
    if not _whole(seed, 0):
        raise ValueError(f"seed must be a whole number >= 0, got {seed!r}")
    if subset is not None and not _whole(subset, 1):
        raise ValueError(f"subset must be a whole number of training images >= 1, got {subset!r}")


@dataclass(frozen=True)
class _Run:
    """Every argument of a training run, resolved: what :func:`fit` does and what the cache keys."""

    name: str
    framework: str
    dataset: str
    image_size: int
    metaparams: dict
    epochs: int
    seed: int
    subset: int | None
    smoke: bool
    recipe: Recipe

    def key(self) -> str:
        """The cache key: a hash of what decides the trained weights, and nothing else.

        Everything is resolved first (:func:`resolve_run`: the dataset's name, every metaparameter
        with its default and normalized type, the number of epochs, smoke mode), so two chapters
        that ask for the same model in different words (``epochs=None`` or the recipe's number,
        ``num_classes`` given or not, ``recipe=RECIPE`` or nothing) get the same key and share
        one trained model. The recipe's ``epochs``, ``smoke_epochs`` and ``smoke_subset`` are
        left out: the run's own ``epochs`` and ``subset`` already say what they decided; so are the
        settings for the other kind of network (with or without batch normalization), which this
        run never reads.
        """
        unused = _WITHOUT_BATCHNORM if has_batchnorm(self.name, **self.metaparams) else _BATCHNORM
        recipe = {k: v for k, v in asdict(self.recipe).items()
                  if k not in _RESOLVED_IN_RUN + unused}
        blob = json.dumps({**asdict(self), "recipe": recipe, "version": CACHE_VERSION},
                          sort_keys=True, default=str)
        return hashlib.sha256(blob.encode()).hexdigest()[:16]


_RESOLVED_IN_RUN = ("epochs", "smoke_epochs", "smoke_subset")
_BATCHNORM = ("learning_rate", "bn_momentum")
_WITHOUT_BATCHNORM = ("learning_rate_without_batchnorm", "class_score_bias")
CACHE_VERSION = 3
"""Part of every cache key; raise it when a change to the training code changes what a run
produces, so that cached models trained by the old code are not reused."""


def resolve_run(name, framework, dataset, image_size, epochs, seed, subset, recipe,
             metaparams) -> _Run:
    _check(name, framework, epochs, seed, subset)
    dataset = data.dataset_name(dataset)
    metaparams = {"num_classes": data.num_classes(dataset), **metaparams}
    if "rho" in metaparams:
        raise ValueError("give image_size (pixels), not rho: fit sets rho = image_size / 224")
    # profile() checks every metaparameter and the input size, with clear errors.
    _, values, _ = architectures.resolve(name, {**metaparams, "image_size": image_size})
    profile(name, **values)
    recipe = recipe or RECIPE
    smoke = book.smoke()
    if smoke:
        epochs = min(epochs or recipe.smoke_epochs, recipe.smoke_epochs)
        subset = min(subset or recipe.smoke_subset, recipe.smoke_subset)
    return _Run(name, framework, dataset, image_size, values, epochs or recipe.epochs, seed, subset,
                smoke, recipe)


# ---- training ------------------------------------------------------------------------------------

def fit(name: str, framework: str = "keras", dataset: str | None = None, image_size: int = 32,
        epochs: int | None = None, seed: int = 0, verbose: bool | None = None, *,
        subset: int | None = None, recipe: Recipe | None = None, **metaparams) -> TrainResult:
    """Train architecture ``name`` in ``framework`` ("keras" or "torch") on ``dataset``.

    ``image_size`` is the model's input (its ``rho`` is ``image_size / 224``); ``metaparams`` are
    the architecture's (``alpha``, ``groups``, ...); ``num_classes`` defaults to the dataset's.
    ``epochs=None`` takes the recipe's (:data:`RECIPE`); ``subset`` trains on that many training
    images (a stratified sample; the test set stays whole). ``verbose=None`` prints one line per
    epoch in a notebook and stays quiet elsewhere (scripts, pytest, smoke mode).

    The same ``seed`` gives the same history, bit for bit, run after run on the same CPU with the
    same number of threads: the seeds of NumPy and the framework are set, every random draw
    (initialization, shuffling, shifts, dropout) comes from them, TensorFlow's op determinism is
    on, and PyTorch's CPU kernels for these layers are deterministic (see :class:`_TorchTrainer`
    for why ``torch.use_deterministic_algorithms`` is not set). In smoke mode
    (``MOBILECNN_SMOKE=1``) the run shrinks to ``recipe.smoke_epochs`` epoch on
    ``recipe.smoke_subset`` images and the result says it is a smoke run.
    """
    run = resolve_run(name, framework, dataset, image_size, epochs, seed, subset, recipe, metaparams)
    return fit_run(run, verbose_flag(verbose))


def fit_run(run: _Run, verbose: bool, schedule=None) -> TrainResult:
    """The training loop. ``schedule`` (optional) changes the network while it trains, as
    CondenseNet's learned group convolutions do (:class:`mobilecnn.condense.Condensation`): it
    builds the model (``schedule.model(framework, run)``), adds ``schedule.penalty(model)`` to
    the loss, and is called before each step (``before_step(model, step, total)``: condense)
    and after it (``after_step(model)``: keep pruned weights at zero)."""
    start = time.perf_counter()
    (x_train, y_train), (x_test, y_test) = dataset_arrays(run.dataset, run.image_size, run.subset,
                                                    run.seed if run.subset is not None else 0)
    batchnorm = has_batchnorm(run.name, **run.metaparams)
    init = run.recipe.initialization(batchnorm)
    trainer = (_KerasTrainer(run, init, schedule) if run.framework == "keras"
               else _TorchTrainer(run, init, schedule))
    recipe = run.recipe
    rng = np.random.default_rng(run.seed)
    steps_per_epoch = math.ceil(len(x_train) / recipe.batch_size)
    total = run.epochs * steps_per_epoch
    history = {"loss": [], "accuracy": [], "test_loss": [], "test_accuracy": []}
    step = 0
    for epoch in range(run.epochs):
        seen, loss_sum, correct = 0, 0.0, 0.0
        for xb, yb in batches(x_train, y_train, recipe, rng):
            if schedule is not None:
                schedule.before_step(trainer.model, step, total)
            loss, acc = trainer.step(xb, yb, recipe.lr(step, total, steps_per_epoch, batchnorm))
            if schedule is not None:
                schedule.after_step(trainer.model)
            step += 1
            seen += len(yb)
            loss_sum += loss * len(yb)
            correct += acc * len(yb)
        test_loss, test_acc = _metrics(trainer.logits(x_test), y_test)
        for key, value in zip(history, (loss_sum / seen, correct / seen, test_loss, test_acc)):
            history[key].append(value)
        if verbose:
            print(f"epoch {epoch + 1:>2}/{run.epochs}  loss {loss_sum / seen:.3f}  "
                  f"accuracy {correct / seen:.3f}  test loss {test_loss:.3f}  "
                  f"test accuracy {test_acc:.3f}  ({time.perf_counter() - start:.0f} s)",
                  flush=True)
    seconds = time.perf_counter() - start
    return _result(run, trainer.finish(), history, history["test_accuracy"][-1], seconds)


def _result(run: _Run, model, history: dict, test_accuracy: float, seconds: float,
            cached: bool = False) -> TrainResult:
    """A :class:`TrainResult` for ``run``, with the profiler's counts for its settings."""
    cost = profile(run.name, **run.metaparams)
    return TrainResult(run.name, run.framework, run.dataset, run.image_size, dict(run.metaparams),
                       run.epochs, run.seed, run.recipe, model, history, test_accuracy, seconds,
                       run.smoke, cost.params, cost.macs, run.subset, cached=cached,
                       key=run.key())


class _KerasTrainer:
    """One optimizer step on a batch, and logits for a set of images, in Keras.

    The step is our own ``tf.function`` (forward pass, loss, gradients, AdamW update, and the
    batch's accuracy), compiled once for batches of any length: its ``input_signature`` leaves the
    batch dimension open. ``train_on_batch`` compiles Keras' own step three times here (a full
    batch of 64, the short last batch of an epoch, then a shape-relaxed version), each trace of
    a MobileNet costing seconds; one trace makes ``fit`` as fast as ``model.fit``, which traces
    once. The learning rate is an argument of the step, so the schedule needs no callback and no
    extra operation between steps. XLA (``jit_compile=True``) is off: on this CPU it made an
    epoch several times slower.

    ``tf.config.experimental.enable_op_determinism()`` is on (it cost nothing measurable per
    epoch on the CPU); it makes TensorFlow refuse the few operations that have no deterministic
    kernel instead of running them.
    """

    def __init__(self, run: _Run, init: str, schedule=None):
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
        from .tf_import import import_tensorflow

        tf = import_tensorflow()
        _keras_threads(tf)
        import keras

        from . import keras_backend, keras_model

        keras.utils.set_random_seed(run.seed)
        tf.config.experimental.enable_op_determinism()
        self.model = (schedule.model("keras", run) if schedule is not None
                      else keras_model(run.name, **run.metaparams))
        if init == "he":  # Keras' own default is Glorot
            he_initialize_keras(self.model, run.seed, run.recipe.class_score_bias)
        keras_backend.set_batchnorm_momentum(self.model, run.recipe.bn_momentum)
        logits_model = keras_backend.logits_model(self.model)
        weights = logits_model.trainable_variables
        optimizer = keras.optimizers.AdamW(learning_rate=run.recipe.learning_rate,
                                           weight_decay=run.recipe.weight_decay,
                                           epsilon=run.recipe.epsilon)
        optimizer.build(weights)
        loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
        images = tf.TensorSpec((None, *self.model.input_shape[1:]), tf.float32)
        labels = tf.TensorSpec((None,), tf.int64)

        @tf.function(input_signature=(images, labels, tf.TensorSpec((), tf.float32)),
                     jit_compile=False)
        def train_step(x, y, lr):
            optimizer.learning_rate.assign(lr)
            with tf.GradientTape() as tape:
                logits = logits_model(x, training=True)
                loss = loss_fn(y, logits)
                regularization = logits_model.losses
                total = loss + tf.add_n(regularization) if regularization else loss
                if schedule is not None:
                    total = total + schedule.penalty(logits_model)
            optimizer.apply(tape.gradient(total, weights), weights)
            correct = tf.equal(tf.argmax(logits, axis=1, output_type=tf.int64), y)
            return loss, tf.reduce_mean(tf.cast(correct, tf.float32))

        @tf.function(input_signature=(images,), jit_compile=False)
        def logits_fn(x):
            return logits_model(x, training=False)

        self.logits_model, self.optimizer = logits_model, optimizer
        self._train_step, self._logits = train_step, logits_fn

    def step(self, x, y, lr: float) -> tuple:
        loss, accuracy = self._train_step(x, y, np.float32(lr))
        return float(loss), float(accuracy)

    def logits(self, x) -> np.ndarray:
        return np.concatenate([self._logits(x[i:i + EVAL_BATCH]).numpy()
                               for i in range(0, len(x), EVAL_BATCH)])

    def finish(self):
        """The trained model (with its softmax)."""
        return self.model


def _keras_threads(tf) -> None:
    """Apply ``MOBILECNN_THREADS`` to TensorFlow's thread pools (possible only before TF runs)."""
    threads = _threads()
    if threads and tf.config.threading.get_intra_op_parallelism_threads() != threads:
        try:
            tf.config.threading.set_intra_op_parallelism_threads(threads)
            tf.config.threading.set_inter_op_parallelism_threads(threads)
        except RuntimeError:
            # TensorFlow already started its pools in this process; they keep their size.
            return


def _keras_predict(model, x, batch_size: int = 256) -> np.ndarray:
    return np.concatenate([np.asarray(model.predict_on_batch(x[i:i + batch_size]))
                           for i in range(0, len(x), batch_size)])


class _TorchTrainer:
    """The same step and evaluation in PyTorch (``model(x, logits=True)``).

    The module and its inputs are **channels-last** in memory (``torch.channels_last``: the
    shapes stay ``(N, C, H, W)``, the bytes are laid out as ``(N, H, W, C)``). That is the layout
    of the NumPy batches already, so a batch becomes a tensor without a copy (``permute`` only
    changes the strides), and PyTorch's CPU convolutions (oneDNN) run faster on it: an epoch of
    MobileNet v1 (alpha 0.5, 32 pixels, one thread) took 1.2 s instead of 1.9 s, and every
    architecture of the book gained. :func:`fit` returns the module in the ordinary
    (contiguous) layout.

    ``torch.use_deterministic_algorithms`` is **not** set. On the CPU these networks use no
    operation without a deterministic kernel, so it changes no number (the losses are bit for
    bit the same with and without it); it would cost a one-off import of ``torch._inductor``
    (about 1 s) and, through ``torch.utils.deterministic.fill_uninitialized_memory``, filling
    every new tensor with NaN before use (about 15% of an epoch). What makes runs repeatable is
    the seeds and a fixed number of threads; ``tests/test_train.py`` checks that two runs give
    the same history.
    """

    def __init__(self, run: _Run, init: str, schedule=None):
        import torch

        from . import torch_backend, torch_model

        self.torch = torch
        if _threads():
            torch.set_num_threads(_threads())
        torch.manual_seed(run.seed)
        self.penalty = schedule.penalty if schedule is not None else None
        model = (schedule.model("torch", run) if schedule is not None
                 else torch_model(run.name, **run.metaparams))
        model.metaparams = dict(run.metaparams)
        if init == "he":
            he_initialize_torch(model, run.recipe.class_score_bias)
        else:
            glorot_initialize_torch(model)
        torch_backend.set_batchnorm_momentum(model, run.recipe.bn_momentum)
        self.model = model.to(memory_format=torch.channels_last)
        self.optimizer = torch.optim.AdamW(self.model.parameters(), lr=run.recipe.learning_rate,
                                           weight_decay=run.recipe.weight_decay,
                                           eps=run.recipe.epsilon)
        self.loss = torch.nn.CrossEntropyLoss()

    def _images(self, x: np.ndarray):
        """Channels-last NumPy images as an ``(N, C, H, W)`` channels-last tensor, no copy
        (read-only arrays, such as the cached test set, are copied: torch tensors are writable)."""
        x = x if x.flags.writeable and x.flags.c_contiguous else np.array(x)
        return self.torch.from_numpy(x).permute(0, 3, 1, 2)

    def step(self, x, y, lr: float) -> tuple:
        torch = self.torch
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        if not self.model.training:
            self.model.train()
        xb, yb = self._images(x), torch.from_numpy(np.asarray(y))
        logits = self.model(xb, logits=True)
        loss = self.loss(logits, yb)
        total = loss if self.penalty is None else loss + self.penalty(self.model)
        self.optimizer.zero_grad(set_to_none=True)
        total.backward()
        self.optimizer.step()
        accuracy = (logits.argmax(dim=1) == yb).float().mean()
        return loss.item(), accuracy.item()

    def logits(self, x) -> np.ndarray:
        torch = self.torch
        self.model.eval()
        with torch.inference_mode():
            return np.concatenate([self.model(self._images(x[i:i + EVAL_BATCH]), logits=True)
                                   .numpy() for i in range(0, len(x), EVAL_BATCH)])

    def finish(self):
        """The trained module in PyTorch's ordinary (contiguous) layout, in eval mode."""
        return self.model.to(memory_format=self.torch.contiguous_format).eval()


def glorot_initialize_torch(model) -> None:
    """Re-initialize a PyTorch model the way Keras initializes a new one: Glorot-uniform kernels,
    zero biases (batch norm starts at scale 1, shift 0 in both frameworks already).

    Glorot's bound ``sqrt(6 / (fan_in + fan_out))`` depends on the sum of the fans, and that sum
    is the same for Keras' and PyTorch's kernel layouts, depthwise kernels included.
    """
    import torch
    from torch import nn

    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                nn.init.xavier_uniform_(m.weight)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)


def fan_in(kernel_shape: tuple, layout: str, depthwise: bool = False) -> int:
    """Inputs that feed one output unit: ``kh * kw * cin / groups`` for a convolution, ``kh * kw``
    for a depthwise one, ``in`` for a dense layer; read from a Keras (``"hwio"``) or PyTorch
    (``"oihw"``) kernel shape."""
    if len(kernel_shape) == 2:
        return kernel_shape[0] if layout == "hwio" else kernel_shape[1]
    if layout == "hwio":
        kh, kw, cin, _ = kernel_shape
    else:
        _, cin, kh, kw = kernel_shape
    return kh * kw * (1 if depthwise else cin)


def he_uniform_bound(fan: int) -> float:
    """He et al.'s bound for ReLU networks: a uniform in ``[-b, b]`` with ``b = sqrt(6 / fan_in)``
    keeps the variance of activations constant from layer to layer."""
    return math.sqrt(6.0 / fan)


def he_initialize_keras(model, seed: int, class_score_bias: float | None = None) -> None:
    """He-uniform kernels and zero biases for every convolution and dense layer of a Keras model
    (drawn with NumPy from ``seed``, layer by layer in network order). With ``class_score_bias``,
    the last of them (the class scores) gets zero kernels and that bias instead (see
    :class:`Recipe`)."""
    from keras import layers

    rng = np.random.default_rng(seed)
    weighted = [layer for layer in model.layers
                if isinstance(layer, (layers.Conv2D, layers.DepthwiseConv2D, layers.Dense))]
    for layer in weighted:
        depthwise = isinstance(layer, layers.DepthwiseConv2D)
        kernel = layer.depthwise_kernel if depthwise else layer.kernel
        shape = tuple(kernel.shape)
        bound = he_uniform_bound(fan_in(shape, "hwio", depthwise))
        kernel.assign(rng.uniform(-bound, bound, shape).astype("float32"))
        if layer.bias is not None:
            layer.bias.assign(np.zeros(tuple(layer.bias.shape), "float32"))
    if class_score_bias is not None and weighted:
        _start_class_scores(weighted[-1].kernel, weighted[-1].bias, class_score_bias)


def he_initialize_torch(model, class_score_bias: float | None = None) -> None:
    """The same for a PyTorch model (drawn from torch's generator, seeded by :func:`fit`)."""
    import torch
    from torch import nn

    weighted = [m for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    with torch.no_grad():
        for m in weighted:
            depthwise = isinstance(m, nn.Conv2d) and m.groups == m.in_channels > 1
            bound = he_uniform_bound(fan_in(tuple(m.weight.shape), "oihw", depthwise))
            nn.init.uniform_(m.weight, -bound, bound)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        if class_score_bias is not None and weighted:
            _start_class_scores(weighted[-1].weight, weighted[-1].bias, class_score_bias)


def _start_class_scores(kernel, bias, value: float) -> None:
    """Zero kernel, bias ``value``: every class score starts equal and positive (:class:`Recipe`)."""
    if bias is None:
        raise ValueError("the class-score layer needs a bias to start positive; build it with "
                         "bias=True or set Recipe.class_score_bias=None")
    if hasattr(kernel, "assign"):
        kernel.assign(np.zeros(tuple(kernel.shape), "float32"))
        bias.assign(np.full(tuple(bias.shape), value, "float32"))
    else:
        kernel.zero_()
        bias.fill_(value)


def _torch_predict(model, x, logits: bool = False, batch_size: int = 256) -> np.ndarray:
    import torch

    model.eval()
    with torch.inference_mode():
        return np.concatenate([
            model(torch.from_numpy(data.to_channels_first(x[i:i + batch_size])),
                  logits=logits).numpy()
            for i in range(0, len(x), batch_size)])


def framework_of(model) -> str:
    """"keras" or "torch", from the class of ``model`` (without importing either framework)."""
    module = type(model).__module__
    if module.startswith(("keras", "tensorflow")):
        return "keras"
    if module.startswith(("torch", "mobilecnn.torch_backend")):
        return "torch"
    raise ValueError(f"model must be a Keras model or a PyTorch module, got {type(model).__name__}")


def predict(model, x: np.ndarray) -> np.ndarray:
    """Class probabilities ``(N, num_classes)`` of a Keras or PyTorch model (or a
    :class:`TrainResult`) for channels-last images ``x`` (as :func:`mobilecnn.data.load` gives)."""
    model = model.model if isinstance(model, TrainResult) else model
    if framework_of(model) == "keras":
        return _keras_predict(model, x)
    return _torch_predict(model, x)


# ---- saving and loading --------------------------------------------------------------------------

def save(result_or_model, path) -> Path:
    """Save a model (or a :class:`TrainResult`'s model) in its framework's own format.

    Keras: the native ``.keras`` archive. PyTorch: ``torch.save`` of a dict holding the
    ``state_dict``, the architecture's name and its metaparameters, so that :func:`load` rebuilds
    the module with :func:`mobilecnn.torch_model`. The suffix (``.keras`` or ``.pt``) is added
    when ``path`` has none; a wrong suffix is a ``ValueError``. Returns the path written.
    """
    model = result_or_model.model if isinstance(result_or_model, TrainResult) else result_or_model
    framework = framework_of(model)
    path = Path(path)
    if path.suffix == "":
        path = path.with_suffix(SUFFIX[framework])
    if path.suffix != SUFFIX[framework]:
        raise ValueError(f"path must end in {SUFFIX[framework]!r} for a {framework} model, "
                         f"got {str(path)!r}")
    path.parent.mkdir(parents=True, exist_ok=True)
    if framework == "keras":
        model.save(path)
        return path
    import torch

    metaparams = getattr(model, "metaparams", None)
    if metaparams is None:
        raise ValueError("this PyTorch model has no .metaparams (the dict of metaparameters it was "
                         "built with); set it, or save the TrainResult that fit returned")
    torch.save({"format": TORCH_FORMAT, "name": model.arch, "metaparams": dict(metaparams),
                "state_dict": model.state_dict()}, path)
    return path


def load(path):
    """Load a model written by :func:`save` (``.keras`` -> Keras model, ``.pt`` -> PyTorch module
    in eval mode)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no saved model at {path}")
    if path.suffix == ".keras":
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
        from .tf_import import import_tensorflow

        import_tensorflow()
        import keras

        from . import keras_backend  # noqa: F401  (registers ChannelShuffle for deserialization)

        return keras.models.load_model(path)
    if path.suffix != ".pt":
        raise ValueError(f"path must end in '.keras' or '.pt', got {str(path)!r}")
    import torch

    from . import torch_model

    saved = torch.load(path, weights_only=True)
    if saved.get("format") != TORCH_FORMAT:
        raise ValueError(f"{path} was not written by mobilecnn.train.save")
    model = torch_model(saved["name"], **saved["metaparams"])
    model.load_state_dict(saved["state_dict"])
    model.metaparams = dict(saved["metaparams"])
    return model.eval()


# ---- the cache -----------------------------------------------------------------------------------

def cache_dir() -> Path:
    """Where :func:`fit_or_load` keeps trained models: ``$MOBILECNN_CACHE``, else
    ``<repository>/.mobilecnn_cache`` (git-ignored) when the package runs from the book's
    checkout, else ``~/.cache/mobilecnn/models``."""
    if os.environ.get("MOBILECNN_CACHE"):
        return Path(os.environ["MOBILECNN_CACHE"])
    repo = Path(__file__).resolve().parents[2]
    if (repo / "_config.yml").is_file():
        return repo / ".mobilecnn_cache"
    return Path.home() / ".cache" / "mobilecnn" / "models"


def fit_or_load(name: str, framework: str = "keras", dataset: str | None = None,
                image_size: int = 32, epochs: int | None = None, seed: int = 0,
                verbose: bool | None = None, *, subset: int | None = None,
                recipe: Recipe | None = None, **metaparams) -> TrainResult:
    """:func:`fit` with the same arguments, unless a model trained with exactly these arguments
    (resolved: defaults filled in, recipe and smoke mode included; see :meth:`_Run.key`) is
    already in :func:`cache_dir`; then that model and its history are loaded (``result.cached`` is
    True). One setting, one model for the whole book: a chapter that needs the model another
    chapter trained gets it from the cache, whichever way it spells the arguments. Smoke runs
    have their own keys, so they never stand in for a full run."""
    run = resolve_run(name, framework, dataset, image_size, epochs, seed, subset, recipe, metaparams)
    stem = cache_dir() / f"{run.name}_{run.framework}_{run.dataset}_{run.key()}"
    model_path, info_path = stem.with_suffix(SUFFIX[run.framework]), stem.with_suffix(".json")
    if model_path.is_file() and info_path.is_file():
        info = json.loads(info_path.read_text())
        return _result(run, load(model_path), info["history"], info["test_accuracy"],
                       info["seconds"], cached=True)
    result = fit_run(run, verbose_flag(verbose))
    # Each file is written under a temporary name and renamed, so that a reader (another
    # process building another chapter) never sees half a file; the JSON comes last: a model
    # file without it (an interrupted run) is never a hit.
    partial = model_path.with_name(f".{model_path.stem}.{os.getpid()}{model_path.suffix}")
    os.replace(save(result, partial), model_path)
    write_atomically(info_path, json.dumps({
        "run": asdict(run), "key": run.key(), "history": result.history,
        "test_accuracy": result.test_accuracy, "seconds": result.seconds}, indent=1,
        default=str).encode())
    return result


def write_atomically(path: Path, content: bytes) -> Path:
    """Write ``content`` to ``path`` through a temporary file in the same folder and a rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.{os.getpid()}.partial")
    partial.write_bytes(content)
    os.replace(partial, path)
    return path
