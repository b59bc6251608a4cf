/* Live queue: refresh the list when a change for one of the user's municipalities arrives
   over Server-Sent Events; poll every 15 s if EventSource is missing or refused. */
(function () {
  "use strict";
  var script = document.currentScript;
  var url = script.dataset.eventsUrl;
  var announce = script.dataset.announce || "";
  var region = document.getElementById("queue-region");
  var status = document.getElementById("queue-live");
  var timer = null;
  var polling = null;

  function focusedConversation() {
    var li = document.activeElement && document.activeElement.closest
      ? document.activeElement.closest("[data-conversation-id]") : null;
    return li ? li.getAttribute("data-conversation-id") : null;
  }

  function refresh(message) {
    fetch(location.href, { credentials: "same-origin", headers: { Accept: "text/html" } })
      .then(function (r) { return r.ok ? r.text() : null; })
      .then(function (html) {
        if (!html || !region) return;
        var doc = new DOMParser().parseFromString(html, "text/html");
        var fresh = doc.getElementById("queue-region");
        var views = doc.querySelector("nav.views");
        var oldViews = document.querySelector("nav.views");
        if (!fresh) return;
        var focused = focusedConversation();
        region.innerHTML = fresh.innerHTML;
        if (views && oldViews) oldViews.innerHTML = views.innerHTML;
        if (focused) {
          var link = region.querySelector('[data-conversation-id="' + focused + '"] > a');
          if (link) link.focus();
        }
        if (message && status) status.textContent = message;
        document.dispatchEvent(new CustomEvent("queue:updated"));
      });
  }

  function schedule() {
    clearTimeout(timer);
    timer = setTimeout(function () { refresh(announce); }, 250);
  }

  function startPolling() {
    if (!polling) polling = setInterval(function () { refresh(""); }, 15000);
  }

  if (!window.EventSource || !url) { startPolling(); return; }
  var source = new EventSource(url);
  ["message", "conversation", "assignment", "status"].forEach(function (type) {
    source.addEventListener(type, schedule);
  });
  // Notices published while the stream was reconnecting are not replayed: catch up instead.
  var opened = false;
  source.onopen = function () { if (opened) refresh(""); opened = true; };
  source.onerror = function () {
    // CLOSED means the server refused the stream; a normal end reconnects by itself.
    if (source.readyState === EventSource.CLOSED) startPolling();
  };
})();
