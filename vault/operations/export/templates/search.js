(function () {
  "use strict";
  // The page's own search folds like the vault (vault/text/normalize.py): each item carries its
  // text already folded at export time (NFKC, traditional to simplified Chinese, case, diacritics)
  // in data-f; the query is folded here the same way, its traditional characters mapped with the
  // table the page carries (only the characters this page holds).
  var q = document.getElementById("q"), count = document.getElementById("count");
  var items = Array.prototype.slice.call(document.querySelectorAll("#log [data-item]"));
  var days = Array.prototype.slice.call(document.querySelectorAll("#log .day"));
  var table = document.getElementById("t2s"), t2s = table ? JSON.parse(table.textContent) : {};
  var hay = null;
  // The same classes as _DIACRITICS and _INVISIBLE in vault/text/normalize.py.
  var marks = new RegExp("[\\u0300-\\u036f\\u1ab0-\\u1aff\\u1dc0-\\u1dff\\u20d0-\\u20ff\\ufe20-\\ufe2f" +
    "\\u0591-\\u05bd\\u05bf\\u05c1\\u05c2\\u05c4\\u05c5\\u05c7" +
    "\\u0610-\\u061a\\u064b-\\u065f\\u0670\\u06d6-\\u06dc\\u06df-\\u06e4\\u06e7\\u06e8\\u06ea-\\u06ed]", "g");
  var invisible = new RegExp("[\\u00ad\\u061c\\u180e\\u200b-\\u200f\\u202a-\\u202e\\u2060-\\u2064" +
    "\\u2066-\\u2069\\ufeff\\ufe00-\\ufe0f\\u{e0000}-\\u{e007f}\\u{e0100}-\\u{e01ef}]", "gu");
  function fold(s) {
    s = s.normalize("NFKC").replace(invisible, "");
    s = Array.from(s).map(function (ch) { return t2s[ch] || ch; }).join("");
    s = s.toLowerCase().replace(/\u00df/g, "ss").replace(/\u03c2/g, "\u03c3");  // casefold's ß and final sigma
    return s.normalize("NFD").replace(marks, "").normalize("NFC");
  }
  function run() {
    var term = fold(q.value.trim());
    if (hay === null) { hay = items.map(function (el) { return el.getAttribute("data-f") || fold(el.textContent); }); }
    var n = 0;
    items.forEach(function (el, i) {
      var hit = term === "" || hay[i].indexOf(term) !== -1;
      el.hidden = !hit;
      if (hit && term !== "") { n += 1; }
    });
    days.forEach(function (d) { d.hidden = term !== ""; });
    document.body.classList.toggle("searching", term !== "");
    count.textContent = term === "" ? "" : (n === 0 ? "nothing found here" : n + " found");
  }
  q.addEventListener("input", run);
  document.addEventListener("keydown", function (e) {
    if (e.key === "/" && document.activeElement !== q) { e.preventDefault(); q.focus(); }
    if (e.key === "Escape" && document.activeElement === q) { q.value = ""; run(); }
  });
})();
