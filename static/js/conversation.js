// Conversation page: live character count (and SMS parts) under the reply box.
(function () {
  "use strict";
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
})();
