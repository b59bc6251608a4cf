/* The chat frame: sends the citizen's messages and shows the service desk's answers.
 * Messages are sent with a client id, so a retry after a dropped connection never doubles them.
 */
(function () {
  "use strict";
  var root = document.getElementById("chat");
  var key = root.dataset.key;
  var api = root.dataset.api;
  var log = document.getElementById("chat-log");
  var form = document.getElementById("chat-form");
  var input = document.getElementById("chat-input");
  var statusLine = document.getElementById("chat-status");
  var storeKey = "servicetorg.chat." + key;
  var state = { token: null, lastId: 0, outbox: [], shown: {} };

  function load() {
    try {
      var saved = JSON.parse(localStorage.getItem(storeKey) || "{}");
      state.token = saved.token || null;
      state.outbox = saved.outbox || [];
    } catch (e) { /* storage unavailable: the chat lasts for this page only */ }
  }
  function save() {
    try {
      localStorage.setItem(storeKey, JSON.stringify({ token: state.token, outbox: state.outbox }));
    } catch (e) { /* ignore */ }
  }
  function uuid() {
    if (window.crypto && crypto.randomUUID) { return crypto.randomUUID(); }
    var b = new Uint8Array(16); crypto.getRandomValues(b);
    return Array.prototype.map.call(b, function (x) { return ("0" + x.toString(16)).slice(-2); }).join("");
  }
  function request(method, url, body) {
    var headers = { "Content-Type": "application/json" };
    if (state.token) { headers["X-Chat-Token"] = state.token; }
    return fetch(url, { method: method, headers: headers, body: body ? JSON.stringify(body) : undefined })
      .then(function (r) {
        return r.json().catch(function () { return {}; }).then(function (data) {
          if (!r.ok) { var err = new Error(data.message || r.statusText); err.status = r.status; throw err; }
          return data;
        });
      });
  }
  function ensureToken() {
    if (state.token) { return Promise.resolve(state.token); }
    return request("POST", root.dataset.visitorApi).then(function (d) {
      state.token = d.token; save(); return d.token;
    });
  }
  function render(m, pending) {
    var id = pending ? "pending-" + m.client_id : "m-" + m.id;
    if (document.getElementById(id)) { return; }
    var li = document.createElement("li");
    var who = m.from === "staff" ? root.dataset.staff : root.dataset.you;
    li.id = id;
    li.className = "chat__msg chat__msg--" + (m.from || "citizen");
    var meta = document.createElement("span");
    meta.className = "chat__meta";
    var when = m.sent_at ? new Date(m.sent_at) : new Date();
    meta.textContent = who + ", " + when.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
    var text = document.createElement("span");
    text.textContent = m.body;  // never HTML
    li.appendChild(meta); li.appendChild(text);
    log.appendChild(li);
    log.scrollTop = log.scrollHeight;
  }
  function flush() {
    if (!state.outbox.length) { return Promise.resolve(); }
    var next = state.outbox[0];
    return ensureToken().then(function () {
      return request("POST", api, { body: next.body, client_id: next.client_id });
    }).then(function (d) {
      state.outbox.shift(); save();
      var pending = document.getElementById("pending-" + next.client_id);
      if (pending) { pending.remove(); }
      render(d.message);
      statusLine.textContent = "";
      return flush();
    }).catch(function (err) {
      if (err.status && err.status < 500 && err.status !== 429) {
        state.outbox.shift(); save();  // rejected for good: do not retry
        statusLine.textContent = err.message;
      } else {
        statusLine.textContent = root.dataset.failed;
      }
    });
  }
  function poll() {
    if (!state.token) { return Promise.resolve(); }
    return request("GET", api + "?after=" + state.lastId).then(function (d) {
      d.messages.forEach(function (m) {
        state.lastId = Math.max(state.lastId, m.id);
        render(m);
      });
      if (statusLine.textContent === root.dataset.offline) { statusLine.textContent = ""; }
    }).catch(function () { statusLine.textContent = root.dataset.offline; });
  }
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
  window.addEventListener("online", flush);

  load();
  state.outbox.forEach(function (m) { render(m, true); });
  poll().then(flush);
  setInterval(function () { poll(); if (state.outbox.length) { flush(); } }, 2000);
})();
