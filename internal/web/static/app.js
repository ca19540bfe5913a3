// twofold web UI: the few things a page cannot do without script. Every
// button this file drives is hidden in the HTML and shown here, so nothing
// dead is on screen when JavaScript is off.
"use strict";

(function () {
  function say(el, text) {
    var card = el.closest("section") || document;
    var status = card.querySelector("[data-status]");
    if (status) {
      status.textContent = "";
      // A fresh text node makes screen readers announce a repeat message too.
      window.setTimeout(function () { status.textContent = text; }, 50);
    }
  }

  // The text to copy from an element: a key's raw value, or a list's items.
  function textOf(el) {
    if (el.dataset.key) return el.dataset.key;
    var items = el.querySelectorAll("li");
    if (items.length) {
      return Array.prototype.map.call(items, function (li) { return li.textContent.trim(); }).join("\n");
    }
    return el.textContent.trim();
  }

  function copy(button) {
    var target = document.getElementById(button.dataset.copy);
    if (!target || !navigator.clipboard) {
      say(button, "Copying is not available here: select the text and copy it instead.");
      return;
    }
    navigator.clipboard.writeText(textOf(target)).then(function () {
      say(button, "Copied to the clipboard.");
    }, function () {
      say(button, "Could not copy: select the text and copy it instead.");
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("[data-copy]").forEach(function (b) {
      if (navigator.clipboard) b.hidden = false;
      b.addEventListener("click", function () { copy(b); });
    });
    document.querySelectorAll("[data-print]").forEach(function (b) {
      b.hidden = false;
      b.addEventListener("click", function () { window.print(); });
    });
  });
})();
