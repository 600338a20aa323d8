"""How MobileNet v3 was found (Howard et al. 2019, Section 4), in small: the platform-aware
reward of the architecture search, and a NetAdapt-style layer-wise search run on this CPU.

**The reward.** MnasNet's search (Tan et al. 2019), which found MobileNet v3's blocks, scores a
candidate network m by ``ACC(m) * (LAT(m) / TAR) ** w``: its accuracy, times a factor that
punishes latency above the target TAR (and rewards latency below it) with strength ``-w``.
MnasNet used w = -0.07; MobileNet v3 uses w = -0.15 for its small models, whose accuracy changes
more steeply with latency. :func:`reward`, :func:`choose` and :func:`reward_grid` compute it;
:func:`reward_widget` renders a kernel-free page with a slider for w and one for TAR.

**NetAdapt** (Yang et al. 2018) then shrinks the searched network layer by layer. Each step
makes one proposal per layer (here: remove a quarter of one block's expansion channels, the
filters with the smallest L1 norm), fine-tunes each proposal briefly, and keeps the one that
loses the least accuracy per millisecond saved, ``dAcc / |dLatency|`` (MobileNet v3's rule;
NetAdapt's own kept the most accurate proposal at a fixed latency saving). Latency comes, as in
NetAdapt, from a **look-up table** of per-block latencies measured with TF Lite (one thread,
batch 1): each block is converted on its own, once per width it takes, and the network's
latency is the sum of its blocks plus the part the search never changes (stem, first block and
classifier): the whole network minus its blocks, all timed in one interleaved run
(:class:`LatencyTable`). :func:`netadapt` runs it on MobileNet v3 Small
(``benchmarks/mobilenet_v3.py`` calls it and keeps the results).
"""

from __future__ import annotations

import dataclasses
import html
import json
import math
import statistics
import time
from dataclasses import dataclass, field

import numpy as np

from .architectures import mobilenet_v3
from .architectures.common import make_divisible
from .graph import Net

W_MOBILENET_V3 = -0.15
W_MNASNET = -0.07


# ---- the reward ----------------------------------------------------------------------------------

def reward(accuracy, latency, target: float, w: float = W_MOBILENET_V3):
    """``accuracy * (latency / target) ** w`` (NumPy arrays welcome)."""
    if not target > 0:
        raise ValueError(f"target must be a latency > 0, got {target!r}")
    if not w <= 0:
        raise ValueError(f"w must be <= 0 (a penalty on latency), got {w!r}")
    latency = np.asarray(latency, dtype=float)
    if np.any(latency <= 0):
        raise ValueError("latency must be > 0 for every point")
    return np.asarray(accuracy, dtype=float) * (latency / target) ** w


def choose(accuracy, latency, target: float, w: float = W_MOBILENET_V3) -> int:
    """The index of the point with the highest reward (the first one on a tie)."""
    return int(np.argmax(reward(accuracy, latency, target, w)))


def reward_grid(accuracy, latency, ws, targets) -> np.ndarray:
    """``grid[i, j]`` = the index :func:`choose` picks at ``w = ws[i]``, ``TAR = targets[j]``."""
    return np.array([[choose(accuracy, latency, t, w) for t in targets] for w in ws], dtype=int)


@dataclass
class RewardWidget:
    """A kernel-free page element: two sliders (w, TAR) over a precomputed grid of choices, and a
    scatter plot of the points with the chosen one ringed. Display it in a notebook or call
    :meth:`html`; it needs no network access (the script is inlined, no CDN)."""

    labels: list
    accuracy: list
    latency: list
    ws: list
    targets: list
    grid: list
    initial: tuple
    title: str = ""
    uid: str = "reward"

    def html(self) -> str:
        width, height, pad = 460, 260, 42
        lat, acc = np.asarray(self.latency), np.asarray(self.accuracy)
        x0, x1 = float(lat.min() * 0.95), float(lat.max() * 1.05)
        y0, y1 = acc.min() - 0.5, acc.max() + 0.5

        def sx(v):
            return pad + (v - x0) / (x1 - x0) * (width - pad - 10)

        def sy(v):
            return height - pad + 10 - (v - y0) / (y1 - y0) * (height - pad - 10)

        dots = "".join(
            f'<circle cx="{sx(a):.1f}" cy="{sy(b):.1f}" r="3.5" fill="#9467bd" '
            f'fill-opacity="0.7"><title>{html.escape(str(label))}: {b:.2f}%, {a:.3f} ms</title>'
            f'</circle>' for label, a, b in zip(self.labels, lat, acc))
        ticks = "".join(
            f'<text x="{sx(v):.1f}" y="{height - pad + 26}" font-size="10" text-anchor="middle">'
            f'{v:.2f}</text>' for v in np.linspace(lat.min(), lat.max(), 4))
        yticks = "".join(
            f'<text x="{pad - 4}" y="{sy(v) + 3:.1f}" font-size="10" text-anchor="end">'
            f'{v:.1f}</text>' for v in np.linspace(acc.min(), acc.max(), 4))
        payload = json.dumps({"labels": [str(s) for s in self.labels], "acc": list(self.accuracy),
                              "lat": list(self.latency), "ws": list(self.ws),
                              "targets": list(self.targets), "grid": self.grid,
                              "x": [round(sx(v), 1) for v in lat],
                              "y": [round(sy(v), 1) for v in acc]}).replace("</", "<\\/")
        u = html.escape(self.uid)
        wi, ti = self.initial
        return f"""<div class="mobilecnn-reward" id="{u}" style="font-size:0.9em;max-width:100%">
<div><strong>{html.escape(self.title)}</strong></div>
<label style="display:inline-block;margin-right:1.5em">w
 <input type="range" class="r-w" min="0" max="{len(self.ws) - 1}" value="{wi}" style="width:10em">
 <output class="r-wv"></output></label>
<label style="display:inline-block">TAR (ms)
 <input type="range" class="r-t" min="0" max="{len(self.targets) - 1}" value="{ti}"
  style="width:10em"> <output class="r-tv"></output></label>
<div class="r-out" style="margin:0.3em 0"></div>
<svg viewBox="0 0 {width} {height}" style="width:100%;max-width:{width}px;height:auto"
 role="img" aria-label="accuracy against latency, the reward's choice ringed">
<line x1="{pad}" y1="{height - pad + 10}" x2="{width - 10}" y2="{height - pad + 10}"
 stroke="#888"/><line x1="{pad}" y1="10" x2="{pad}" y2="{height - pad + 10}" stroke="#888"/>
{ticks}{yticks}
<text x="{(width + pad) / 2}" y="{height - 4}" font-size="11" text-anchor="middle">
latency per image, ms (TF Lite, 1 thread)</text>
<text x="12" y="{height / 2}" font-size="11" text-anchor="middle"
 transform="rotate(-90 12 {height / 2})">accuracy %</text>
<line class="r-tar" y1="10" y2="{height - pad + 10}" stroke="#d62728" stroke-dasharray="4 3"/>
{dots}
<circle class="r-ring" r="8" fill="none" stroke="#d62728" stroke-width="2.5"/>
</svg>
<script type="application/json" class="r-data">{payload}</script>
<script>(function(){{var r=document.getElementById("{u}");
var d=JSON.parse(r.querySelector(".r-data").textContent);
var W=r.querySelector(".r-w"),T=r.querySelector(".r-t");
var x0={x0!r},x1={x1!r},pad={pad},width={width};
function sx(v){{return pad+(v-x0)/(x1-x0)*(width-pad-10);}}
function upd(){{var i=+W.value,j=+T.value,k=d.grid[i][j],w=d.ws[i],t=d.targets[j];
r.querySelector(".r-wv").textContent=w.toFixed(2);
r.querySelector(".r-tv").textContent=t.toFixed(3);
var ring=r.querySelector(".r-ring");ring.setAttribute("cx",d.x[k]);ring.setAttribute("cy",d.y[k]);
var l=r.querySelector(".r-tar");l.setAttribute("x1",sx(t));l.setAttribute("x2",sx(t));
var rw=d.acc[k]*Math.pow(d.lat[k]/t,w);
r.querySelector(".r-out").textContent="picks "+d.labels[k]+": accuracy "+d.acc[k].toFixed(2)+
"%, latency "+d.lat[k].toFixed(3)+" ms, reward "+rw.toFixed(2);}}
W.addEventListener("input",upd);T.addEventListener("input",upd);upd();}})();</script>
</div>"""

    def _repr_html_(self) -> str:
        return self.html()


def reward_widget(labels, accuracy, latency, ws=None, targets=None, initial_w=W_MOBILENET_V3,
                  initial_target=None, title: str = "", uid: str = "reward") -> RewardWidget:
    """A :class:`RewardWidget` over points ``(accuracy %, latency)``. ``ws`` defaults to -1 ... 0
    in steps of 0.05 and ``targets`` to 25 latencies spanning the points'; the sliders start at
    the values closest to ``initial_w`` and ``initial_target`` (default: the median latency)."""
    accuracy = [float(a) for a in accuracy]
    latency = [float(v) for v in latency]
    if not len(labels) == len(accuracy) == len(latency) or not labels:
        raise ValueError("labels, accuracy and latency must be non-empty and of equal length")
    ws = [round(float(w), 4) for w in (np.linspace(-1, 0, 21) if ws is None else ws)]
    if targets is None:
        targets = np.linspace(min(latency), max(latency), 25)
    targets = [float(t) for t in targets]
    grid = reward_grid(accuracy, latency, ws, targets).tolist()
    initial_target = statistics.median(latency) if initial_target is None else initial_target
    initial = (int(np.argmin(np.abs(np.asarray(ws) - initial_w))),
               int(np.argmin(np.abs(np.asarray(targets) - initial_target))))
    return RewardWidget(list(labels), accuracy, latency, ws, targets, grid, initial, title, uid)


# ---- the network NetAdapt shrinks ----------------------------------------------------------------

BASE = mobilenet_v3.SMALL


def default_expansions(alpha: float = 1.0) -> tuple:
    """The expansion width of every bottleneck of MobileNet v3 Small at ``alpha``, as the
    library's ``learner`` computes them (the first block has no expansion: its width is its
    input's)."""
    rows = BASE[1:-3]
    widths, cin, cin_thin = [], BASE[0].channels, BASE[0].channels
    for row in rows:
        widths.append(make_divisible(cin_thin * row.exp / cin, 8))
        cin, cin_thin = row.channels, make_divisible(row.channels * alpha, 8)
    return tuple(widths)


def searched_net(expansions: tuple, image_size: int = 32, num_classes: int = 10,
                 alpha: float = 1.0) -> Net:
    """MobileNet v3 Small (efficient last stage, no dropout) with the given expansion widths, built
    from the library's own ``stem``, ``bneck_block`` and ``classifier``."""
    rows = BASE[1:-3]
    if len(expansions) != len(rows):
        raise ValueError(f"expansions must have {len(rows)} widths, got {len(expansions)}")
    net = Net((image_size, image_size, 3))
    x = mobilenet_v3.stem(net, "input", BASE[0])
    for index, (row, e) in enumerate(zip(rows, expansions)):
        if index and (not isinstance(e, (int, np.integer)) or e < 8 or e % 8):
            raise ValueError(f"expansions[{index}] must be a multiple of 8 >= 8, got {e!r}")
        net.stage = f"group_{index}"
        cin = net.shape(x)[-1]
        x = mobilenet_v3.bneck_block(net, x, make_divisible(row.channels * alpha, 8), e / cin,
                                     row.kernel, row.stride, row.se,
                                     mobilenet_v3.ACTIVATION[row.nl], index)
    mobilenet_v3.classifier(net, x, BASE[-3:], rows[-1].channels, alpha, num_classes, 0.0,
                            "efficient")
    return net


def block_net(expansions: tuple, index: int, image_size: int) -> Net:
    """Bottleneck ``index`` of :func:`searched_net` alone, on the input it sees in the network."""
    full = searched_net(expansions, image_size)
    prefix = f"expanded_conv_{index}_"
    first = next(n for n in full if n.name.startswith(prefix))
    row = BASE[1:-3][index]
    net = Net(first.in_shape)
    mobilenet_v3.bneck_block(net, "input", full.shape(f"{prefix}project")[-1],
                             expansions[index] / first.in_shape[-1], row.kernel, row.stride,
                             row.se, mobilenet_v3.ACTIVATION[row.nl], index)
    return net


def shrink(width: int, fraction: float = 0.25) -> int:
    """The width after removing ``fraction`` of the channels, a multiple of 8 (0 if none left)."""
    new = int(width * (1 - fraction)) // 8 * 8
    return new if 8 <= new < width else 0


# ---- measuring latency with TF Lite --------------------------------------------------------------

def tflite_latency_ms(net: Net, runs: int = 60, warmup: int = 5, seed: int = 0) -> float:
    """Median single-image latency (ms) of ``net`` (random weights) as a float32 TF Lite model,
    one thread, batch 1 (:func:`mobilecnn.latency.measure`). Weights do not change a float
    model's speed."""
    from . import latency

    return latency.measure(net, "tflite", repeats=runs, warmup=warmup, seed=seed, threads=1).ms


def paired_latencies_ms(models: dict, runs: int = 200, warmup: int = 10, seed: int = 0) -> dict:
    """Single-image latencies (ms) of several ``.tflite`` models (``{label: bytes}``), one thread,
    measured **alternately** (:func:`mobilecnn.latency.interleaved` with one call per round):
    run i of every model follows run i of the one before, so a burst of load on a shared
    machine hits all of them alike and the per-run differences (``times[a] - times[b]``) are
    paired. Returns ``{label: array of runs}``."""
    from . import latency

    timings = latency.interleaved(models, "tflite", rounds=runs, repeats=1, warmup=warmup,
                                  seed=seed, threads=1)
    return {label: 1000 * np.array(t.seconds) for label, t in timings.items()}


def interleaved_latencies_ms(nets: dict, runs: int = 60, warmup: int = 5, seed: int = 0) -> dict:
    """Median single-image latency (ms) of each :class:`~mobilecnn.graph.Net` in ``nets``
    (``{label: Net}``, random weights, float32 TF Lite, one thread), measured **alternately**
    (:func:`mobilecnn.latency.interleaved`, one call per round): a burst of load on a shared
    machine hits all of them alike, so their differences and sums are comparable."""
    from . import latency

    timings = latency.interleaved(nets, "tflite", rounds=runs, repeats=1, warmup=warmup,
                                  seed=seed, threads=1)
    return {label: 1000 * float(np.median(t.seconds)) for label, t in timings.items()}


class LatencyTable:
    """NetAdapt's look-up table: the latency of bottleneck ``index`` at expansion ``width``,
    measured once (``measure`` of :func:`block_net`, by default :func:`tflite_latency_ms`) and
    then looked up, plus the **rest** of the network (stem, the blocks not searched, the
    classifier).

    The rest is not a block, so it cannot be timed alone: :meth:`calibrate` times the whole
    network and every searched block in one interleaved run (``measure_many``, by default
    :func:`interleaved_latencies_ms`) and sets ``rest_ms`` = whole - sum of blocks from that
    run, so that the two terms come from the same conditions. (Timing the whole network once and
    the blocks at other moments of a shared machine's load gives a "rest" that mixes the two
    loads: the committed run of ``benchmarks/mobilenet_v3.py`` from before this change had a rest
    larger than the whole network measured later.) :meth:`check` measures a network and its
    blocks the same way again, to compare the table's model with the measured whole."""

    def __init__(self, image_size: int, runs: int = 60, measure=None, measure_many=None):
        self.image_size, self.runs = image_size, runs
        self.measure = measure or (lambda net: tflite_latency_ms(net, self.runs))
        self.measure_many = measure_many or (lambda nets: interleaved_latencies_ms(nets,
                                                                                   self.runs))
        self.table: dict = {}
        self.conversions = 0
        self.rest_ms: float | None = None

    def __call__(self, expansions: tuple, index: int) -> float:
        key = (index, int(expansions[index]))
        if key not in self.table:
            self.table[key] = self.measure(block_net(expansions, index, self.image_size))
            self.conversions += 1
        return self.table[key]

    def blocks(self, expansions: tuple, searchable) -> float:
        return sum(self(expansions, i) for i in searchable)

    def _together(self, whole: Net, expansions: tuple, searchable) -> tuple:
        nets = {"whole": whole}
        nets.update({i: block_net(expansions, i, self.image_size) for i in searchable})
        ms = self.measure_many(nets)
        self.conversions += len(nets)
        return ms["whole"], {i: ms[i] for i in searchable}

    def calibrate(self, whole: Net, expansions: tuple, searchable) -> float:
        """Time ``whole`` and its searched blocks together; enter the blocks in the table and
        set ``rest_ms`` (whole - their sum). Returns ``rest_ms``."""
        whole_ms, blocks = self._together(whole, expansions, searchable)
        for i, ms in blocks.items():
            self.table[(i, int(expansions[i]))] = ms
        self.rest_ms = whole_ms - sum(blocks.values())
        return self.rest_ms

    def model(self, expansions: tuple, searchable) -> float:
        """The table's latency of a network: ``rest_ms`` + its blocks' entries."""
        if self.rest_ms is None:
            raise ValueError("calibrate the table first: rest_ms is not measured")
        return self.rest_ms + self.blocks(expansions, searchable)

    def check(self, whole: Net, expansions: tuple, searchable) -> dict:
        """``{"whole_ms", "blocks_ms", "modelled_ms"}``: ``whole`` and its blocks timed together
        now, and the table's model of the same network."""
        whole_ms, blocks = self._together(whole, expansions, searchable)
        return {"whole_ms": whole_ms, "blocks_ms": sum(blocks.values()),
                "modelled_ms": self.model(expansions, searchable)}


# ---- training and pruning in PyTorch -------------------------------------------------------------

def _images(torch, x):
    return torch.from_numpy(np.ascontiguousarray(x)).permute(0, 3, 1, 2)


def train_torch(model, x, y, epochs: int, learning_rate: float, seed: int,
                warmup_epochs: float = 1.0) -> None:
    """The book's recipe (:data:`mobilecnn.train.RECIPE`: AdamW, shifted batches, warm-up and
    cosine) at the given peak learning rate, on a PyTorch model of a :class:`Net`."""
    import torch

    from . import train

    recipe = dataclasses.replace(train.RECIPE, learning_rate=learning_rate,
                                 warmup_epochs=warmup_epochs)
    if train._threads():
        torch.set_num_threads(train._threads())
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    optimizer = torch.optim.AdamW(model.parameters(), lr=learning_rate,
                                  weight_decay=recipe.weight_decay, eps=recipe.epsilon)
    loss_fn = torch.nn.CrossEntropyLoss()
    steps_per_epoch = math.ceil(len(x) / recipe.batch_size)
    total, step = epochs * steps_per_epoch, 0
    model.train()
    for _ in range(epochs):
        for xb, yb in train.batches(x, y, recipe, rng):
            for group in optimizer.param_groups:
                group["lr"] = recipe.lr(step, total, steps_per_epoch)
            loss = loss_fn(model(_images(torch, xb), logits=True), torch.from_numpy(yb))
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            step += 1
    model.eval()


def accuracy_torch(model, x, y) -> float:
    import torch

    model.eval()
    with torch.inference_mode():
        logits = torch.cat([model(_images(torch, x[i:i + 512]), logits=True)
                            for i in range(0, len(x), 512)])
    return float((logits.argmax(1).numpy() == y).mean())


def pruned_state(model, new_model, index: int) -> dict:
    """The weights of ``model`` for ``new_model``, which has fewer expansion channels in block
    ``index``: the expansion filters with the largest L1 norms are kept (NetAdapt's rule), and
    the squeeze-and-excite layer, whose width follows the expansion's, keeps its largest rows."""
    old, new = model.state_dict(), new_model.state_dict()
    prefix = f"layers.expanded_conv_{index}_"
    expand = old[prefix + "expand.weight"]
    e_new = new[prefix + "expand.weight"].shape[0]
    keep = expand.abs().sum(dim=(1, 2, 3)).argsort(descending=True)[:e_new].sort().values
    index_for = {expand.shape[0]: keep}
    se = prefix + "squeeze_excite_conv.weight"
    if se in old:
        reduce_w = old[se][:, keep]
        s_new = new[se].shape[0]
        index_for[old[se].shape[0]] = (reduce_w.abs().sum(dim=(1, 2, 3))
                                       .argsort(descending=True)[:s_new].sort().values)
    state = {}
    for name, tensor in new.items():
        value = old[name]
        if value.shape != tensor.shape:
            for dim, (a, b) in enumerate(zip(value.shape, tensor.shape)):
                if a != b:
                    value = value.index_select(dim, index_for[a])
        state[name] = value.clone()
    return state


# ---- the search ----------------------------------------------------------------------------------

@dataclass
class Proposal:
    step: int
    block: int
    expansions: tuple
    latency_ms: float
    val_accuracy: float
    ratio: float          # (accuracy change, points) / (latency saved, ms); higher is better


@dataclass
class NetAdaptResult:
    settings: dict
    steps: list = field(default_factory=list)        # one dict per accepted network
    proposals: list = field(default_factory=list)    # every Proposal evaluated
    lut: dict = field(default_factory=dict)
    seconds: float = 0.0

    def to_json(self) -> dict:
        return {"settings": self.settings, "steps": self.steps,
                "proposals": [dataclasses.asdict(p) for p in self.proposals],
                "lut": {f"{i}:{w}": v for (i, w), v in sorted(self.lut.items())},
                "seconds": self.seconds}


def netadapt(steps: int = 4, alpha: float = 1.0, image_size: int = 32,
             latency_size: int = 224, base_epochs: int = 10, finetune_epochs: int = 1,
             final_epochs: int = 3, blocks=None, validation: int = 300, subset=None,
             seed: int = 0, runs: int = 60, log=print) -> NetAdaptResult:
    """A NetAdapt-style search on MobileNet v3 Small (see the module docstring).

    The network is trained for ``base_epochs`` on the digits at ``image_size`` pixels, with
    ``validation`` training images held out: proposals are compared on those, never on the test
    set. Each of ``steps`` steps makes one proposal per block in ``blocks`` (default: every
    bottleneck with an expansion layer), prunes the current network into it, fine-tunes it for
    ``finetune_epochs`` (peak learning rate 1e-3) and measures its validation accuracy; latency is
    the look-up table's at ``latency_size`` pixels plus the rest of the network, measured with
    the blocks in one interleaved run (:meth:`LatencyTable.calibrate`). The chosen proposal
    becomes the current network. At the end the last network is fine-tuned for
    ``final_epochs`` and its test accuracy measured, and the whole network and its blocks are
    timed together again (:meth:`LatencyTable.check`) to compare the table's model with the
    measured whole.
    """
    import torch

    from . import data, torch_backend, train

    start = time.perf_counter()
    torch.manual_seed(seed)
    (x_all, y_all), (x_test, y_test) = data.load("digits", image_size)
    order = np.random.default_rng(seed).permutation(len(x_all))
    val_idx, train_idx = order[:validation], order[validation:]
    if subset is not None:
        train_idx = train_idx[:subset]
    x_val, y_val, x_tr, y_tr = x_all[val_idx], y_all[val_idx], x_all[train_idx], y_all[train_idx]

    expansions = default_expansions(alpha)
    searchable = tuple(blocks) if blocks is not None else tuple(range(1, len(expansions)))
    lut = LatencyTable(latency_size, runs)

    def build(e):
        model = torch_backend.build(searched_net(e, image_size, alpha=alpha))
        torch_backend.set_batchnorm_momentum(model, train.RECIPE.bn_momentum)
        # channels-last memory, as mobilecnn.train does: three times faster on this CPU
        return model.to(memory_format=torch.channels_last)

    model = build(expansions)
    train.glorot_initialize_torch(model)
    train_torch(model, x_tr, y_tr, base_epochs, train.RECIPE.learning_rate, seed)
    rest = lut.calibrate(searched_net(expansions, latency_size, alpha=alpha), expansions,
                         searchable)
    whole = rest + lut.blocks(expansions, searchable)
    result = NetAdaptResult(dict(steps=steps, alpha=alpha, image_size=image_size,
                                 latency_size=latency_size, base_epochs=base_epochs,
                                 finetune_epochs=finetune_epochs, final_epochs=final_epochs,
                                 blocks=list(searchable), validation=validation, subset=subset,
                                 seed=seed, runs=runs, rest_ms=rest, base_whole_ms=whole))

    def record(step, chosen, e, m, latency, val):
        result.steps.append(dict(step=step, block=chosen, expansions=list(map(int, e)),
                                 latency_ms=latency, val_accuracy=val,
                                 test_accuracy=accuracy_torch(m, x_test, y_test),
                                 macs=sum(n.macs for n in searched_net(e, 224, 1000, alpha))))

    current_val = accuracy_torch(model, x_val, y_val)
    current_lat = rest + lut.blocks(expansions, searchable)
    record(0, None, expansions, model, current_lat, current_val)
    log(f"step 0: latency {current_lat:.3f} ms, validation {100 * current_val:.1f}%")
    for step in range(1, steps + 1):
        best = None
        for block in searchable:
            width = shrink(expansions[block])
            if not width:
                continue
            e = expansions[:block] + (width,) + expansions[block + 1:]
            candidate = build(e)
            candidate.load_state_dict(pruned_state(model, candidate, block))
            train_torch(candidate, x_tr, y_tr, finetune_epochs, 1e-3, seed + step,
                        warmup_epochs=0.0)
            val = accuracy_torch(candidate, x_val, y_val)
            latency = rest + lut.blocks(e, searchable)
            saved = current_lat - latency
            ratio = 100 * (val - current_val) / saved if saved > 0 else -math.inf
            result.proposals.append(Proposal(step, block, tuple(map(int, e)), latency, val, ratio))
            if saved > 0 and (best is None or ratio > best[0]):
                best = (ratio, block, e, candidate, latency, val)
        if best is None:
            break
        _, block, expansions, model, current_lat, current_val = best
        record(step, block, expansions, model, current_lat, current_val)
        log(f"step {step}: shrink block {block} to {expansions[block]}, latency "
            f"{current_lat:.3f} ms, validation {100 * current_val:.1f}% "
            f"({time.perf_counter() - start:.0f} s)")
    train_torch(model, x_tr, y_tr, final_epochs, 1e-3, seed + 1000, warmup_epochs=0.0)
    final = result.steps[-1]
    final["final_test_accuracy"] = accuracy_torch(model, x_test, y_test)
    final.update(lut.check(searched_net(expansions, latency_size, alpha=alpha), expansions,
                           searchable))
    result.lut = dict(lut.table)
    result.seconds = time.perf_counter() - start
    return result
