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
