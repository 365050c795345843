// The handler console: asks /api/console/<id> every few seconds; when the patient on the line,
// the call in wrap-up, the handler's state or the work list changes, it fetches the page again
// and swaps in just those sections (one rendering, the server's; no HTML is built here).
// A section the handler is working in (focus inside, an outcome half typed, an open "record
// the outcome") is left alone until they are done. Time in state ticks from the JSON.
// Without JavaScript the page reloads itself by a <noscript> meta refresh instead.
(function () {
  "use strict";
  var control = document.getElementById("console-control");
  var box = document.getElementById("console-updating");
  var status = document.getElementById("console-status");
  if (!control || !box || !window.fetch || !window.DOMParser) {
    return;
  }
  var seconds = parseInt(control.getAttribute("data-poll-seconds"), 10) || 2;
  var source = control.getAttribute("data-source");
  var pageUrl = control.getAttribute("data-page");
  var storageKey = "rmc-outreach-console-paused";
  var timer = null;
  var busy = false;

  // The session ended (timed out or signed out elsewhere): reloading leads to the sign-in page,
  // which comes back here afterwards.
  function signedOutCheck(response) {
    if (response.status === 401) {
      window.location.reload();
    }
  }

  function pad(number) {
    return (number < 10 ? "0" : "") + number;
  }

  // Kept in step with the "duration" filter (admin_ui/live.py).
  function formatDuration(value) {
    if (value === null || value === undefined) {
      return "\u2013";
    }
    if (value < 60) {
      return value + " s";
    }
    if (value < 3600) {
      return Math.floor(value / 60) + " min " + pad(value % 60) + " s";
    }
    return Math.floor(value / 3600) + " h " + pad(Math.floor((value % 3600) / 60)) + " min";
  }

  function setText(element, text) {
    if (element && element.textContent !== text) {
      element.textContent = text;
    }
  }

  function section(id) {
    return document.getElementById(id);
  }

  function handoffOf(id) {
    var element = section(id);
    return element ? element.getAttribute("data-handoff") || "" : "";
  }

  function workSignature(work) {
    return work
      .map(function (item) {
        var claimer = item.claimed_by_me ? "me" : item.claimed_by || "";
        return item.id + ":" + claimer + ":" + (item.is_due ? 1 : 0) + ";";
      })
      .join("");
  }

  function inUse(element) {
    if (!element) {
      return false;
    }
    if (element.contains(document.activeElement) && document.activeElement !== document.body) {
      return true;
    }
    if (element.querySelector("details[open]")) {
      return true;
    }
    return element.getAttribute("data-dirty") === "1";
  }

  function swap(id, fresh) {
    var current = section(id);
    var replacement = fresh.getElementById(id);
    if (!current || !replacement) {
      return;
    }
    current.replaceWith(document.importNode(replacement, true));
  }

  function redraw(changes, body) {
    busy = true;
    return window
      .fetch(pageUrl, {
        headers: { Accept: "text/html", "X-Console-Refresh": "1", "X-Background-Refresh": "1" },
        cache: "no-store",
        credentials: "same-origin",
      })
      .then(function (response) {
        signedOutCheck(response);
        if (!response.ok) {
          throw new Error("HTTP " + response.status);
        }
        return response.text();
      })
      .then(function (html) {
        var fresh = new DOMParser().parseFromString(html, "text/html");
        changes.forEach(function (id) {
          swap(id, fresh);
        });
        if (changes.indexOf("screen-pop") !== -1 && body.connected) {
          var pop = section("screen-pop");
          pop.classList.add("is-new-pop");
          setText(status, "A patient is on the line: their details are shown.");
          document.title = "On a call \u2013 " + document.title.replace(/^On a call \u2013 /, "");
        } else if (changes.indexOf("wrap-up") !== -1 && body.wrap_up) {
          setText(status, "The call has ended: record the outcome.");
        }
        if (!body.connected) {
          document.title = document.title.replace(/^On a call \u2013 /, "");
        }
        watchForms();
      })
      .then(
        function () {
          busy = false;
        },
        function (error) {
          busy = false;
          throw error;
        }
      );
  }

  function watchForms() {
    // Typing in the outcome form marks the section as in use: it is never swapped under the
    // handler's fingers, even if focus leaves it.
    ["wrap-up", "work-list"].forEach(function (id) {
      var element = section(id);
      if (element && !element.getAttribute("data-watched")) {
        element.setAttribute("data-watched", "1");
        element.addEventListener("input", function () {
          element.setAttribute("data-dirty", "1");
        });
      }
    });
  }

  function draw(body) {
    var handler = body.handler;
    var stateElement = section("handler-state");
    setText(section("handler-time"), formatDuration(handler.seconds_in_state));
    var updated = section("console-updated");
    if (updated) {
      updated.setAttribute("datetime", body.generated_at);
    }
    var changes = [];
    var connectedId = body.connected ? String(body.connected.handoff_id) : "";
    var wrapId = body.wrap_up ? String(body.wrap_up.handoff_id) : "";
    if (connectedId !== handoffOf("screen-pop")) {
      changes.push("screen-pop");
    } else if (body.connected) {
      var talk = document.querySelector("[data-seconds-connected]");
      setText(talk, formatDuration(body.connected.seconds_connected));
    }
    var wrap = section("wrap-up");
    if (wrapId !== handoffOf("wrap-up") && (!inUse(wrap) || wrapId === "")) {
      changes.push("wrap-up");
    }
    if (stateElement && stateElement.getAttribute("data-state") !== handler.state && !inUse(section("my-state"))) {
      changes.push("my-state");
    }
    var work = section("work-list");
    if (work && work.getAttribute("data-signature") !== workSignature(body.work) && !inUse(work)) {
      changes.push("work-list");
    }
    return changes.length ? redraw(changes, body) : null;
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

  function schedule() {
    window.clearTimeout(timer);
    if (box.checked) {
      timer = window.setTimeout(poll, seconds * 1000);
    }
  }

  function poll() {
    window.clearTimeout(timer);
    if (!box.checked) {
      return;
    }
    if (busy || document.visibilityState === "hidden") {
      schedule();
      return;
    }
    window
      .fetch(source, {
        // A poll is not the handler doing something: it does not hold the session open.
        headers: { Accept: "application/json", "X-Background-Refresh": "1" },
        cache: "no-store",
        credentials: "same-origin",
      })
      .then(function (response) {
        signedOutCheck(response);
        if (!response.ok) {
          throw new Error("HTTP " + response.status);
        }
        return response.json();
      })
      .then(function (body) {
        if (status.textContent.indexOf("Could not update") === 0) {
          setText(status, "");
        }
        return draw(body);
      })
      .catch(function () {
        setText(status, "Could not update: what is shown may be out of date. Trying again.");
      })
      .then(schedule);
  }

  box.checked = !paused();
  box.addEventListener("change", function () {
    remember(!box.checked);
    setText(status, box.checked ? "" : "Updates paused: a new patient will not appear until you turn updates back on or reload.");
    poll();
  });
  control.hidden = false;
  watchForms();
  var summary = document.getElementById("error-summary");
  if (summary) {
    summary.focus();
  }
  if (box.checked) {
    schedule();
  } else {
    setText(status, "Updates paused.");
  }
})();
