/* Keyboard shortcuts for the inbox (press ? for the list). No shortcut fires while the user
   types in a field or holds Ctrl/Alt/Meta, so screen-reader and browser keys are untouched. */
(function () {
  "use strict";
  var script = document.currentScript || {};
  var data = script.dataset || {};
  var helpUrl = data.helpUrl || "/live/shortcuts";
  var searchUrl = data.searchUrl || "/search";
  var ORDER_KEY = "servicetorg.queue-order";

  function isTyping(el) {
    if (!el || !el.tagName) return false;
    var tag = el.tagName.toLowerCase();
    return tag === "input" || tag === "textarea" || tag === "select" || el.isContentEditable;
  }

  function queueLinks() {
    // Only rows on screen: at phone width the list beside a conversation is hidden.
    return Array.prototype.slice.call(document.querySelectorAll(".queue__item > a"))
      .filter(function (a) { return a.offsetParent !== null; });
  }

  function rememberOrder() {
    var links = queueLinks();
    if (!links.length) return;
    var order = links.map(function (a) { return a.pathname; });
    try { sessionStorage.setItem(ORDER_KEY, JSON.stringify(order)); } catch (e) { /* private mode */ }
  }

  function move(delta) {
    var links = queueLinks();
    if (links.length) {
      var idx = links.indexOf(document.activeElement);
      if (idx < 0) {  // nothing in the list focused: move on from the open conversation
        idx = links.findIndex(function (a) { return a.getAttribute("aria-current") === "page"; });
      }
      var next = idx < 0 ? (delta > 0 ? 0 : links.length - 1) : idx + delta;
      next = Math.max(0, Math.min(links.length - 1, next));
      links[next].focus();
      links[next].scrollIntoView({ block: "nearest" });
      document.dispatchEvent(new CustomEvent("queue:moved", { detail: { link: links[next] } }));
      return;
    }
    // On a conversation page: go to the neighbour in the queue the user came from.
    var order = [];
    try { order = JSON.parse(sessionStorage.getItem(ORDER_KEY) || "[]"); } catch (e) { order = []; }
    var here = order.indexOf(location.pathname);
    if (here >= 0 && order[here + delta]) location.href = order[here + delta];
  }

  function compose(kind) {
    var radio = document.querySelector('input[name="kind"][value="' + kind + '"]');
    if (radio) radio.checked = true;
    var body = document.getElementById("reply-body");
    if (body) body.focus();
  }

  function submitForm(id) {
    var form = document.getElementById(id);
    if (!form) return;
    if (form.requestSubmit) form.requestSubmit(); else form.submit();
  }

  function search() {
    var box = document.getElementById("search-q");
    if (box) { box.focus(); box.select(); } else { location.href = searchUrl; }
  }

  function toggleHelp() {
    var dialog = document.getElementById("shortcut-help");
    if (dialog) {
      if (dialog.open) dialog.close(); else dialog.showModal();
      return;
    }
    fetch(helpUrl, { credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.text() : ""; })
      .then(function (html) {
        if (!html) return;
        var tpl = document.createElement("template");
        tpl.innerHTML = html;
        document.body.appendChild(tpl.content);
        document.getElementById("shortcut-help").showModal();
      });
  }

  // The archive flag form, opened on demand (templates/archiving/_panel.html).
  function flagForArchive() {
    var details = document.getElementById("flag-details");
    if (!details) return;
    details.open = true;
    details.scrollIntoView({ block: "start" });
    var field = details.querySelector("input:not([type=hidden]), select, textarea");
    (field || details.querySelector("summary")).focus();
  }

  document.addEventListener("click", function (e) {
    var link = e.target && e.target.closest ? e.target.closest("#archive-open") : null;
    if (!link || !document.getElementById("flag-details")) return;
    e.preventDefault();
    flagForArchive();
  });

  var actions = {
    f: flagForArchive,
    j: function () { move(1); },
    k: function () { move(-1); },
    r: function () { compose("reply"); },
    n: function () { compose("note"); },
    a: function () { submitForm("assign-me-form"); },
    c: function () { submitForm("close-form"); },
    "/": search,
    "?": toggleHelp
  };

  document.addEventListener("keydown", function (e) {
    if (e.defaultPrevented || e.ctrlKey || e.metaKey || e.altKey) return;
    if (isTyping(e.target)) return;
    var dialog = document.getElementById("shortcut-help");
    if (dialog && dialog.open && e.key !== "?") return;  // Esc closes the dialog natively
    var action = actions[e.key];
    if (!action) return;
    e.preventDefault();
    action();
  });
  document.addEventListener("queue:updated", rememberOrder);
  rememberOrder();
})();
