// The opportunity tree: collapse and open branches (loading closed ones on demand), and move
// cards by dragging one onto another. The server decides every move and answers the tree as
// it now is, so a refused move simply shows the old tree again with the reason.
(function () {
  "use strict";

  function urlFor(template, id) {
    return template.replace(/\/0\/(?=[^/]*\/?$)/, "/" + id + "/");
  }

  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-toggle]");
    if (!button) return;
    var id = button.dataset.toggle;
    var list = document.getElementById("children-" + id);
    if (!list) return;
    var opening = button.getAttribute("aria-expanded") !== "true";
    button.setAttribute("aria-expanded", opening ? "true" : "false");
    var glyph = button.querySelector("span");
    var outline = button.dataset.view === "outline";
    if (glyph) glyph.textContent = opening ? (outline ? "▾" : "−") : (outline ? "▸" : "+");
    var item = button.closest("[role=treeitem]");
    if (item) item.setAttribute("aria-expanded", opening ? "true" : "false");
    if (opening && list.dataset.lazy) {
      var holder = button.closest("[data-branch-url]");
      delete list.dataset.lazy;
      var query = new URLSearchParams();
      if (outline) query.set("view", "outline");
      var order = new URLSearchParams(window.location.search).get("order");
      if (order) query.set("order", order);
      htmx.ajax("GET", urlFor(holder.dataset.branchUrl, id) + "?" + query.toString(), {
        target: list, swap: "outerHTML", source: button,
      });
      return;
    }
    list.hidden = !opening;
  });

  // Wide trees scroll sideways: start centred on the outcomes, as on a whiteboard.
  function centre(root) {
    (root || document).querySelectorAll(".tree-scroll").forEach(function (box) {
      box.scrollLeft = (box.scrollWidth - box.clientWidth) / 2;
    });
  }
  document.addEventListener("DOMContentLoaded", function () { centre(); });
  document.addEventListener("htmx:afterSwap", function (event) {
    if (event.detail.target && event.detail.target.id === "tree-canvas") centre();
  });

  var dragged = null;

  document.addEventListener("dragstart", function (event) {
    var card = event.target.closest && event.target.closest(".node-card[draggable=true]");
    if (!card) return;
    dragged = card;
    event.dataTransfer.effectAllowed = "move";
    event.dataTransfer.setData("text/plain", card.dataset.nodeId);
    card.classList.add("is-dragging");
  });

  document.addEventListener("dragend", function () {
    if (dragged) dragged.classList.remove("is-dragging");
    document.querySelectorAll(".is-drop-target").forEach(function (el) { el.classList.remove("is-drop-target"); });
    dragged = null;
  });

  function dropTarget(event) {
    var card = event.target.closest && event.target.closest(".node-card");
    if (!dragged || !card || card === dragged) return null;
    return card;
  }

  document.addEventListener("dragover", function (event) {
    var card = dropTarget(event);
    if (!card) return;
    event.preventDefault();
    event.dataTransfer.dropEffect = "move";
    card.classList.add("is-drop-target");
  });

  document.addEventListener("dragleave", function (event) {
    var card = dropTarget(event);
    if (card && !card.contains(event.relatedTarget)) card.classList.remove("is-drop-target");
  });

  document.addEventListener("drop", function (event) {
    var card = dropTarget(event);
    if (!card) return;
    event.preventDefault();
    card.classList.remove("is-drop-target");
    var canvas = document.getElementById("tree-canvas");
    var moving = dragged;
    htmx.ajax("POST", urlFor(canvas.dataset.moveUrl, moving.dataset.nodeId), {
      target: "#tree-canvas",
      swap: "outerHTML",
      source: card,
      values: { parent: card.dataset.nodeId, version: moving.dataset.version },
    });
  });
})();
