/* mobilecnn static explorer: looks up precomputed profiles, never computes a cost.
 *
 * Each explorer is a <div class="mobilecnn-explorer"> holding its controls, a
 * <script type="application/json" class="mcnn-data"> with every point of its slider grid
 * (written by mobilecnn.static.precompute), and a copy of this script. The script sets up
 * every explorer on the page that is not set up yet, so it does not matter which copy runs.
 */
(function () {
  "use strict";

  function el(tag, attrs, text) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) { node.setAttribute(k, attrs[k]); });
    if (text !== undefined) { node.textContent = text; }
    return node;
  }

  // Integers with thousands separators, as Python's f"{n:,}" writes them.
  function grouped(n) { return Number(n).toLocaleString("en-US"); }

  function field(key, text) { return el("span", { "data-field": key }, text); }

  function summary(data, point) {
    var box = el("div", { "class": "mcnn-summary" });
    var t = point.t, r = point.r;
    var line = el("div");
    line.append("input ", field("image_size", t[0] + "\u00d7" + t[0]), " \u00b7 ",
      field("params", grouped(t[1])), " params (", field("trainable_params", grouped(t[2])),
      " trainable) \u00b7 ", field("macs", grouped(t[3])), " MACs = ",
      field("flops", grouped(t[4])), " FLOPs");
    var ratio = el("div", { "class": "mcnn-ratio" });
    ratio.append("vs. the unthinned baseline: params \u00d7", field("params_ratio", r[0]),
      " (rule of thumb " + data.rules[0] + " = ", field("params_rule", r[1]),
      ") \u00b7 MACs \u00d7", field("macs_ratio", r[2]),
      " (rule of thumb " + data.rules[1] + " = ", field("macs_rule", r[3]), ")");
    box.append(line, ratio);
    return box;
  }

  function costCells(row, shape, p, t, m) {
    row.append(el("td", {}, shape), el("td", { "data-field": "params" }, grouped(p)),
      el("td", { "data-field": "trainable_params" }, grouped(t)),
      el("td", { "data-field": "macs" }, grouped(m)));
  }

  function table(data, point, open, rerender) {
    var tbl = el("table", { "class": "mcnn-table", "data-by": "stage" });
    var head = el("tr");
    ["stage", "output", "params", "trainable", "MACs"].forEach(function (h) {
      head.append(el("th", {}, h));
    });
    var thead = el("thead");
    thead.append(head);
    tbl.append(thead);
    var body = el("tbody");
    point.s.forEach(function (s, i) {
      var name = data.stages[s[0]];
      var isOpen = !!open[name];
      var row = el("tr", { "data-row": String(i), "data-stage": name, "class": "mcnn-stage" });
      var button = el("button", { "type": "button", "aria-expanded": String(isOpen),
        "title": "show or hide the blocks of this stage" }, (isOpen ? "\u25be " : "\u25b8 ") + name);
      button.addEventListener("click", function () { open[name] = !open[name]; rerender(); });
      var first = el("td");
      first.append(button);
      row.append(first);
      costCells(row, data.shapes[s[1]], s[2], s[3], s[4]);
      body.append(row);
      if (!isOpen) { return; }
      point.b.forEach(function (b) {
        if (b[0] !== s[0]) { return; }
        var brow = el("tr", { "class": "mcnn-block", "data-block": data.blocks[b[1]] });
        brow.append(el("td", {}, data.blocks[b[1]]));
        costCells(brow, data.shapes[b[2]], b[3], b[4], b[5]);
        body.append(brow);
      });
    });
    tbl.append(body);
    return tbl;
  }

  function setup(root) {
    root.setAttribute("data-mcnn-ready", "true");
    var data = JSON.parse(root.querySelector("script.mcnn-data").textContent);
    var inputs = Array.prototype.slice.call(root.querySelectorAll("[data-param]"));
    var out = root.querySelector(".mcnn-out");
    var tableBox = root.querySelector(".mcnn-tablebox");
    var open = {};

    // The position of a control on its grid: a range input's value, a menu's selected index.
    function position(input) {
      return input.type === "range" ? input.value : String(input.selectedIndex);
    }

    function render() {
      var key = inputs.map(position).join(",");
      inputs.forEach(function (input, k) {
        var label = data.controls[k].labels[Number(position(input))];
        root.querySelector('output[data-value="' + input.getAttribute("data-param") + '"]')
          .textContent = label;
        if (input.type === "range") { input.setAttribute("aria-valuetext", label); }
      });
      var point = data.points[key];
      root.setAttribute("data-key", key);
      out.replaceChildren();
      tableBox.replaceChildren();
      if (point.e !== undefined) {
        out.append(el("div", { "class": "mcnn-error", "data-field": "error", "role": "alert" },
          point.e));
        return;
      }
      out.append(summary(data, point));
      tableBox.append(table(data, point, open, render));
    }

    inputs.forEach(function (input) {
      input.addEventListener("input", render);
      input.addEventListener("change", render);
    });
    render();
  }

  Array.prototype.forEach.call(
    document.querySelectorAll(".mobilecnn-explorer:not([data-mcnn-ready])"), setup);
})();
