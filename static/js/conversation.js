// Conversation page: live character count (and SMS parts) under the reply box. Run again
// ("conversation:loaded") when the workspace swaps in another conversation.
(function () {
  "use strict";
  function init() {
  var body = document.getElementById("reply-body");
  var counter = document.getElementById("reply-counter");
  if (!body || !counter) return;
  var max = parseInt(body.getAttribute("maxlength"), 10) || 0;
  var segments = document.getElementById("reply-segments");
  var per = segments ? parseInt(segments.getAttribute("data-segment"), 10) || 0 : 0;
  var lang = document.documentElement.lang || "nb";
  var words = {
    nb: ["tegn", "deler"], nn: ["teikn", "delar"], en: ["characters", "parts"]
  }[lang] || ["characters", "parts"];
  function update() {
    var n = body.value.length;
    counter.textContent = n + " / " + max + " " + words[0];
    if (segments && per) {
      segments.textContent = "(" + Math.max(1, Math.ceil(n / per)) + " " + words[1] + ")";
    }
  }
  body.addEventListener("input", update);
  update();
  }
  init();
  document.addEventListener("conversation:loaded", init);
})();

// Canned replies: insert at the cursor without reloading (the form works without JS too).
(function () {
  "use strict";
  function init() {
  var form = document.getElementById("canned-form");
  var body = document.getElementById("reply-body");
  if (!form || !body) return;
  form.addEventListener("submit", function (event) {
    var option = form.querySelector("select option:checked");
    if (!option) return;
    event.preventDefault();
    var text = option.getAttribute("data-text") || "";
    var start = body.selectionStart || 0;
    var end = body.selectionEnd || 0;
    body.value = body.value.slice(0, start) + text + body.value.slice(end);
    body.focus();
    body.setSelectionRange(start + text.length, start + text.length);
    body.dispatchEvent(new Event("input"));
  });
  }
  init();
  document.addEventListener("conversation:loaded", init);
})();
