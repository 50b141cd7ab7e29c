// The roadmap: drag a card to another lane, or to another place in its lane. The server decides
// every move and answers the lanes as it now has them, so a refused move simply shows the old
// lanes again with the reason. Also: the print button, and copying a new share link.
(function () {
  "use strict";

  function urlFor(template, id) {
    return template.replace(/\/0\/(?=[^/]*\/?$)/, "/" + id + "/");
  }

  var dragged = null;

  function clearMarks() {
    document.querySelectorAll(".is-drop-zone, .is-insert-before, .is-insert-end").forEach(function (el) {
      el.classList.remove("is-drop-zone", "is-insert-before", "is-insert-end");
    });
  }

  // The card the dragged one would land above: the first whose middle is below the pointer.
  function cardBelow(zone, y) {
    var cards = zone.querySelectorAll(".rm-card");
    for (var i = 0; i < cards.length; i++) {
      if (cards[i] === dragged) continue;
      var box = cards[i].getBoundingClientRect();
      if (y < box.top + box.height / 2) return cards[i];
    }
    return null;
  }

  function zoneOf(event) {
    if (!dragged || !event.target.closest) return null;
    return event.target.closest(".rm-cards[data-lane]");
  }

  document.addEventListener("dragstart", function (event) {
    var card = event.target.closest && event.target.closest(".rm-card[draggable=true]");
    if (!card) return;
    dragged = card;
    event.dataTransfer.effectAllowed = "move";
    event.dataTransfer.setData("text/plain", card.dataset.id);
    card.classList.add("is-dragging");
  });

  document.addEventListener("dragend", function () {
    if (dragged) dragged.classList.remove("is-dragging");
    clearMarks();
    dragged = null;
  });

  document.addEventListener("dragover", function (event) {
    var zone = zoneOf(event);
    if (!zone) return;
    event.preventDefault();
    event.dataTransfer.dropEffect = "move";
    clearMarks();
    zone.classList.add("is-drop-zone");
    var below = cardBelow(zone, event.clientY);
    if (below) below.classList.add("is-insert-before");
    else zone.classList.add("is-insert-end");
  });

  document.addEventListener("dragleave", function (event) {
    var zone = zoneOf(event);
    if (zone && !zone.contains(event.relatedTarget)) clearMarks();
  });

  document.addEventListener("drop", function (event) {
    var zone = zoneOf(event);
    if (!zone) return;
    event.preventDefault();
    var below = cardBelow(zone, event.clientY);
    var moving = dragged;
    var body = document.getElementById("roadmap-body");
    clearMarks();
    htmx.ajax("POST", urlFor(body.dataset.moveUrl, moving.dataset.id), {
      target: "#roadmap-body",
      swap: "outerHTML",
      source: zone,
      values: {
        lane: zone.dataset.lane,
        before: below ? below.dataset.id : "",
        version: moving.dataset.version,
        filters: window.location.search,
      },
    });
  });

  document.addEventListener("click", function (event) {
    if (event.target.closest("[data-print]")) {
      window.print();
      return;
    }
    var copy = event.target.closest("[data-copy]");
    if (copy) {
      var field = document.getElementById(copy.dataset.copy);
      field.select();
      if (navigator.clipboard) {
        navigator.clipboard.writeText(field.value).then(function () { copy.textContent = "Copied"; });
      }
    }
  });

  document.addEventListener("focusin", function (event) {
    if (event.target.matches && event.target.matches("[data-select-all]")) event.target.select();
  });
})();
