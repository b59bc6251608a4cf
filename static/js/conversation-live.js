/* Conversation page: new messages and status changes without reload, and "a colleague is
   typing a reply". Uses the element ids the conversation page keeps stable. The open
   conversation is the one in #conv-pane, which the workspace swaps without a page load. */
(function () {
  "use strict";
  var d = document.currentScript.dataset;
  function pane() { return document.getElementById("conv-pane"); }
  function openId() {
    var p = pane();
    return p && p.dataset.conversationId ? Number(p.dataset.conversationId) : null;
  }
  function typingUrl() { var p = pane(); return p ? p.dataset.typingUrl : null; }
  var me = Number(d.userId);
  var indicator = null;
  var hideTimer = null;
  var lastReport = 0;

  function showTyping(name, seconds) {
    if (indicator && !document.body.contains(indicator)) indicator = null;
    if (!indicator) {
      indicator = document.createElement("p");
      indicator.id = "typing-indicator";
      indicator.className = "flash typing";
      indicator.setAttribute("role", "status");
      var form = document.getElementById("reply-form") ||
        (document.getElementById("reply-body") || {}).form;
      if (!form || !form.parentNode) return;
      form.parentNode.insertBefore(indicator, form);
    }
    indicator.hidden = false;
    indicator.textContent = (d.typingLabel || "%s").replace("%s", name);
    clearTimeout(hideTimer);
    hideTimer = setTimeout(function () { indicator.hidden = true; }, (seconds || 8) * 1000);
  }

  function refreshThread() {
    if (!openId()) return;
    fetch(location.href, { credentials: "same-origin", headers: { Accept: "text/html" } })
      .then(function (r) { return r.ok ? r.text() : null; })
      .then(function (html) {
        if (!html) return;
        var doc = new DOMParser().parseFromString(html, "text/html");
        // The thread and the line saying who has it and its status; the forms are left alone
        // so nothing the caseworker is choosing or typing is lost.
        ["thread", "conv-meta"].forEach(function (id) {
          var fresh = doc.getElementById(id);
          var here = document.getElementById(id);
          if (fresh && here) here.innerHTML = fresh.innerHTML;
        });
      });
  }

  function reportTyping() {
    var now = Date.now();
    if (now - lastReport < 4000 || !typingUrl()) return;
    lastReport = now;
    fetch(typingUrl(), {
      method: "POST",
      credentials: "same-origin",
      headers: { "X-CSRFToken": d.csrf || "" }
    });
  }

  document.addEventListener("input", function (e) {
    if (e.target && e.target.id === "reply-body") reportTyping();
  });

  function pollTyping() {
    if (!typingUrl()) return;
    fetch(typingUrl(), { credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.json() : { typing: [] }; })
      .then(function (j) { if (j.typing && j.typing.length) showTyping(j.typing.join(", "), 6); });
  }

  function startPolling() {
    setInterval(pollTyping, 5000);
    setInterval(refreshThread, 15000);
  }

  if (!window.EventSource || !d.eventsUrl) { startPolling(); return; }
  var source = new EventSource(d.eventsUrl);
  function mine(e) {
    var payload = JSON.parse(e.data);
    return payload.conversation_id === openId() ? payload : null;
  }
  ["message", "delivery", "status", "assignment"].forEach(function (type) {
    source.addEventListener(type, function (e) { if (mine(e)) refreshThread(); });
  });
  source.addEventListener("typing", function (e) {
    var p = mine(e);
    if (p && p.user_id !== me) showTyping(p.name, p.seconds);
  });
  // Notices published while the stream was reconnecting are not replayed: catch up instead.
  var opened = false;
  source.onopen = function () { if (opened) refreshThread(); opened = true; };
  var failed = false;
  source.onerror = function () {
    if (source.readyState === EventSource.CLOSED && !failed) { failed = true; startPolling(); }
  };
})();
