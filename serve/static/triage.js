// Keyboard shortcuts for the triage pages. Every shortcut is the data-key attribute of an ordinary link,
// button, radio or field, so the pages work without this script and the keys are declared in the HTML.
(function () {
  "use strict";
  function typing(el) {
    if (!el || !el.tagName) return false;
    var tag = el.tagName.toLowerCase();
    if (tag === "textarea" || tag === "select") return true;
    if (tag !== "input") return el.isContentEditable === true;
    return ["radio", "checkbox", "button", "submit", "hidden"].indexOf(el.type) < 0;
  }
  document.addEventListener("keydown", function (event) {
    if (event.ctrlKey || event.metaKey || event.altKey || event.isComposing) return;
    var here = event.target;
    if (typing(here)) {
      if (event.key === "Escape") here.blur();
      return;
    }
    if (event.key === "?") {
      event.preventDefault();
      window.location.href = "/triage/help";
      return;
    }
    var key = event.key.length === 1 ? event.key.toLowerCase() : event.key;
    var el = document.querySelector('[data-key="' + key.replace(/["\\]/g, "") + '"]');
    if (!el) return;
    event.preventDefault();
    var tag = el.tagName.toLowerCase();
    if (tag === "input" && el.type === "radio") {
      el.checked = true;
      el.focus();
      var rows = document.querySelectorAll("table.signals tbody tr");
      rows.forEach(function (row) { row.classList.toggle("active", row.contains(el)); });
    } else if (tag === "select" || tag === "textarea" || tag === "input") {
      el.focus();
    } else {
      // Links and submit buttons: the same as a click (a button keeps its name/value in the post).
      el.click();
    }
  });
  // Keep the highlighted row in step when the signal is picked with the mouse or arrow keys.
  document.addEventListener("change", function (event) {
    var el = event.target;
    if (el && el.name === "decision_signal") {
      document.querySelectorAll("table.signals tbody tr").forEach(function (row) {
        row.classList.toggle("active", row.contains(el));
      });
    }
  });
})();
