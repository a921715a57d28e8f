// Inlined into index.html: filters (failed only, tag, text), expand/collapse, and
// links that open the folded sections around their target.
(function () {
  "use strict";
  var all = function (sel, root) { return Array.prototype.slice.call((root || document).querySelectorAll(sel)); };
  var failedOnly = document.getElementById("failed-only");
  var tagFilter = document.getElementById("tag-filter");
  var textFilter = document.getElementById("text-filter");
  var counter = document.getElementById("filter-count");
  var noMatch = document.getElementById("no-match");
  var features = all("details.feature");

  function summaryText(el) {
    var s = el.querySelector(":scope > summary");
    return s ? s.textContent.toLowerCase() : "";
  }
  function hasTag(el, tag) { return (" " + (el.dataset.tags || "") + " ").indexOf(" " + tag + " ") >= 0; }

  function apply(openMatches) {
    var fo = failedOnly.checked, tag = tagFilter.value, q = textFilter.value.trim().toLowerCase();
    var active = fo || tag || q;
    var shown = 0, total = 0;
    features.forEach(function (f) {
      var title = summaryText(f);
      var scenarios = all("details.scenario", f);
      var any = false;
      scenarios.forEach(function (s) {
        total += 1;
        var ok = (!fo || s.dataset.status === "failed") && (!tag || hasTag(s, tag)) &&
          (!q || title.indexOf(q) >= 0 || s.textContent.toLowerCase().indexOf(q) >= 0);
        s.hidden = !ok;
        if (ok) { any = true; shown += 1; }
      });
      all("section.rule", f).forEach(function (r) { r.hidden = !!active; });
      var fok = scenarios.length ? any :
        (!fo || f.dataset.status === "failed") && (!tag || hasTag(f, tag)) &&
        (!q || f.textContent.toLowerCase().indexOf(q) >= 0);
      f.hidden = !fok;
      if (fok && active && openMatches) { f.open = true; }
    });
    counter.textContent = active ? shown + " of " + total + " scenarios" : "";
    noMatch.hidden = !active || features.some(function (f) { return !f.hidden; });
  }

  var timer = null;
  failedOnly.addEventListener("change", function () { apply(true); });
  tagFilter.addEventListener("change", function () { apply(true); });
  textFilter.addEventListener("input", function () {
    clearTimeout(timer);
    timer = setTimeout(function () { apply(true); }, 120);
  });
  document.getElementById("expand-all").addEventListener("click", function () {
    all("details.feature, details.scenario").forEach(function (d) { d.open = true; });
  });
  document.getElementById("collapse-all").addEventListener("click", function () {
    all("details.feature").forEach(function (d) { d.open = false; });
  });

  function reveal(id) {
    var el = id && document.getElementById(id);
    if (!el) { return false; }
    for (var p = el; p; p = p.parentElement) {
      if (p.tagName === "DETAILS") { p.open = true; }
      if (p.hidden) { p.hidden = false; }
    }
    el.scrollIntoView({ block: "start" });
    el.classList.remove("flash");
    void el.offsetWidth;  // restart the highlight when the same link is followed twice
    el.classList.add("flash");
    return true;
  }
  document.addEventListener("click", function (e) {
    var a = e.target.closest ? e.target.closest("a[href^='#']") : null;
    if (!a) { return; }
    var id = decodeURIComponent(a.getAttribute("href").slice(1));
    if (id && reveal(id)) {
      e.preventDefault();
      history.replaceState(null, "", "#" + id);
    }
  });
  if (location.hash.length > 1) { reveal(decodeURIComponent(location.hash.slice(1))); }
})();
