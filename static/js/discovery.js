// Discovery: select a passage of an interview's notes to make it an insight.
// The notes carry data-quote-into="<id of the quote field>"; a button appears by the selection and
// copies it into that field. Without this script, people type or paste the quote themselves.
(function () {
  "use strict";

  function notes() {
    return document.querySelector("[data-quote-into]");
  }

  function button() {
    return document.getElementById("quote-selection");
  }

  function selectedPassage() {
    var area = notes();
    var selection = window.getSelection();
    if (!area || !selection || selection.isCollapsed || !selection.rangeCount) return null;
    var range = selection.getRangeAt(0);
    if (!area.contains(range.commonAncestorContainer)) return null;
    var text = selection.toString().replace(/\s+/g, " ").trim();
    return text ? { text: text, range: range } : null;
  }

  function hide() {
    var b = button();
    if (b) b.hidden = true;
  }

  function place() {
    var b = button();
    var passage = selectedPassage();
    if (!b || !passage) {
      hide();
      return;
    }
    if (b.parentNode !== document.body) document.body.appendChild(b);
    var rect = passage.range.getBoundingClientRect();
    b.hidden = false;
    var width = b.offsetWidth;
    var left = window.scrollX + rect.left + rect.width / 2 - width / 2;
    var maxLeft = window.scrollX + document.documentElement.clientWidth - width - 8;
    b.style.left = Math.max(window.scrollX + 8, Math.min(left, maxLeft)) + "px";
    b.style.top = window.scrollY + rect.bottom + 8 + "px";
  }

  function quote() {
    var passage = selectedPassage();
    var area = notes();
    var field = area && document.getElementById(area.getAttribute("data-quote-into"));
    if (!passage || !field) return;
    var max = parseInt(field.getAttribute("maxlength") || "2000", 10);
    field.value = passage.text.slice(0, max);
    field.dispatchEvent(new Event("input", { bubbles: true }));
    window.getSelection().removeAllRanges();
    hide();
    var form = field.closest("form");
    if (form) form.scrollIntoView({ behavior: "smooth", block: "nearest" });
    // The quote is in; what remains is its kind and tags.
    var kind = form && form.querySelector("input[name=kind]:checked, input[name=kind]");
    (kind || field).focus({ preventScroll: true });
  }

  var pending = null;
  function later() {
    clearTimeout(pending);
    pending = setTimeout(place, 120);
  }

  document.addEventListener("selectionchange", later);
  document.addEventListener("mouseup", later);
  window.addEventListener("resize", later);
  // Keep the selection when the button is pressed (a mousedown elsewhere would clear it).
  document.addEventListener("mousedown", function (event) {
    if (event.target.closest && event.target.closest("#quote-selection")) event.preventDefault();
  });
  document.addEventListener("click", function (event) {
    if (event.target.closest && event.target.closest("#quote-selection")) {
      event.preventDefault();
      quote();
    }
  });
  document.addEventListener("keydown", function (event) {
    if (event.key === "Escape") hide();
  });
})();
