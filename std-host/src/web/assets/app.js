// wirekit console. Everything shown comes from the server and is set with
// textContent (never parsed as HTML), so hostile text shows as text.
"use strict";

const MAX_EVENTS = 200;
const MAX_CHAT = 500;

// The token travels in the fragment (#token=...), which the browser never
// sends to the server; the script passes it on the WebSocket URLs.
function token() {
  const m = /(?:^|&)token=([^&]*)/.exec(location.hash.slice(1));
  return m ? decodeURIComponent(m[1]) : "";
}

function wsUrl(path) {
  const proto = location.protocol === "https:" ? "wss:" : "ws:";
  const t = token();
  return proto + "//" + location.host + path + (t ? "?token=" + encodeURIComponent(t) : "");
}

function el(tag, text, cls) {
  const e = document.createElement(tag);
  if (text !== undefined) e.textContent = String(text);
  if (cls) e.className = cls;
  return e;
}

function bytes(n) {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
  return (i === 0 ? Math.round(n) : n.toFixed(1)) + " " + units[i];
}

function showListeners(list) {
  const body = document.getElementById("listeners");
  body.replaceChildren(...list.map((l) => {
    const tr = el("tr");
    tr.dataset.service = l.service;
    for (const v of [l.service, l.proto, l.addr]) tr.append(el("td", v));
    const nums = [l.active, l.accepted, l.refused, bytes(l.rx_rate) + "/s",
                  bytes(l.tx_rate) + "/s", bytes(l.rx_bytes), bytes(l.tx_bytes)];
    const names = ["active", "accepted", "refused", "rx_rate", "tx_rate", "rx_bytes", "tx_bytes"];
    nums.forEach((v, i) => { const td = el("td", v, "num"); td.dataset.k = names[i]; tr.append(td); });
    return tr;
  }));
}

function showEvents(events) {
  const list = document.getElementById("events");
  for (const e of events) {
    const when = new Date(e.at_ms).toLocaleTimeString();
    const text = when + "  " + e.kind + "  " + e.service + "  " + e.peer + (e.detail ? "  " + e.detail : "");
    list.prepend(el("li", text, "ev-" + e.kind));
  }
  while (list.children.length > MAX_EVENTS) list.lastChild.remove();
}

function status() {
  const state = document.getElementById("state");
  const ws = new WebSocket(wsUrl("/ws/status"));
  ws.onopen = () => { state.textContent = "live"; };
  ws.onmessage = (m) => {
    const s = JSON.parse(m.data);
    showListeners(s.listeners);
    showEvents(s.events);
    const members = document.getElementById("members");
    members.textContent = s.chat_members === null ? "(no chat listener)" : "(" + s.chat_members + " online)";
  };
  ws.onclose = (e) => {
    state.textContent = e.code === 1006 ? "disconnected (wrong or missing token?)" : "disconnected";
    setTimeout(status, 3000);
  };
}

// The seed 003 format: "YYYY/MM/DD HH:MM:SS SENDER", the text, a blank line.
const HEADER = /^\d{4}\/\d\d\/\d\d \d\d:\d\d:\d\d \S+$/;

function chatLine(text) {
  if (text === "") return;
  const log = document.getElementById("chatlog");
  const stick = log.scrollTop + log.clientHeight >= log.scrollHeight - 4;
  log.append(el("div", text, HEADER.test(text) ? "line hdr" : "line"));
  while (log.children.length > MAX_CHAT) log.firstChild.remove();
  if (stick) log.scrollTop = log.scrollHeight;
}

function chat() {
  const input = document.getElementById("chatinput");
  const send = document.getElementById("chatsend");
  const ws = new WebSocket(wsUrl("/ws/chat"));
  ws.binaryType = "arraybuffer";
  const dec = new TextDecoder("utf-8");
  let partial = "";
  ws.onopen = () => { input.disabled = false; send.disabled = false; };
  ws.onmessage = (m) => {
    const lines = (partial + dec.decode(m.data, { stream: true })).split("\n");
    partial = lines.pop();
    for (const l of lines) chatLine(l.replace(/\r$/, ""));
  };
  ws.onclose = () => {
    input.disabled = true; send.disabled = true;
    chatLine("-- chat closed --");
  };
  document.getElementById("chatform").onsubmit = (ev) => {
    ev.preventDefault();
    if (ws.readyState === WebSocket.OPEN && input.value !== "") {
      ws.send(input.value);
      input.value = "";
    }
  };
}

status();
chat();
