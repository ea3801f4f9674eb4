// Live order page: poll the status and reload when the order changed (the page also refreshes without JS).
(function () {
  "use strict";
  var body = document.body;
  var url = body.getAttribute("data-status-url");
  if (!url) { return; }
  var state = body.getAttribute("data-state");
  var updated = body.getAttribute("data-updated");
  function typing() {
    var el = document.activeElement;
    return el && el.tagName === "INPUT" && el.type !== "radio" && el.value !== "";
  }
  function poll() {
    fetch(url, { cache: "no-store", credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (s) {
        if (s && (s.state !== state || s.updated_at !== updated) && !typing()) { window.location.reload(); return; }
        window.setTimeout(poll, 2000);
      })
      .catch(function () { window.setTimeout(poll, 5000); });
  }
  window.setTimeout(poll, 2000);
})();
