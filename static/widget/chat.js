/* The chat frame: sends the citizen's messages and shows the service desk's answers.
 * Messages are sent with a client id, so a retry after a dropped connection never doubles them.
 * The server answers 202 once the message is safely queued; it stays "sending" until the
 * stored message (with its id, which the cursor and read receipts use) arrives in the stream
 * or poll carrying the same client id, and then replaces the pending bubble.
 * News arrives over server-sent events (read with fetch, so the token stays in a header);
 * when streaming is not possible the frame polls every 2 seconds instead.
 */
(function () {
  "use strict";
  var root = document.getElementById("chat");
  var d = root.dataset;
  var log = document.getElementById("chat-log");
  var scroller = document.getElementById("chat-scroll");
  var form = document.getElementById("chat-form");
  var input = document.getElementById("chat-input");
  var statusLine = document.getElementById("chat-status");
  var typingLine = document.getElementById("chat-typing");
  var notice = document.getElementById("chat-availability");
  var prefForm = document.getElementById("chat-pref");
  var prefError = document.getElementById("pref-error");
  var storeKey = "servicetorg.chat." + d.key;
  var state = { token: null, user: null, lastId: 0, outbox: [], readUpTo: 0, askPref: false };
  var streaming = false, streamFailures = 0, flushing = false, ended = false;
  var sticky = "";
  var streamAbort = null;  // a notice that stays until something newer replaces it

  function load() {
    try {
      var saved = JSON.parse(localStorage.getItem(storeKey) || "{}");
      state.token = saved.token || null;
      state.user = saved.user || null;
      state.outbox = saved.outbox || [];
      state.askPref = !!saved.askPref;
      state.idporten = saved.idporten || null;
    } catch (e) { /* storage unavailable: the chat lasts for this page only */ }
  }
  function save() {
    try {
      localStorage.setItem(storeKey, JSON.stringify({
        token: state.token, user: state.user, outbox: state.outbox, askPref: state.askPref,
        idporten: state.idporten || null
      }));
    } catch (e) { /* ignore */ }
  }
  function forget() {
    try { localStorage.removeItem(storeKey); } catch (e) { /* ignore */ }
    state = { token: null, user: null, lastId: 0, outbox: [], readUpTo: 0, askPref: false };
  }
  function uuid() {
    if (window.crypto && crypto.randomUUID) { return crypto.randomUUID(); }
    var b = new Uint8Array(16); crypto.getRandomValues(b);
    return Array.prototype.map.call(b, function (x) { return ("0" + x.toString(16)).slice(-2); }).join("");
  }
  function headers() {
    var h = { "Content-Type": "application/json" };
    if (state.token) { h["X-Chat-Token"] = state.token; }
    return h;
  }
  function request(method, url, body) {
    return fetch(url, { method: method, headers: headers(), body: body ? JSON.stringify(body) : undefined })
      .then(function (r) {
        return r.json().catch(function () { return {}; }).then(function (data) {
          if (!r.ok) {
            var err = new Error(data.message || r.statusText);
            err.status = r.status; err.code = data.error; throw err;
          }
          return data;
        });
      });
  }

  // Identified visitors: the embedding page passed a signed user id in our URL fragment.
  function identityFromHash() {
    var p = new URLSearchParams(location.hash.slice(1));
    if (location.hash) { history.replaceState(null, "", location.pathname + location.search); }
    return p.get("uid") ? { user_id: p.get("uid"), ts: p.get("uts"), sig: p.get("usig") } : null;
  }
  var vouched = identityFromHash();
  function ensureToken() {
    if (state.token) { return Promise.resolve(state.token); }
    var anonymous = function () { return request("POST", d.visitorApi, {}); };
    var first = vouched ? request("POST", d.visitorApi, vouched).catch(function (err) {
      if (err.status === 400 || err.status === 403) {
        sticky = d.identityFailed + " " + err.message;
        statusLine.textContent = sticky;
        vouched = null;
        return anonymous();
      }
      throw err;
    }) : anonymous();
    return first.then(function (data) {
      state.token = data.token;
      state.user = data.identified && vouched ? vouched.user_id : null;
      save(); startStream(); return data.token;
    });
  }

  function timeText(iso) {
    var when = iso ? new Date(iso) : new Date();
    return when.toLocaleTimeString(document.documentElement.lang, { hour: "2-digit", minute: "2-digit" });
  }
  function render(m, pending) {
    var id = pending ? "pending-" + m.client_id : "m-" + m.id;
    if (document.getElementById(id)) { return; }
    var li = document.createElement("li");
    var from = m.from === "staff" ? "staff" : "citizen";
    li.id = id;
    li.className = "chat__msg chat__msg--" + from;
    if (!pending) { li.dataset.id = m.id; }
    var meta = document.createElement("span");
    meta.className = "chat__meta";
    meta.textContent = (from === "staff" ? d.staff : d.you) + ", " + timeText(m.sent_at);
    var text = document.createElement("span");
    text.className = "chat__body";
    text.textContent = m.body;  // never HTML
    li.appendChild(meta); li.appendChild(text);
    if (from === "citizen") {
      var receipt = document.createElement("span");
      receipt.className = "chat__receipt";
      receipt.textContent = pending ? d.sending : "";
      li.appendChild(receipt);
    }
    log.appendChild(li);
    scroller.scrollTop = scroller.scrollHeight;
    if (!pending) { showRead(); }
  }
  function showRead() {
    var items = log.querySelectorAll(".chat__msg--citizen[data-id]");
    Array.prototype.forEach.call(items, function (li) {
      var r = li.querySelector(".chat__receipt");
      r.textContent = Number(li.dataset.id) <= state.readUpTo ? d.read : "";
    });
  }
  function applyMessage(m) {
    if (m.client_id) {  // our own message, now stored: it replaces the pending bubble
      var pending = document.getElementById("pending-" + m.client_id);
      if (pending) { pending.remove(); }
    }
    state.lastId = Math.max(state.lastId, m.id);
    if (m.from === "citizen" && m.read) { state.readUpTo = Math.max(state.readUpTo, m.id); }
    render(m);
  }
  function applyState(s) {
    if (typeof s.read_up_to === "number" && s.read_up_to > state.readUpTo) {
      state.readUpTo = s.read_up_to; showRead();
    }
    if (typeof s.typing === "boolean") { typingLine.textContent = s.typing ? d.staffTyping : ""; }
    if (s.availability) { showAvailability(s.availability); }
  }
  function showAvailability(a) {
    if (a.available) { notice.hidden = true; notice.textContent = ""; return; }
    var text = a.reason === "closed" ? d.closed : d.noStaff;
    if (a.reason === "closed" && a.today) { text += " " + d.closedToday.replace("{hours}", a.today); }
    notice.textContent = text; notice.hidden = false;
  }

  function flush() {
    if (flushing || !state.outbox.length || ended) { return Promise.resolve(); }
    flushing = true;
    var next = state.outbox[0];
    return ensureToken().then(function () {
      return request("POST", d.api, { body: next.body, client_id: next.client_id });
    }).then(function (data) {
      state.outbox.shift();
      // Accepted (202): the bubble stays pending until the stored message arrives.
      if (data.message && typeof data.message.id === "number") { applyMessage(data.message); }
      if (data.availability) { showAvailability(data.availability); }
      if (data.ask_reply_preference) { state.askPref = true; }
      save(); showPreference();
      statusLine.textContent = sticky;
      flushing = false;
      return flush();
    }).catch(function (err) {
      flushing = false;
      if (err.status && err.status < 500 && err.status !== 429 && err.status !== 401) {
        state.outbox.shift(); save();  // rejected for good: do not retry
        var gone = document.getElementById("pending-" + next.client_id);
        if (gone) { gone.remove(); }
        statusLine.textContent = err.message;
      } else if (err.status === 401) {
        state.token = null; save();  // the token was forgotten: get a new one and retry
      } else {
        statusLine.textContent = err.status === 429 ? err.message : d.failed;
      }
    });
  }
  function poll() {
    if (!state.token || streaming) { return Promise.resolve(); }
    return request("GET", d.api + "?after=" + state.lastId).then(function (data) {
      data.messages.forEach(applyMessage);
      applyState(data);
      if (statusLine.textContent === d.offline) { statusLine.textContent = sticky; }
    }).catch(function (err) {
      statusLine.textContent = err.status === 429 ? err.message : d.offline;
    });
  }

  // Server-sent events over fetch: the stream ends after a while and we reconnect.
  function startStream() {
    if (streaming || !state.token || ended || !window.ReadableStream || !window.TextDecoder) { return; }
    if (streamFailures > 5) { return; }  // stay with polling
    streaming = true;
    var buffer = "";
    var decoder = new TextDecoder();
    streamAbort = window.AbortController ? new AbortController() : null;
    fetch(d.streamApi + "?after=" + state.lastId, {
      headers: headers(), cache: "no-store", signal: streamAbort ? streamAbort.signal : undefined
    })
      .then(function (r) {
        if (!r.ok || !r.body) { throw new Error("stream " + r.status); }
        var reader = r.body.getReader();
        if (statusLine.textContent === d.offline) { statusLine.textContent = ""; }
        function pump() {
          return reader.read().then(function (chunk) {
            if (chunk.done) { return; }
            buffer += decoder.decode(chunk.value, { stream: true });
            var parts = buffer.split("\n\n");
            buffer = parts.pop();
            parts.forEach(handleEvent);
            streamFailures = 0;
            return pump();
          });
        }
        return pump();
      })
      .then(function () { streaming = false; setTimeout(startStream, 100); })
      .catch(function () {
        streaming = false; streamFailures += 1;
        statusLine.textContent = navigator.onLine === false ? d.offline : statusLine.textContent;
        setTimeout(startStream, Math.min(30000, 1000 * streamFailures));
      });
  }
  function handleEvent(block) {
    var name = "message", data = "";
    block.split("\n").forEach(function (line) {
      if (line.indexOf("event: ") === 0) { name = line.slice(7); }
      else if (line.indexOf("data: ") === 0) { data += line.slice(6); }
    });
    if (!data) { return; }
    var value = JSON.parse(data);
    if (name === "message") { applyMessage(value); }
    else if (name === "read_up_to") { applyState({ read_up_to: value }); }
    else if (name === "typing") { applyState({ typing: value }); }
    else if (name === "availability") { showAvailability(value); }
  }

  // How the citizen wants to be answered when nobody is there.
  function showPreference() {
    prefForm.hidden = !state.askPref;
  }
  function prefMethod() { return prefForm.querySelector("input[name=method]:checked").value; }
  prefForm.addEventListener("change", function () {
    var m = prefMethod();
    document.getElementById("pref-phone-field").hidden = m !== "sms";
    document.getElementById("pref-email-field").hidden = m !== "email";
  });
  prefForm.addEventListener("submit", function (ev) {
    ev.preventDefault();
    var m = prefMethod();
    var field = m === "sms" ? document.getElementById("pref-phone") :
      m === "email" ? document.getElementById("pref-email-input") : null;
    prefError.textContent = "";
    if (field) { field.removeAttribute("aria-invalid"); }
    savePreference({ method: m, value: field ? field.value : undefined }, 15)
      .then(function () {
        state.askPref = false; save(); showPreference();
        statusLine.textContent = d.preferenceSaved;
        input.focus();
      }).catch(function (err) {
        prefError.textContent = err.message || d.failed;
        if (field) { field.setAttribute("aria-invalid", "true"); field.focus(); }
      });
  });

  // The first message may still be on its way to the queue (no conversation yet): try again.
  function savePreference(body, attempts) {
    return request("POST", d.preferenceApi, body).catch(function (err) {
      if (err.code !== "no_conversation" || attempts <= 0) { throw err; }
      return new Promise(function (resolve) { setTimeout(resolve, 1000); }).then(function () {
        return savePreference(body, attempts - 1);
      });
    });
  }

  document.getElementById("chat-download").addEventListener("click", function () {
    if (!state.token) { return; }
    fetch(d.transcriptApi, { headers: headers() }).then(function (r) {
      if (!r.ok) { throw new Error(r.statusText); }
      return r.blob();
    }).then(function (blob) {
      var a = document.createElement("a");
      a.href = URL.createObjectURL(blob);
      a.download = d.filename + "-" + new Date().toISOString().slice(0, 10) + ".txt";
      document.body.appendChild(a); a.click(); a.remove();
      setTimeout(function () { URL.revokeObjectURL(a.href); }, 1000);
    }).catch(function () { statusLine.textContent = d.failed; });
  });
  document.getElementById("chat-end").addEventListener("click", function () {
    var done = function () {
      ended = true; forget(); sticky = ""; showIdentified();
      if (streamAbort) { streamAbort.abort(); }
      log.textContent = ""; typingLine.textContent = ""; prefForm.hidden = true;
      statusLine.textContent = d.ended;
      ended = false;
      input.focus();
    };
    if (!state.token) { done(); return; }
    request("POST", d.endApi, {}).then(done).catch(function (err) {
      statusLine.textContent = err.message || d.failed;
    });
  });

  form.addEventListener("submit", function (ev) {
    ev.preventDefault();
    var body = input.value.trim();
    if (!body) { input.focus(); return; }
    var m = { body: body, client_id: uuid(), from: "citizen" };
    state.outbox.push(m); save();
    render(m, true);
    input.value = "";
    input.focus();
    flush();
  });
  input.addEventListener("keydown", function (ev) {
    if (ev.key === "Enter" && !ev.shiftKey) { ev.preventDefault(); form.requestSubmit(); }
  });
  document.addEventListener("keydown", function (ev) {
    if (ev.key === "Escape" && window.parent !== window) {
      window.parent.postMessage("servicetorg:close", "*");
    }
  });
  window.addEventListener("message", function (ev) {
    if (ev.source === window.parent && ev.data === "servicetorg:focus") { input.focus(); }
  });
  window.addEventListener("online", function () { flush(); startStream(); });

  // Log in with ID-porten (docs/sso.md): in a window of its own (ID-porten may not be framed);
  // it hands back a token of the identified person by postMessage from our own origin.
  var idButton = document.getElementById("chat-idporten");
  var identified = document.getElementById("chat-identified");
  function showIdentified() {
    if (!idButton) { return; }
    if (state.idporten) {
      identified.textContent = state.idporten; identified.hidden = false; idButton.hidden = true;
      form.hidden = false;
    } else {
      identified.hidden = true; idButton.hidden = false;
      form.hidden = d.idportenRequired === "1";
    }
  }
  if (idButton) {
    idButton.addEventListener("click", function () {
      var win = window.open("", "servicetorg-idporten");  // opened on the click: not blocked
      ensureToken().then(function () { return request("POST", d.idportenApi, {}); })
        .then(function (data) {
          if (win) { win.location.href = data.url; } else { window.location.href = data.url; }
        })
        .catch(function (err) {
          if (win) { win.close(); }
          statusLine.textContent = err.message || d.failed;
        });
    });
    window.addEventListener("message", function (ev) {
      if (ev.origin !== window.location.origin || !ev.data || ev.data.type !== "servicetorg:idporten") { return; }
      if (streamAbort) { streamAbort.abort(); }
      state.token = ev.data.token; state.idporten = ev.data.label; state.lastId = 0; state.readUpTo = 0;
      log.textContent = ""; save();
      showIdentified();
      input.focus();
      poll();
    });
  }

  load();
  if (vouched && state.user !== vouched.user_id) { forget(); }  // another person signed in
  if (!vouched && state.user) { forget(); }  // the signed-in person has signed out
  state.outbox.forEach(function (m) { render(m, true); });
  showPreference();
  showIdentified();
  request("GET", d.statusApi).then(showAvailability).catch(function () { /* shown by poll */ });
  (vouched && !state.token ? ensureToken() : Promise.resolve()).then(poll).then(function () {
    startStream(); return flush();
  });
  setInterval(function () { poll(); if (state.outbox.length) { flush(); } }, 2000);
})();
