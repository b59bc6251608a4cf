/* Servicetorg chat widget loader.
 * Embed on any page (async is fine):
 *   <script src="https://INBOX/widget.js" data-key="WIDGET_KEY" data-lang="nb" async></script>
 * Signed-in visitors (optional): add data-user-id, data-user-ts and data-user-sig (HMAC-SHA256,
 * see docs/webchat.md). It adds a "chat" button and opens the chat in a frame served by the
 * inbox. Everything lives in a shadow root: no globals, and the page's CSS cannot reach in.
 */
(function () {
  "use strict";
  var script = document.currentScript ||
    document.querySelector("script[data-key][src*='widget.js']");
  if (!script || !script.getAttribute("data-key")) { return; }
  if (document.getElementById("servicetorg-chat")) { return; }  // embedded twice
  var base = new URL(script.src, location.href).origin;
  var key = script.getAttribute("data-key");
  var lang = (new URLSearchParams(location.search).get("lang") || script.getAttribute("data-lang") ||
    document.documentElement.lang || "nb").slice(0, 2).toLowerCase();
  if (["nb", "nn", "en"].indexOf(lang) < 0) { lang = lang === "no" ? "nb" : "en"; }
  var labels = {
    nb: ["Chat med oss", "Lukk chat", "Chat med kommunen"],
    nn: ["Chat med oss", "Lukk chat", "Chat med kommunen"],
    en: ["Chat with us", "Close chat", "Chat with the municipality"]
  }[lang];
  var identity = "";
  if (script.getAttribute("data-user-id") && script.getAttribute("data-user-sig")) {
    identity = "#" + new URLSearchParams({
      uid: script.getAttribute("data-user-id"),
      uts: script.getAttribute("data-user-ts") || "",
      usig: script.getAttribute("data-user-sig")
    }).toString();  // a fragment: never sent to a server or kept in its logs
  }

  function mount() {
    var host = document.createElement("div");
    host.id = "servicetorg-chat";
    var shadow = host.attachShadow({ mode: "open" });
    // Styles through CSSOM (a constructed sheet, or inline styles as a fallback): a <style>
    // element would be blocked by the host page's Content-Security-Policy.
    var css =
      ":host{all:initial}" +
      "button{all:initial;box-sizing:border-box;position:fixed;right:1rem;bottom:1rem;" +
      "z-index:2147483000;padding:.75rem 1.25rem;border-radius:2rem;border:2px solid #fff;" +
      "background:#00509e;color:#fff;font:600 1rem/1.2 system-ui,sans-serif;cursor:pointer;" +
      "box-shadow:0 2px 8px rgba(0,0,0,.3);min-height:44px}" +
      "button:focus-visible{outline:3px solid #ffbf47;outline-offset:2px}" +
      "iframe{box-sizing:border-box;position:fixed;right:1rem;bottom:4.75rem;z-index:2147483000;" +
      "width:min(24rem,calc(100vw - 2rem));height:min(38rem,calc(100vh - 6rem));" +
      "border:1px solid #767676;border-radius:.5rem;background:#fff;" +
      "box-shadow:0 4px 16px rgba(0,0,0,.3)}" +
      "iframe[hidden]{display:none}" +
      "@media (max-width:30rem){iframe{right:0;bottom:4.25rem;width:100vw;" +
      "height:calc(100vh - 4.5rem);border-radius:0}}";
    var button = document.createElement("button");
    button.type = "button";
    button.id = "servicetorg-chat-button";
    button.textContent = labels[0];
    button.setAttribute("aria-expanded", "false");
    button.setAttribute("aria-controls", "servicetorg-chat-frame");

    var frame = document.createElement("iframe");
    frame.id = "servicetorg-chat-frame";
    frame.title = labels[2];
    frame.hidden = true;
    frame.src = base + "/chat/" + encodeURIComponent(key) + "?lang=" + encodeURIComponent(lang) + identity;
    var loaded = false, focusWanted = false;
    frame.addEventListener("load", function () {
      loaded = true;
      if (focusWanted) { focusChat(); }
    });
    function focusChat() {
      focusWanted = !loaded;
      frame.focus();
      if (loaded) { frame.contentWindow.postMessage("servicetorg:focus", base); }
    }
    function setOpen(open) {
      frame.hidden = !open;
      button.setAttribute("aria-expanded", String(open));
      button.textContent = open ? labels[1] : labels[0];
      if (open) { focusChat(); } else { button.focus(); }
    }
    button.addEventListener("click", function () { setOpen(frame.hidden); });
    document.addEventListener("keydown", function (ev) {
      if (ev.key === "Escape" && !frame.hidden) { setOpen(false); }
    });
    window.addEventListener("message", function (ev) {
      if (ev.origin === base && ev.source === frame.contentWindow &&
          ev.data === "servicetorg:close" && !frame.hidden) {
        setOpen(false);
      }
    });
    try {
      var sheet = new CSSStyleSheet();
      sheet.replaceSync(css);
      shadow.adoptedStyleSheets = [sheet];
    } catch (e) {
      button.style.cssText = "position:fixed;right:1rem;bottom:1rem;z-index:2147483000;" +
        "padding:.75rem 1.25rem;border-radius:2rem;border:2px solid #fff;background:#00509e;" +
        "color:#fff;font:600 1rem/1.2 system-ui,sans-serif;cursor:pointer";
      frame.style.cssText = "position:fixed;right:1rem;bottom:4.75rem;z-index:2147483000;" +
        "width:min(24rem,calc(100vw - 2rem));height:min(38rem,calc(100vh - 6rem));" +
        "border:1px solid #767676;border-radius:.5rem;background:#fff";
    }
    shadow.appendChild(frame);
    shadow.appendChild(button);
    document.body.appendChild(host);
  }
  if (document.body) { mount(); } else { document.addEventListener("DOMContentLoaded", mount); }
})();
