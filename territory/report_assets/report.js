
(function () {
  "use strict";
  var table = document.getElementById("companies");
  var tbody = table.tBodies[0];
  var rows = Array.prototype.slice.call(tbody.rows);
  rows.forEach(function (row, i) { row._i = i; });
  var order = rows.slice();
  var heads = Array.prototype.slice.call(table.tHead.rows[0].cells);
  var box = document.getElementById("q");
  var count = document.getElementById("count");
  var more = document.getElementById("more");
  var page = parseInt(table.dataset.page, 10) || 500;
  var limit = page;  // rows shown; the others matching wait behind "Show more"
  var total = rows.length.toLocaleString("en-US");
  var collator = new Intl.Collator(undefined, {numeric: true, sensitivity: "base"});
  var RANK = {tier: {HOT: 3, WARM: 2, COLD: 1}, conf: {high: 3, medium: 2, low: 1}};
  var keys = {};
  var texts = null;
  var tier = "";  // "" all, "-" those without a tier, else one tier

  function keyOf(row, col, kind) {
    if (kind === "tier") { return RANK.tier[row.dataset.t] || null; }
    var cell = row.cells[col];
    var first = cell && cell.firstChild;
    var text = first ? first.textContent.trim() : "";
    if (!text || text === "\u2014") { return null; }
    if (kind === "num" || kind === "rank") { var n = parseFloat(text); return isNaN(n) ? null : n; }
    if (kind === "conf") { return RANK.conf[text] || null; }
    return text;
  }

  function sortBy(col, kind, dir) {
    var k = keys[col] || (keys[col] = rows.map(function (r) { return keyOf(r, col, kind); }));
    var sign = dir === "ascending" ? 1 : -1;
    order = rows.slice().sort(function (a, b) {
      var x = k[a._i], y = k[b._i];
      if (x === null || y === null) {
        // Companies without a value stay at the bottom whichever way the column is sorted.
        return x === y ? a._i - b._i : (x === null ? 1 : -1);
      }
      var c = kind === "text" ? collator.compare(x, y) : x - y;
      return c ? sign * c : a._i - b._i;
    });
    var frag = document.createDocumentFragment();
    order.forEach(function (r) { frag.appendChild(r); });
    tbody.appendChild(frag);
    heads.forEach(function (th, i) {
      if (th.dataset.sort) { th.setAttribute("aria-sort", i === col ? dir : "none"); }
    });
    apply();
  }

  heads.forEach(function (th, col) {
    var kind = th.dataset.sort;
    if (!kind) { return; }
    th.querySelector("button").addEventListener("click", function () {
      var now = th.getAttribute("aria-sort");
      var dir = now === "descending" ? "ascending" : now === "ascending" ? "descending"
        : (kind === "text" || kind === "rank" ? "ascending" : "descending");
      sortBy(col, kind, dir);
    });
  });

  function apply() {
    var terms = box.value.toLowerCase().split(/\s+/).filter(Boolean);
    if (terms.length && !texts) {
      texts = rows.map(function (r) {
        return Array.prototype.map.call(r.cells, function (c) { return c.textContent; })
          .join("\n").toLowerCase();
      });
    }
    var matched = 0;
    order.forEach(function (r) {
      var t = r.dataset.t;
      var ok = (!tier || (tier === "-" ? !RANK.tier[t] : t === tier)) && terms.every(function (w) {
        return texts[r._i].indexOf(w) >= 0;
      });
      if (ok) { matched += 1; }
      var show = ok && matched <= limit;
      if (r.hidden === show) { r.hidden = !show; }  // untouched rows need no new layout
    });
    count.textContent = matched.toLocaleString("en-US") + " of " + total + " companies";
    more.hidden = matched <= limit;
    more.firstChild.textContent = "Showing the first " + limit.toLocaleString("en-US") + "; " +
      (matched - limit).toLocaleString("en-US") + " more.";
  }

  var timer = null;
  box.addEventListener("input", function () {
    clearTimeout(timer);
    limit = page;
    // A big table is filtered once typing pauses, a small one on every key.
    if (rows.length > 2000) { timer = setTimeout(apply, 150); } else { apply(); }
  });
  document.querySelectorAll(".seg button").forEach(function (button) {
    button.addEventListener("click", function () {
      document.querySelectorAll(".seg button").forEach(function (b) {
        b.setAttribute("aria-pressed", b === button ? "true" : "false");
      });
      tier = button.dataset.f;
      limit = page;
      apply();
    });
  });
  more.querySelectorAll("button").forEach(function (button) {
    button.addEventListener("click", function () {
      limit = button.dataset.more === "all" ? rows.length : limit + page;
      apply();
    });
  });
})();
