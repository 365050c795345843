// Live preview of the message settings: as an admin types, the values are posted to the
// preview endpoint (nothing is saved) and the preview and any error are redrawn in place.
// Without JavaScript the "Preview without saving" button does the same with a page load.
(function () {
  "use strict";
  var form = document.querySelector("form.settings-form[data-live-preview]");
  if (!form) { return; }
  var url = form.getAttribute("data-live-preview");
  var timer = null;
  var sent = 0;

  function swap(fresh, selector, anchor) {
    var old = document.querySelector(selector);
    var next = fresh.querySelector(selector);
    if (old && next) { old.replaceWith(next); return; }
    if (old) { old.remove(); return; }
    if (next && anchor) { anchor.parentNode.insertBefore(next, anchor); }
  }

  function refresh() {
    var mine = ++sent;
    fetch(url, {
      method: "POST",
      body: new FormData(form),
      credentials: "same-origin"  // typing is activity: no background-refresh header
    }).then(function (response) {
      if (response.status === 401) { window.location.reload(); return null; }
      return response.text();
    }).then(function (html) {
      if (html === null || mine !== sent) { return; }  // a newer preview is on its way
      var fresh = new DOMParser().parseFromString(html, "text/html");
      swap(fresh, "section[aria-labelledby='preview-heading']", null);
      swap(fresh, ".error-summary", form);
    }).catch(function () { /* the button still previews with a page load */ });
  }

  form.addEventListener("input", function () {
    window.clearTimeout(timer);
    timer = window.setTimeout(refresh, 400);
  });
}());
