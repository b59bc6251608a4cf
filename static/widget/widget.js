/* Servicetorg chat widget loader.
 * Embed on any page:
 *   <script src="https://INBOX/widget.js" data-key="WIDGET_KEY" async></script>
 * It adds a "chat" button and opens the chat in a frame served by the inbox.
 */
(function () {
  "use strict";
  var script = document.currentScript;
  if (!script || !script.dataset.key) { return; }
  var base = new URL(script.src).origin;
  var key = script.dataset.key;
  var lang = script.dataset.lang || document.documentElement.lang || "nb";
  var labels = {
    nb: ["Chat med oss", "Lukk chat", "Chat med kommunen"],
    nn: ["Chat med oss", "Lukk chat", "Chat med kommunen"],
    en: ["Chat with us", "Close chat", "Chat with the municipality"]
  }[lang.slice(0, 2)] || ["Chat med oss", "Lukk chat", "Chat med kommunen"];

  var button = document.createElement("button");
  button.type = "button";
  button.id = "servicetorg-chat-button";
  button.textContent = labels[0];
  button.setAttribute("aria-expanded", "false");
  button.setAttribute("aria-controls", "servicetorg-chat-frame");
  button.style.cssText = "position:fixed;right:1rem;bottom:1rem;z-index:2147483000;" +
    "padding:.75rem 1.25rem;border-radius:2rem;border:2px solid #fff;background:#00509e;" +
    "color:#fff;font:600 1rem/1.2 system-ui,sans-serif;cursor:pointer;" +
    "box-shadow:0 2px 8px rgba(0,0,0,.3)";

  var frame = document.createElement("iframe");
  frame.id = "servicetorg-chat-frame";
  frame.title = labels[2];
  frame.src = base + "/chat/" + encodeURIComponent(key) + "?lang=" + encodeURIComponent(lang);
  frame.hidden = true;
  frame.style.cssText = "position:fixed;right:1rem;bottom:4.5rem;z-index:2147483000;" +
    "width:min(24rem,calc(100vw - 2rem));height:min(36rem,calc(100vh - 6rem));" +
    "border:1px solid #767676;border-radius:.5rem;background:#fff;" +
    "box-shadow:0 4px 16px rgba(0,0,0,.3)";

  button.addEventListener("click", function () {
    var open = frame.hidden;
    frame.hidden = !open;
    button.setAttribute("aria-expanded", String(open));
    button.textContent = open ? labels[1] : labels[0];
    if (open) { frame.focus(); }
  });
  document.addEventListener("keydown", function (ev) {
    if (ev.key === "Escape" && !frame.hidden) { button.click(); button.focus(); }
  });
  window.addEventListener("message", function (ev) {
    if (ev.origin === base && ev.data === "servicetorg:close" && !frame.hidden) {
      button.click(); button.focus();
    }
  });
  document.body.appendChild(frame);
  document.body.appendChild(button);
})();
