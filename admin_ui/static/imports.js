// Keeps an import's progress bar current: asks /api/imports/<id> every few seconds and, once
// the import is over, reloads the page to show the result. Without JavaScript the page has a
// link that reloads it.
(function () {
  "use strict";
  var panel = document.getElementById("import-progress");
  var bar = document.getElementById("import-bar");
  var phase = document.getElementById("import-phase");
  if (!panel || !bar || !phase || !window.fetch) {
    return;
  }
  var url = panel.getAttribute("data-progress-url");
  var seconds = parseInt(panel.getAttribute("data-poll-seconds"), 10) || 2;

  function show(progress) {
    var text = progress.phase_text;
    if (progress.rows_total !== null) {
      bar.max = progress.rows_total || 1;
      bar.value = progress.rows_done;
      bar.textContent = (progress.percent === null ? 0 : progress.percent) + "%";
      text += ": " + progress.rows_done.toLocaleString("en-GB") + " of " +
        progress.rows_total.toLocaleString("en-GB") + " rows checked";
    }
    phase.textContent = text;
  }

  function poll() {
    window.fetch(url, {
      credentials: "same-origin",
      headers: { "Accept": "application/json", "X-Background-Refresh": "1" }
    }).then(function (response) {
      if (!response.ok) {
        throw new Error("progress request failed: " + response.status);
      }
      return response.json();
    }).then(function (progress) {
      if (progress.final || progress.state === "not_queued") {
        window.location.reload();
        return;
      }
      show(progress);
      window.setTimeout(poll, seconds * 1000);
    }).catch(function () {
      // The reload link still works; try again a little later.
      window.setTimeout(poll, seconds * 3000);
    });
  }

  window.setTimeout(poll, seconds * 1000);
})();
