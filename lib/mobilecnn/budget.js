/* mobilecnn budget view: which measured settings fit a latency, flash and SRAM budget.
 *
 * Each view is a <div class="mobilecnn-budget"> whose HTML (written by mobilecnn.compare.BudgetView)
 * holds the sliders, the runtime menu and one table row per setting, marked as the initial budget
 * decides. A <script type="application/json" class="mb-data"> holds the rows' fields.
 * On every move this script applies the same test as mobilecnn.compare.fits: latency in the chosen
 * runtime <= budget, the flash the board needs <= flash, the SRAM it needs <= SRAM. It creates
 * no element.
 */
(function () {
  "use strict";

  function setUp(root) {
    if (root.getAttribute("data-ready")) { return; }
    root.setAttribute("data-ready", "1");
    var data = JSON.parse(root.querySelector("script.mb-data").textContent);
    var rows = root.querySelectorAll("table.mb-table tbody tr");
    function control(name) { return root.querySelector('[data-budget="' + name + '"]'); }
    function shows(name) { return root.querySelector('[data-shows="' + name + '"]'); }

    function update() {
      var latency = data.latency[Number(control("latency").value)];
      var flash = data.memory[Number(control("flash").value)];
      var sram = data.memory[Number(control("sram").value)];
      var runtime = control("runtime").value;
      shows("latency").textContent = latency + " ms";
      shows("flash").textContent = flash + " KB";
      shows("sram").textContent = sram + " KB";
      shows("runtime").textContent = "latency, " + runtime + " (ms)";
      var count = 0;
      data.rows.forEach(function (row, k) {
        var ms = row["latency_ms " + runtime];
        var fit = ms <= latency && row.flash_bytes <= 1024 * flash &&
                  row.sram_bytes <= 1024 * sram;
        if (fit) { count += 1; }
        rows[k].className = fit ? "mb-fit" : "mb-out";
        rows[k].querySelector("[data-latency]").textContent = ms.toFixed(2);
      });
      shows("count").textContent = String(count);
    }

    ["latency", "flash", "sram", "runtime"].forEach(function (name) {
      control(name).addEventListener("input", update);
      control(name).addEventListener("change", update);
    });
    update();
  }

  document.querySelectorAll("div.mobilecnn-budget").forEach(setUp);
})();
