// Say so when an htmx request fails, instead of leaving the page silently unchanged.
(function () {
  function notice(text) {
    var box = document.getElementById("notice");
    if (!box) return;
    box.textContent = text;
    box.hidden = false;
    clearTimeout(box._timer);
    box._timer = setTimeout(function () { box.hidden = true; }, 8000);
  }
  document.addEventListener("htmx:responseError", function (event) {
    var status = event.detail.xhr.status;
    if (status === 403) notice("Your role in this team does not allow this change.");
    else if (status === 404) notice("This no longer exists, or is not shared with you. Reload the page.");
    else notice("Something went wrong (" + status + "). Nothing was saved; try again.");
  });
  document.addEventListener("htmx:sendError", function () {
    notice("Sextant cannot be reached. Check your connection; nothing was saved.");
  });
})();
