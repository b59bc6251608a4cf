/* The split workspace: at desktop width, opening a conversation from the list (click, Enter,
   or j/k) swaps the server-rendered conversation (/c/<id>?pane=1) into #conv-pane without a
   page load, and the URL follows (history.pushState), so back/forward and links work. Without
   JavaScript, or at phone width, every link is an ordinary page load. */
(function () {
  "use strict";
  var data = document.currentScript.dataset;
  var wide = window.matchMedia("(min-width: 64rem)");
  var announce = document.getElementById("ws-announce");
  var loading = null;

  function rowLink(el) {
    return el && el.closest ? el.closest(".workspace .queue__item > a") : null;
  }

  function markOpen(path) {
    var links = document.querySelectorAll(".workspace .queue__item > a");
    Array.prototype.forEach.call(links, function (a) {
      if (a.pathname === path) a.setAttribute("aria-current", "page");
      else a.removeAttribute("aria-current");
    });
  }

  function open(url, how) {
    var target = new URL(url, location.href);
    var paneUrl = new URL(target.href);
    paneUrl.searchParams.set("pane", "1");
    paneUrl.hash = "";
    if (loading) loading.abort();
    loading = new AbortController();
    return fetch(paneUrl.href, {
      credentials: "same-origin",
      headers: { Accept: "text/html" },
      signal: loading.signal
    })
      .then(function (r) {
        if (!r.ok) throw new Error("HTTP " + r.status);
        return r.text();
      })
      .then(function (html) {
        var doc = new DOMParser().parseFromString(html, "text/html");
        var fresh = doc.getElementById("conv-pane");
        var here = document.getElementById("conv-pane");
        if (!fresh || !here) throw new Error("no pane");
        here.replaceWith(document.importNode(fresh, true));
        document.title = fresh.dataset.title || document.title;
        if (how === "push") history.pushState({ workspace: true }, "", target.pathname + target.hash);
        markOpen(target.pathname);
        document.body.classList.add("ws-open");
        document.dispatchEvent(new CustomEvent("conversation:loaded"));
        var heading = document.getElementById("conv-h");
        if (announce && heading) {
          announce.textContent = (data.openedLabel || "%s").replace("%s", heading.textContent.trim());
        }
        if (how === "focus" && heading) heading.focus();
      })
      .catch(function (err) {
        if (err && err.name === "AbortError") return;
        location.href = target.href;  // let the server answer as a full page
      });
  }

  document.addEventListener("click", function (e) {
    var a = rowLink(e.target);
    if (!a || !wide.matches || e.button !== 0 || e.ctrlKey || e.metaKey || e.shiftKey || e.altKey) return;
    if (a.origin !== location.origin) return;
    e.preventDefault();
    // A keyboard Enter (detail 0) moves focus into the conversation, as a page load would;
    // a mouse click and j/k leave it in the list.
    var byKey = e.detail === 0 && !a.dataset.wsQuiet;
    delete a.dataset.wsQuiet;
    if (a.pathname === location.pathname && document.querySelector("#conv-pane[data-conversation-id]")) {
      if (byKey) { var h = document.getElementById("conv-h"); if (h) h.focus(); }
      return;
    }
    open(a.href, "push").then(function () {
      if (byKey) { var h = document.getElementById("conv-h"); if (h) h.focus(); }
    });
  });

  // j/k (static/js/shortcuts.js) focus the next row; in the workspace they open it as well.
  document.addEventListener("queue:moved", function (e) {
    var a = e.detail && e.detail.link;
    if (!a || !wide.matches) return;
    a.dataset.wsQuiet = "1";
    a.click();
  });

  window.addEventListener("popstate", function () {
    if (!document.getElementById("conv-pane")) return;
    if (/^\/c\/\d+$/.test(location.pathname)) open(location.href, "replace");
    else location.reload();
  });

  // The archive form: when a case number is typed, the records system is asked for the case
  // and its title (or why it cannot be used) is shown under the field.
  document.addEventListener("change", function (e) {
    var field = e.target;
    if (!field || field.name !== "case_number") return;
    var panel = field.closest("[data-case-url]");
    var out = document.querySelector('[data-lookup="' + field.id + '"]');
    if (!panel || !out) return;
    if (!field.value.trim()) { out.textContent = ""; return; }
    var url = new URL(panel.dataset.caseUrl, location.href);
    url.searchParams.set("number", field.value.trim());
    fetch(url.href, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (j) { if (j) out.textContent = j.message; });
  });

  // The undo offer goes away after its few seconds (the server refuses a late undo anyway).
  function undoTimer() {
    var form = document.getElementById("undo-form");
    if (!form) return;
    var seconds = Number(form.dataset.seconds || 10);
    setTimeout(function () { form.hidden = true; }, seconds * 1000);
  }
  document.addEventListener("conversation:loaded", undoTimer);
  undoTimer();

  if (document.querySelector("#conv-pane[data-conversation-id]")) {
    document.body.classList.add("ws-open");
    history.replaceState({ workspace: true }, "");
  }
})();
