// SMS alerts: a live character and segment count (GSM-7 or UCS-2, as
// channels/twilio_sms/segments.py counts), and the progress of an alert being sent.
(function () {
  var body = document.getElementById("body");
  if (!body) return;
  var BASIC = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?" +
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà";
  var EXTENDED = "^{}\\[~]|€\f";
  var chars = document.getElementById("count-chars");
  var segments = document.getElementById("count-segments");
  var encoding = document.getElementById("count-encoding");
  var help = document.getElementById("body-count");
  function count() {
    var text = body.value.replace(/\r\n/g, "\n");
    var gsm = true, units = 0, i, c;
    for (i = 0; i < text.length; i++) {
      c = text.charAt(i);
      if (BASIC.indexOf(c) >= 0) units += 1;
      else if (EXTENDED.indexOf(c) >= 0) units += 2;
      else { gsm = false; break; }
    }
    var single = 160, multi = 153;
    if (!gsm) { units = text.length; single = 70; multi = 67; }  // UTF-16 code units
    var n = units === 0 ? 0 : (units <= single ? 1 : Math.ceil(units / multi));
    chars.textContent = String(text.length);
    segments.textContent = String(n);
    encoding.textContent = gsm ? "GSM-7" : "UCS-2";
    help.title = gsm ? "" : help.getAttribute("data-ucs");
  }
  body.addEventListener("input", count);
  count();
})();

(function () {
  var box = document.getElementById("progress");
  if (!box || box.getAttribute("data-state") !== "sending") return;
  var url = box.getAttribute("data-url");
  function set(id, value) {
    var el = document.getElementById(id);
    if (el) el.textContent = String(value);
  }
  function poll() {
    fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (p) {
        if (!p) return;
        set("p-queued", p.queued);
        set("p-sent", p.sent);
        set("p-delivered", p.delivered);
        set("p-failed", p.failed + p.undelivered);
        set("alert-state", p.label);
        var bar = document.getElementById("p-bar");
        if (bar) { bar.max = p.total; bar.value = p.total - p.queued; }
        if (p.state === "sending") setTimeout(poll, 2000);
      })
      .catch(function () { setTimeout(poll, 5000); });
  }
  setTimeout(poll, 1000);
})();
