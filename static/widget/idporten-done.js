/* The end of "Log in with ID-porten": hands the chat frame that opened this window the
 * token of the identified person (only to our own origin), then closes the window. */
(function () {
  "use strict";
  var root = document.getElementById("idporten-done");
  var d = root.dataset;
  document.getElementById("idporten-close").addEventListener("click", function () { window.close(); });
  if (d.token && window.opener && !window.opener.closed) {
    try {
      window.opener.postMessage({ type: "servicetorg:idporten", token: d.token, label: d.label }, d.origin);
      window.close();
    } catch (e) { /* the chat was closed: the person can close this window */ }
  }
})();
