// Reloads the page every few seconds while the "Refresh every N seconds" box is ticked.
// Without JavaScript the page refreshes by a <noscript> meta refresh instead.
(function () {
  "use strict";
  var control = document.getElementById("refresh-control");
  var box = document.getElementById("auto-refresh");
  if (!control || !box) {
    return;
  }
  var seconds = parseInt(control.getAttribute("data-refresh-seconds"), 10) || 10;
  var storageKey = "rmc-outreach-auto-refresh-paused";
  var timer = null;

  function paused() {
    try {
      return window.sessionStorage.getItem(storageKey) === "1";
    } catch (error) {
      return false;
    }
  }

  function remember(isPaused) {
    try {
      window.sessionStorage.setItem(storageKey, isPaused ? "1" : "0");
    } catch (error) {
      // Storage may be disabled; the choice then lasts until the next reload.
    }
  }

  function schedule() {
    window.clearTimeout(timer);
    if (!box.checked) {
      return;
    }
    timer = window.setTimeout(function () {
      // A tab in the background is not reloaded; it checks again one interval later.
      if (document.visibilityState === "hidden") {
        schedule();
        return;
      }
      window.location.reload();
    }, seconds * 1000);
  }

  box.checked = !paused();
  box.addEventListener("change", function () {
    remember(!box.checked);
    schedule();
  });
  control.hidden = false;
  schedule();
})();
