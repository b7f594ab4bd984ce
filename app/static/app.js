// Pingshen: small progressive enhancements; every page works without them.
(function () {
  "use strict";
  // Ask before irreversible actions: <button data-confirm="...">.
  document.addEventListener("submit", function (event) {
    var button = event.submitter;
    var message = (button && button.dataset.confirm) || event.target.dataset.confirm;
    if (message && !window.confirm(message)) { event.preventDefault(); }
  });
  // Warn before leaving a form with unsaved changes: <form data-warn-unsaved>.
  var dirty = false;
  document.addEventListener("input", function (event) {
    if (event.target.form && event.target.form.hasAttribute("data-warn-unsaved")) { dirty = true; }
  });
  document.addEventListener("submit", function () { dirty = false; });
  document.addEventListener("pingshen:saved", function () { dirty = false; });
  window.addEventListener("beforeunload", function (event) {
    if (dirty) { event.preventDefault(); event.returnValue = ""; }
  });
  // Table fields: "add a row" clones the last row template: <template data-row-template>.
  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-add-row]");
    if (!button) { return; }
    var table = document.getElementById(button.dataset.addRow);
    var template = table && table.querySelector("template");
    if (!template) { return; }
    var index = table.querySelectorAll("tbody tr").length;
    var html = template.innerHTML.replace(/__index__/g, String(index));
    table.querySelector("tbody").insertAdjacentHTML("beforeend", html);
  });
})();

// ---- Web interface: application, admin and review pages ----
(function () {
  "use strict";
  // Controls that only work with JavaScript stay hidden without it.
  document.querySelectorAll("[data-add-row][hidden], [data-check-all-label][hidden], [data-total][hidden]")
    .forEach(function (element) { element.hidden = false; });
  // "Select all on this page": <input type="checkbox" data-check-all="ids">.
  document.addEventListener("change", function (event) {
    var name = event.target.dataset && event.target.dataset.checkAll;
    if (!name) { return; }
    event.target.form.querySelectorAll('input[type=checkbox][name="' + name + '"]')
      .forEach(function (box) { box.checked = event.target.checked; });
  });
  // Score sheets: show the running total of the inputs marked data-score.
  function updateTotal(form) {
    var output = form.querySelector("[data-total-value]");
    if (!output) { return; }
    var total = 0;
    form.querySelectorAll("input[data-score]").forEach(function (input) {
      var value = parseFloat(input.value);
      if (!isNaN(value)) { total += value; }
    });
    output.textContent = String(Math.round(total * 100) / 100);
  }
  document.querySelectorAll("form[data-total-max]").forEach(updateTotal);
  document.addEventListener("input", function (event) {
    if (event.target.form && event.target.form.hasAttribute("data-total-max")) {
      updateTotal(event.target.form);
    }
  });
})();

// ---- Live boards: reload when the state changes: <div data-poll-url data-poll-version> ----
(function () {
  "use strict";
  var board = document.querySelector("[data-poll-url]");
  if (!board || !window.fetch) { return; }
  window.setInterval(function () {
    fetch(board.dataset.pollUrl, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (state) {
        if (state && state.version !== board.dataset.pollVersion) { window.location.reload(); }
      })
      .catch(function () { /* offline for a moment: try again at the next tick */ });
  }, 3000);
})();

// ---- Background jobs: <div data-job-url data-job-template> with <progress>, [data-job-text] ----
(function () {
  "use strict";
  if (!window.fetch) { return; }
  Array.prototype.forEach.call(document.querySelectorAll("[data-job-url]"), function (box) {
    var bar = box.querySelector("progress");
    var text = box.querySelector("[data-job-text]");
    function tick() {
      fetch(box.dataset.jobUrl, { credentials: "same-origin", headers: { Accept: "application/json" } })
        .then(function (response) { return response.ok ? response.json() : null; })
        .then(function (job) {
          if (!job) { window.setTimeout(tick, 3000); return; }
          bar.value = job.percent;
          bar.textContent = job.percent + "%";
          if (job.status === "running") {
            text.textContent = box.dataset.jobTemplate
              .replace("{done}", job.done).replace("{total}", job.total);
          }
          if (job.status === "done" || job.status === "failed") { window.location.reload(); return; }
          window.setTimeout(tick, 1000);
        })
        .catch(function () { window.setTimeout(tick, 3000); });
    }
    window.setTimeout(tick, 1000);
  });
})();

// ---- Score sheets: save the draft by itself while the expert types: <form data-autosave> ----
(function () {
  "use strict";
  var form = document.querySelector("form[data-autosave]");
  if (!form || !window.fetch || !window.FormData) { return; }
  var status = form.querySelector("[data-autosave-status]");
  var changed = false;
  var busy = false;
  form.addEventListener("input", function () { changed = true; });
  form.addEventListener("change", function () { changed = true; });
  function save() {
    if (!changed || busy) { return; }
    var data = new FormData(form);
    data.set("action", "save");
    changed = false;
    busy = true;
    fetch(form.action || window.location.href, {
      method: "POST", body: data, credentials: "same-origin",
      headers: { "X-Autosave": "1", Accept: "application/json" }
    }).then(function (response) {
      return response.json().then(function (body) { return { ok: response.ok, body: body }; });
    }).then(function (result) {
      if (result.ok) { document.dispatchEvent(new CustomEvent("pingshen:saved")); }
      if (!status) { return; }
      status.textContent = result.ok
        ? (form.dataset.savedText || "Saved") + " " + result.body.at
        : result.body.message;
    }).catch(function () {
      changed = true;  // offline for a moment: try again at the next tick
    }).then(function () { busy = false; });
  }
  window.setInterval(save, 15000);
  document.addEventListener("visibilitychange", function () {
    if (document.visibilityState === "hidden") { save(); }
  });
})();
