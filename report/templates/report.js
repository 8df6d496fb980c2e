
(function () {
  "use strict";
  // Filters by severity, host, rule and outcome. Each filterable element lists its values in
  // data-severity, data-host, data-rule and data-outcome (space-separated); an element without
  // one of them is not filtered by it. Nothing here changes the numbers on the page.
  var form = document.getElementById("filters");
  if (!form) {
    return;
  }
  var selects = Array.prototype.slice.call(form.querySelectorAll("select"));
  var items = Array.prototype.slice.call(document.querySelectorAll("[data-filterable]"));
  var findings = items.filter(function (item) { return item.classList.contains("finding"); });
  var status = document.getElementById("filter-status");
  var ruleOutcomes = ["passed", "not_applicable", "not_checked", "error"];

  function matches(item, wanted) {
    return Object.keys(wanted).every(function (name) {
      var values = item.getAttribute("data-" + name);
      return values === null || values.split(" ").indexOf(wanted[name]) !== -1;
    });
  }

  function apply() {
    var wanted = {};
    selects.forEach(function (select) {
      if (select.value !== "") {
        wanted[select.name] = select.value;
      }
    });
    items.forEach(function (item) {
      item.classList.toggle("filtered-out", !matches(item, wanted));
    });
    var shown = findings.filter(function (item) {
      return !item.classList.contains("filtered-out");
    }).length;
    document.querySelectorAll("section.host").forEach(function (host) {
      var mine = host.querySelectorAll(".finding");
      var visible = host.querySelectorAll(".finding:not(.filtered-out)");
      var note = host.querySelector(".no-match");
      if (note) {
        note.hidden = mine.length === 0 || visible.length > 0;
      }
      if (wanted.rule !== undefined || ruleOutcomes.indexOf(wanted.outcome) !== -1) {
        host.querySelectorAll("details.outcomes").forEach(function (details) {
          details.open = true;
        });
      }
    });
    var active = Object.keys(wanted).length > 0;
    status.textContent = active
      ? "Showing " + shown + " of " + findings.length + " finding(s)"
      : findings.length + " finding(s)";
  }

  selects.forEach(function (select) {
    select.addEventListener("change", apply);
  });
  form.addEventListener("reset", function () {
    window.setTimeout(apply, 0);
  });
  form.addEventListener("submit", function (event) {
    event.preventDefault();
  });

  // Printing shows everything: open the folded tables, and fold back afterwards.
  var opened = [];
  window.addEventListener("beforeprint", function () {
    document.querySelectorAll("details:not([open])").forEach(function (details) {
      details.open = true;
      opened.push(details);
    });
  });
  window.addEventListener("afterprint", function () {
    opened.forEach(function (details) {
      details.open = false;
    });
    opened = [];
  });

  form.hidden = false;
  apply();
})();
