/* mobilecnn static explorer: fills in the page's fields from factored costs.
 *
 * Each explorer is a <div class="mobilecnn-explorer"> whose HTML (written by mobilecnn.static)
 * already holds the whole layout: controls, summary, error box, and one stage table per network
 * layout with a hidden row per block. A <script type="application/json" class="mcnn-data">
 * holds the costs, factored (see mobilecnn.static.precompute): per block its parameters and its
 * MACs per output pixel of each spatial "slot", per rho the size of each slot. This script
 * multiplies and adds them (exactly as mobilecnn.static.evaluate does in Python), writes the
 * [data-field] elements and shows or hides rows; it creates no element. It sets up every
 * explorer on the page that is not set up yet, so it does not matter which copy runs.
 */
(function () {
  "use strict";

  // Integers with thousands separators, as Python's f"{n:,}" writes them.
  function grouped(n) { return Number(n).toLocaleString("en-US"); }

  // Python's f"{x:.3f}": toFixed rounds an exact tie up, Python to even. A double is an exact
  // tie at three decimals only when 16x is an odd integer (x = m/16, m odd).
  function fixed3(x) {
    if (Number.isInteger(16 * x) && !Number.isInteger(8 * x)) {
      var n = Math.floor(1000 * x);
      return ((n % 2 === 0 ? n : n + 1) / 1000).toFixed(3);
    }
    return x.toFixed(3);
  }

  function strides(sizes) {
    var out = new Array(sizes.length), step = 1;
    for (var k = sizes.length - 1; k >= 0; k--) { out[k] = step; step *= sizes[k]; }
    return out;
  }

  // Totals, stage rows and block rows at grid positions `pos` (no error there).
  function totals(data, pos) {
    var r = data.rho >= 0 ? pos[data.rho] : 0;
    var other = [], sizes = [];
    data.controls.forEach(function (c, k) {
      if (k !== data.rho) { other.push(k); sizes.push(c.labels.length); }
    });
    var st = strides(sizes), index = 0;
    other.forEach(function (k, i) { index += pos[k] * st[i]; });
    var setting = data.settings[index];
    var layout = data.layouts[setting[0]];
    var blocks = [], stages = [], byName = {};
    layout.blocks.forEach(function (b, j) {
      var rec = data.records[setting[j + 1]];
      var macs = 0;
      for (var k = 4; k < rec.length; k += 2) {
        var slot = rec[k] < 0 ? null : data.slots[rec[k]][r];
        macs += (slot ? slot[0] * slot[1] : 1) * rec[k + 1];
      }
      var out = rec[2] < 0 ? null : data.slots[rec[2]][r];
      var shape = out ? out[0] + "\u00d7" + out[1] + "\u00d7" + rec[3] : String(rec[3]);
      var stage = layout.stages[b[0]];
      blocks.push({ stage: stage, shape: shape, p: rec[0], t: rec[1], m: macs });
      var row = byName[stage];
      if (!row) { row = byName[stage] = { stage: stage, p: 0, t: 0, m: 0 }; stages.push(row); }
      row.shape = shape; row.p += rec[0]; row.t += rec[1]; row.m += macs;
    });
    var sum = { p: 0, t: 0, m: 0 };
    stages.forEach(function (s) { sum.p += s.p; sum.t += s.t; sum.m += s.m; });
    return { layout: setting[0], sum: sum, stages: stages, blocks: blocks };
  }

  // What the page shows at `pos` (mobilecnn.static.evaluate).
  function evaluate(data, pos) {
    var sizes = data.controls.map(function (c) { return c.labels.length; });
    var st = strides(sizes), index = 0;
    pos.forEach(function (p, k) { index += p * st[k]; });
    var point = data.points[index];
    if (point < 0) { return { error: data.errors[-1 - point] }; }
    var now = totals(data, pos);
    var base = null;
    if (data.points[data.baseline] >= 0) {
      base = totals(data, sizes.map(function (n, k) {
        return Math.floor(data.baseline / st[k]) % n; })).sum;
    }
    var w = data.rules.width >= 0 ? pos[data.rules.width] : 0;
    var r = data.rho >= 0 ? pos[data.rho] : 0;
    var size = data.image[r];
    now.summary = {
      image_size: size + "\u00d7" + size,
      params: grouped(now.sum.p),
      trainable_params: grouped(now.sum.t),
      macs: grouped(now.sum.m),
      flops: grouped(2 * now.sum.m),
      peak_bytes: grouped(point),
      peak_kb: grouped(Math.ceil(point / 1024)),
      sram_fit: point <= data.sram_budget ? "within" : "over",
      params_ratio: base ? fixed3(now.sum.p / base.p) : "n/a",
      params_rule: data.rules.params[w],
      macs_ratio: base ? fixed3(now.sum.m / base.m) : "n/a",
      macs_rule: data.rules.macs[w][r]
    };
    return now;
  }

  function fill(row, shape, p, t, m) {
    row.querySelector('[data-field="shape"]').textContent = shape;
    row.querySelector('[data-field="params"]').textContent = grouped(p);
    row.querySelector('[data-field="trainable_params"]').textContent = grouped(t);
    row.querySelector('[data-field="macs"]').textContent = grouped(m);
  }

  function setup(root) {
    root.setAttribute("data-mcnn-ready", "true");
    var data = JSON.parse(root.querySelector("script.mcnn-data").textContent);
    var inputs = Array.prototype.slice.call(root.querySelectorAll("[data-param]"));
    var summary = root.querySelector(".mcnn-out .mcnn-summary");
    var error = root.querySelector('.mcnn-out [data-field="error"]');
    var fields = {};
    Array.prototype.forEach.call(summary.querySelectorAll("[data-field]"), function (el) {
      fields[el.getAttribute("data-field")] = el;
    });
    var tables = Array.prototype.slice.call(root.querySelectorAll(".mcnn-table[data-layout]"));
    var outputs = inputs.map(function (input) {
      return root.querySelector('output[data-value="' + input.getAttribute("data-param") + '"]');
    });
    var open = {};

    // The position of a control on its grid: a range input's value, a menu's selected index.
    function position(input) {
      return input.type === "range" ? Number(input.value) : input.selectedIndex;
    }

    function render() {
      var pos = inputs.map(position);
      inputs.forEach(function (input, k) {
        var label = data.controls[k].labels[pos[k]];
        outputs[k].textContent = label;
        if (input.type === "range") { input.setAttribute("aria-valuetext", label); }
      });
      root.setAttribute("data-key", pos.join(","));
      var shown = evaluate(data, pos);
      var failed = shown.error !== undefined;
      summary.hidden = failed;
      error.hidden = !failed;
      error.textContent = failed ? shown.error : "";
      tables.forEach(function (t) {
        t.hidden = failed || Number(t.getAttribute("data-layout")) !== shown.layout;
      });
      if (failed) { return; }
      Object.keys(shown.summary).forEach(function (key) {
        fields[key].textContent = shown.summary[key];
      });
      var table = tables[shown.layout];
      var stageRows = table.querySelectorAll("tr.mcnn-stage");
      shown.stages.forEach(function (s, i) {
        var row = stageRows[i];
        fill(row, s.shape, s.p, s.t, s.m);
        var button = row.querySelector("button");
        button.setAttribute("aria-expanded", String(!!open[s.stage]));
        button.firstChild.textContent = (open[s.stage] ? "\u25be " : "\u25b8 ") + s.stage;
      });
      Array.prototype.forEach.call(table.querySelectorAll("tr.mcnn-block"), function (row) {
        var b = shown.blocks[Number(row.getAttribute("data-j"))];
        fill(row, b.shape, b.p, b.t, b.m);
        row.hidden = !open[b.stage];
      });
    }

    tables.forEach(function (t) {
      Array.prototype.forEach.call(t.querySelectorAll("tr.mcnn-stage button"), function (button) {
        button.addEventListener("click", function () {
          var stage = button.closest("tr").getAttribute("data-stage");
          open[stage] = !open[stage];
          render();
        });
      });
    });
    inputs.forEach(function (input) {
      input.addEventListener("input", render);
      input.addEventListener("change", render);
    });
    render();
  }

  Array.prototype.forEach.call(
    document.querySelectorAll(".mobilecnn-explorer:not([data-mcnn-ready])"), setup);
})();
