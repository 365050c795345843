// The live view: asks /api/live every few seconds and redraws the figures in place, no reload.
// Each figure is an element with data-figure="path.in.the.json" and data-format (count,
// duration, percent, ratio); the formats match the page's Jinja filters (admin_ui/live.py).
// Lists (alerts, signed-in handlers) are rebuilt with textContent only, never HTML.
// Without JavaScript the page reloads itself by a <noscript> meta refresh instead.
(function () {
  "use strict";
  var control = document.getElementById("live-control");
  var box = document.getElementById("live-updating");
  var status = document.getElementById("live-status");
  if (!control || !box || !window.fetch) {
    return;
  }
  var seconds = parseInt(control.getAttribute("data-poll-seconds"), 10) || 2;
  var source = control.getAttribute("data-source");
  var storageKey = "rmc-outreach-live-paused";
  var DASH = "\u2013";
  var timer = null;
  var failures = 0;

  function pad(number) {
    return (number < 10 ? "0" : "") + number;
  }

  function formatDuration(value) {
    if (value === null || value === undefined) {
      return DASH;
    }
    if (value < 60) {
      return value + " s";
    }
    if (value < 3600) {
      return Math.floor(value / 60) + " min " + pad(value % 60) + " s";
    }
    return Math.floor(value / 3600) + " h " + pad(Math.floor((value % 3600) / 60)) + " min";
  }

  function formatPercent(value) {
    return value === null || value === undefined ? DASH : (value * 100).toFixed(1) + "%";
  }

  function formatRatio(value) {
    return value === null || value === undefined ? DASH : value.toFixed(1);
  }

  function format(value, kind) {
    if (kind === "duration") {
      return formatDuration(value);
    }
    if (kind === "percent") {
      return formatPercent(value);
    }
    if (kind === "ratio") {
      return formatRatio(value);
    }
    if (kind === "text") {
      return value === null || value === undefined ? DASH : String(value);
    }
    return String(value);
  }

  function lookup(body, path) {
    var node = body;
    var parts = path.split(".");
    for (var index = 0; index < parts.length; index += 1) {
      if (node === null || typeof node !== "object" || !(parts[index] in node)) {
        return undefined;
      }
      node = node[parts[index]];
    }
    return node;
  }

  function setText(element, text) {
    // Only touch what changed: screen readers and selections are left alone otherwise.
    if (element.textContent !== text) {
      element.textContent = text;
    }
  }

  function abandonedStatus(abandoned) {
    if (abandoned.rate === null) {
      return "No live-answered calls yet";
    }
    if (abandoned.over_cap) {
      return "At or over the limit";
    }
    if (abandoned.close_to_cap) {
      return "Close to the limit";
    }
    return "Under the limit";
  }

  function cell(tag, text, className) {
    var element = document.createElement(tag);
    element.textContent = text;
    if (className) {
      element.className = className;
    }
    return element;
  }

  function signature(items) {
    return JSON.stringify(items);
  }

  function drawAlerts(alerts) {
    var list = document.getElementById("live-alerts");
    if (!list || list.getAttribute("data-drawn") === signature(alerts)) {
      return;
    }
    list.setAttribute("data-drawn", signature(alerts));
    var items = alerts.length ? alerts : [{ level: "none", label: "All clear", text: "nothing needs action now." }];
    list.textContent = "";
    items.forEach(function (alert) {
      var item = cell("li", "", "alert alert-" + alert.level);
      if (alert.code) {
        item.setAttribute("data-code", alert.code);
      }
      item.appendChild(cell("strong", alert.label + ":", "alert-level"));
      item.appendChild(document.createTextNode(" "));
      item.appendChild(cell("span", alert.text, "alert-text"));
      list.appendChild(item);
    });
  }

  function drawHandlers(handlers) {
    var body = document.getElementById("live-handlers");
    if (!body) {
      return;
    }
    var rows = handlers.map(function (handler) {
      return [handler.display_name, handler.state, handler.state_label, formatDuration(handler.seconds_in_state)];
    });
    if (body.getAttribute("data-drawn") === signature(rows)) {
      return;
    }
    body.setAttribute("data-drawn", signature(rows));
    body.textContent = "";
    if (!rows.length) {
      var empty = cell("td", "No handler is signed in.", "muted");
      empty.colSpan = 3;
      var emptyRow = document.createElement("tr");
      emptyRow.appendChild(empty);
      body.appendChild(emptyRow);
      return;
    }
    rows.forEach(function (row) {
      var line = document.createElement("tr");
      var name = cell("th", row[0]);
      name.scope = "row";
      line.appendChild(name);
      var state = document.createElement("td");
      state.appendChild(cell("span", row[2], "state state-" + row[1]));
      line.appendChild(state);
      line.appendChild(cell("td", row[3], "numeric"));
      body.appendChild(line);
    });
  }

  function draw(body) {
    var figures = document.querySelectorAll("[data-figure]");
    Array.prototype.forEach.call(figures, function (element) {
      var value = lookup(body, element.getAttribute("data-figure"));
      if (value === undefined) {
        return;
      }
      var kind = element.getAttribute("data-format") || "count";
      setText(element, format(value, kind));
      if (kind === "count" && element.tagName === "TD") {
        element.classList.toggle("zero", value === 0);
      }
    });
    Array.prototype.forEach.call(document.querySelectorAll("[data-abandoned-status]"), function (element) {
      setText(element, abandonedStatus(body.abandoned));
    });
    drawAlerts(body.alerts);
    drawHandlers(body.handlers.signed_in);
    var updated = document.getElementById("live-updated");
    if (updated) {
      updated.setAttribute("datetime", body.generated_at);
      // generated_at is the centre's local time with its offset: its clock time is 11-19.
      setText(updated, body.generated_at.substring(11, 19));
    }
  }

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

  function poll() {
    window.clearTimeout(timer);
    if (!box.checked) {
      return;
    }
    if (document.visibilityState === "hidden") {
      timer = window.setTimeout(poll, seconds * 1000);
      return;
    }
    window
      .fetch(source, {
        // A poll is not the supervisor doing something: it does not hold the session open.
        headers: { Accept: "application/json", "X-Background-Refresh": "1" },
        cache: "no-store",
        credentials: "same-origin",
      })
      .then(function (response) {
        if (response.status === 401) {
          // The session ended: reloading leads to the sign-in page, then back here.
          window.location.reload();
        }
        if (!response.ok) {
          throw new Error("HTTP " + response.status);
        }
        return response.json();
      })
      .then(function (body) {
        draw(body);
        failures = 0;
        setText(status, "");
      })
      .catch(function () {
        failures += 1;
        setText(status, "Could not update: the figures shown may be out of date. Trying again.");
      })
      .then(function () {
        if (box.checked) {
          timer = window.setTimeout(poll, seconds * 1000);
        }
      });
  }

  box.checked = !paused();
  box.addEventListener("change", function () {
    remember(!box.checked);
    setText(status, box.checked ? "" : "Updates paused.");
    poll();
  });
  control.hidden = false;
  if (box.checked) {
    timer = window.setTimeout(poll, seconds * 1000);
  } else {
    setText(status, "Updates paused.");
  }
})();
