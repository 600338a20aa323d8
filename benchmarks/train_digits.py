"""Train the architectures on digits in Keras and PyTorch; print accuracy, time, and how much
slower ``mobilecnn.train.fit`` is than each framework's plain way of training the same network.

Two targets. Issue 4: every run reaches at least 95% test accuracy in under 120 s of wall clock
on a 2-core CPU with the shared recipe (:data:`mobilecnn.train.RECIPE`). Issue 10: ``fit``
takes less than 1.2 times its framework's plain baseline:

* **Keras**: ``model.fit`` on the same built model (the architecture's logits model, with the
  recipe's batch-norm momentum), the same optimizer (AdamW, same rate, decay and epsilon), the
  same loss, batch size and number of epochs, on the same arrays (no augmentation, a constant
  learning rate, no evaluation, no determinism switch);
* **PyTorch**: a bare loop (forward, loss, ``zero_grad``, ``backward``, ``step``) over the same
  module and the same batches ``fit`` sees (shuffled and shifted by :func:`mobilecnn.train.batches`
  with the same seed, made into tensors before the clock starts), in PyTorch's default
  (channels-first) layout, and again in the channels-last layout ``fit`` uses (``plain-cl``),
  which separates what the layout gains from what ``fit`` adds.

Every timing, ``fit`` or baseline, covers building the model and training it (``fit``'s also
covers its per-epoch evaluation and re-initialization); each is a fresh Python process with the
framework imported and the data loaded before the clock starts. The machine is shared, so each
measurement is repeated (``--repeats``), the order of ``fit`` and baselines alternates between
repeats, and the table shows medians, of wall-clock seconds and of CPU seconds (the process's
CPU time, which other jobs on the machine disturb less; with one thread the two agree on an idle
machine).

    .venv/bin/python benchmarks/train_digits.py                  # all networks, both frameworks
    .venv/bin/python benchmarks/train_digits.py --threads 1 --epochs 4 --repeats 3 \
        --only mobilenet_v1
    .venv/bin/python benchmarks/train_digits.py --quick          # a smoke test of this script
    .venv/bin/python benchmarks/train_digits.py --json out.json  # also write the rows as JSON

``--quick`` trains one thin MobileNet (alpha 0.25) for one epoch on 128 images, once per mode:
its numbers check that the script works, they are not results.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

# SqueezeNet cannot take 32-pixel inputs (its last pooling would see a 2x2 map); it trains at the
# smallest multiple of 8 that works, see mobilecnn.minimum_image_size.
CONFIGS = {
    "mobilenet_v1": dict(alpha=0.5),
    "mobilenet_v2": dict(alpha=0.5),
    "squeezenet": dict(version="1.0"),
    "shufflenet_v1": dict(groups=3, scale=0.5),
}
QUICK = {"configs": {"mobilenet_v1": dict(alpha=0.25)}, "epochs": 1, "subset": 128, "repeats": 1}
TARGET_ACCURACY, TARGET_SECONDS, TARGET_RATIO = 0.95, 120, 1.2
MODES = {"keras": ("fit", "plain"), "torch": ("fit", "plain", "plain-cl")}
SEED = 0


def image_size(name: str, metaparams: dict) -> int:
    import mobilecnn

    args = {m.name: metaparams.get(m.name, m.default) for m in mobilecnn.metaparameters(name)
            if m.name != "rho"}
    smallest = mobilecnn.minimum_image_size(name, **args)
    return max(32, -(-smallest // 8) * 8)


# ---- one measurement, in its own process ---------------------------------------------------------

def run_one(name: str, framework: str, mode: str, metaparams: dict, epochs: int | None,
            subset: int | None) -> dict:
    """Time ``mode`` ("fit", "plain" or "plain-cl") for one architecture in one framework."""
    from mobilecnn import book, train

    book.setup(seed=SEED)
    size = image_size(name, metaparams)
    (x, y), (x_test, y_test) = train.dataset_arrays("digits", size)    # loaded before the clock starts
    recipe = train.RECIPE
    epochs = epochs or recipe.epochs
    if subset is not None:
        keep = train._stratified_subset(y, subset, SEED)          # the subset fit takes
        x, y = x[keep], y[keep]
    if framework == "keras":
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
        import keras  # noqa: F401
        import tensorflow  # noqa: F401
    else:
        import torch  # noqa: F401
    row = {"name": name, "framework": framework, "mode": mode, "image_size": size,
           "metaparams": metaparams, "epochs": epochs, "images": len(x)}
    if mode == "fit":
        wall, cpu = time.perf_counter(), time.process_time()
        result = train.fit(name, framework, image_size=size, epochs=epochs, seed=SEED,
                           verbose=False, subset=subset, **metaparams)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        row.update(test_accuracy=result.test_accuracy, smoke=result.smoke,
                   params=result.params, macs=result.macs,
                   history=[round(a, 3) for a in result.history["test_accuracy"]])
    elif framework == "keras":
        wall, cpu, accuracy = _plain_keras(name, size, metaparams, recipe, epochs, x, y,
                                           x_test, y_test)
        row.update(test_accuracy=accuracy)
    else:
        wall, cpu, accuracy = _plain_torch(name, size, metaparams, recipe, epochs, x, y,
                                           x_test, y_test, channels_last=mode == "plain-cl")
        row.update(test_accuracy=accuracy)
    row.update(seconds=wall, cpu_seconds=cpu)
    return row


def _plain_keras(name, size, metaparams, recipe, epochs, x, y, x_test, y_test) -> tuple:
    """``model.fit``: the logits model fit trains, the same optimizer, loss and batches size."""
    import keras
    import numpy as np

    import mobilecnn
    from mobilecnn import data, keras_backend

    keras.utils.set_random_seed(SEED)
    wall, cpu = time.perf_counter(), time.process_time()
    model = mobilecnn.keras_model(name, image_size=size, num_classes=data.num_classes("digits"),
                                  **metaparams)
    keras_backend.set_batchnorm_momentum(model, recipe.bn_momentum)
    logits = keras_backend.logits_model(model)
    logits.compile(optimizer=keras.optimizers.AdamW(learning_rate=recipe.learning_rate,
                                                    weight_decay=recipe.weight_decay,
                                                    epsilon=recipe.epsilon),
                   loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                   metrics=["accuracy"])
    logits.fit(x, y, batch_size=recipe.batch_size, epochs=epochs, shuffle=True, verbose=0)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    accuracy = float(np.mean(np.asarray(model.predict(x_test, verbose=0)).argmax(1) == y_test))
    return wall, cpu, accuracy


def _plain_torch(name, size, metaparams, recipe, epochs, x, y, x_test, y_test,
                 channels_last: bool) -> tuple:
    """A bare loop over the module and the batches fit uses (same seed), made tensors first."""
    import numpy as np
    import torch

    import mobilecnn
    from mobilecnn import data, torch_backend, train

    layout = torch.channels_last if channels_last else torch.contiguous_format
    rng = np.random.default_rng(SEED)
    epochs_of_batches = [
        [(torch.from_numpy(data.to_channels_first(xb)).contiguous(memory_format=layout),
          torch.from_numpy(yb)) for xb, yb in train.batches(x, y, recipe, rng)]
        for _ in range(epochs)]
    torch.manual_seed(SEED)
    wall, cpu = time.perf_counter(), time.process_time()
    model = mobilecnn.torch_model(name, image_size=size, num_classes=data.num_classes("digits"),
                                  **metaparams)
    torch_backend.set_batchnorm_momentum(model, recipe.bn_momentum)
    model = model.to(memory_format=layout)
    optimizer = torch.optim.AdamW(model.parameters(), lr=recipe.learning_rate,
                                  weight_decay=recipe.weight_decay, eps=recipe.epsilon)
    loss_fn = torch.nn.CrossEntropyLoss()
    model.train()
    for batches in epochs_of_batches:
        for xb, yb in batches:
            loss = loss_fn(model(xb, logits=True), yb)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    labels = train.predict(model, x_test).argmax(1)
    return wall, cpu, float(np.mean(labels == y_test))


# ---- the table -----------------------------------------------------------------------------------

def measure(name: str, framework: str, mode: str, metaparams: dict, epochs, subset, env) -> dict:
    cmd = [sys.executable, __file__, "--one", name, framework, mode,
           "--metaparams", json.dumps(metaparams)]
    if epochs:
        cmd += ["--epochs", str(epochs)]
    if subset:
        cmd += ["--subset", str(subset)]
    out = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if out.returncode != 0:
        sys.exit(f"{name} / {framework} / {mode} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def summarize(runs: list) -> dict:
    """One row per architecture and framework: medians over repeats, and the ratios."""
    same = {(r["name"], r["framework"], r["image_size"], r["epochs"], r["images"]) for r in runs}
    if len(same) != 1:
        raise ValueError(f"fit and its baselines must train the same network on the same data "
                         f"for as long, got {sorted(same)}")
    fit = [r for r in runs if r["mode"] == "fit"]
    row = {k: fit[0][k] for k in ("name", "framework", "image_size", "metaparams", "epochs",
                                  "images", "test_accuracy", "smoke", "params", "macs",
                                  "history")}
    row["repeats"] = len(fit)
    for mode in {r["mode"] for r in runs}:
        mine = [r for r in runs if r["mode"] == mode]
        row[mode] = {"seconds": statistics.median(r["seconds"] for r in mine),
                     "cpu_seconds": statistics.median(r["cpu_seconds"] for r in mine),
                     "test_accuracy": statistics.median(r["test_accuracy"] for r in mine),
                     "all_seconds": [round(r["seconds"], 2) for r in mine]}
    for mode in row.keys() & {"plain", "plain-cl"}:
        row[f"ratio_{mode}"] = row["fit"]["seconds"] / row[mode]["seconds"]
        row[f"cpu_ratio_{mode}"] = row["fit"]["cpu_seconds"] / row[mode]["cpu_seconds"]
    return row


def print_table(rows: list, threads: str, quick: bool) -> None:
    r0 = rows[0]
    print(f"digits, {r0['epochs']} epoch{'s' if r0['epochs'] != 1 else ''} on {r0['images']} "
          f"images, threads: {threads}, median of {r0['repeats']} run(s); "
          f"targets: >= {TARGET_ACCURACY:.0%} test accuracy in < {TARGET_SECONDS} s, "
          f"fit / plain < {TARGET_RATIO}")
    if quick:
        print("quick setting: a smoke test of this script; the numbers are not results")
    header = (f"{'architecture':<14} {'metaparameters':<22} {'px':>3} {'framework':<9} "
              f"{'test acc':>8} {'fit s':>7} {'plain s':>7} {'fit/plain':>9} {'(cpu)':>6} "
              f"{'fit/plain-cl':>12} {'(cpu)':>6}  target")
    print(header)
    print("-" * len(header))
    for r in rows:
        meta = ", ".join(f"{k}={v}" for k, v in r["metaparams"].items())
        cl = (f"{r['ratio_plain-cl']:>12.2f} {r['cpu_ratio_plain-cl']:>6.2f}"
              if "ratio_plain-cl" in r else f"{'':>12} {'':>6}")
        ok = (r["test_accuracy"] >= TARGET_ACCURACY and r["fit"]["seconds"] < TARGET_SECONDS
              and r["ratio_plain"] < TARGET_RATIO)
        print(f"{r['name']:<14} {meta:<22} {r['image_size']:>3} {r['framework']:<9} "
              f"{r['test_accuracy']:>8.2%} {r['fit']['seconds']:>7.1f} "
              f"{r['plain']['seconds']:>7.1f} {r['ratio_plain']:>9.2f} "
              f"{r['cpu_ratio_plain']:>6.2f} {cl}  {'ok' if ok else 'MISSED'}")


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="*", default=None, choices=list(CONFIGS))
    parser.add_argument("--frameworks", nargs="*", default=["keras", "torch"],
                        choices=["keras", "torch"])
    parser.add_argument("--threads", type=int, default=None, help="sets MOBILECNN_THREADS")
    parser.add_argument("--epochs", type=int, default=None, help="default: the recipe's")
    parser.add_argument("--subset", type=int, default=None,
                        help="train on this many images (default: all 1,437)")
    parser.add_argument("--repeats", type=int, default=None,
                        help="measurements per mode (default 1; medians are shown)")
    parser.add_argument("--quick", action="store_true",
                        help="one thin MobileNet, one epoch on 128 images: a smoke test")
    parser.add_argument("--json", metavar="PATH", help="also write the rows to PATH as JSON")
    parser.add_argument("--one", nargs=3, metavar=("NAME", "FRAMEWORK", "MODE"),
                        help=argparse.SUPPRESS)
    parser.add_argument("--metaparams", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.one:
        name, framework, mode = args.one
        metaparams = json.loads(args.metaparams) if args.metaparams else CONFIGS[name]
        print(json.dumps(run_one(name, framework, mode, metaparams, args.epochs, args.subset)))
        return

    configs = dict(QUICK["configs"]) if args.quick else dict(CONFIGS)
    if args.only:
        configs = {name: (configs.get(name) or CONFIGS[name]) for name in args.only}
    epochs = args.epochs or (QUICK["epochs"] if args.quick else None)
    subset = args.subset or (QUICK["subset"] if args.quick else None)
    repeats = args.repeats or (QUICK["repeats"] if args.quick else 1)

    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
    env.pop("MOBILECNN_SMOKE", None)
    if args.threads:
        env["MOBILECNN_THREADS"] = str(args.threads)
    rows = []
    for name, metaparams in configs.items():
        for framework in args.frameworks:
            runs = []
            for repeat in range(repeats):
                modes = MODES[framework] if repeat % 2 == 0 else MODES[framework][::-1]
                runs += [measure(name, framework, mode, metaparams, epochs, subset, env)
                         for mode in modes]
            row = summarize(runs)
            rows.append(row)
            print(f"  done: {name} {framework}: fit {row['fit']['all_seconds']} s, "
                  f"plain {row['plain']['all_seconds']} s; test accuracy by epoch "
                  f"{row['history']}", file=sys.stderr, flush=True)

    print_table(rows, env.get("MOBILECNN_THREADS", "all cores"), args.quick)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=1)


if __name__ == "__main__":
    main()
