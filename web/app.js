// The page: the login form, the chat's controls and keys, the connection's status.
// Wires connection.js (the socket), chat.js (what is known) and view.js (the drawing).

import { Chat } from "./chat.js";
import { runInput } from "./commands.js";
import { Connection, socketUrl } from "./connection.js";
import { View } from "./view.js";

const $ = (id) => document.getElementById(id);
const NAME_KEY = "chatroom.name";
const SENT_KEPT = 50;

const view = new View();
const conn = new Connection(socketUrl(window.location), {
  line: (msg) => chat.handle(msg),
  welcome: () => welcomed(),
  status: (status) => showStatus(status),
  failed: (reason) => loginFailed(reason),
});
const chat = new Chat(conn, view);
view.chat = chat;

let inChat = false;
let countdown = null;
const sent = []; // what the user sent, for ↑ in the message box
let sentAt = 0;

function remembered() {
  try {
    return window.localStorage.getItem(NAME_KEY) ?? "";
  } catch {
    return "";
  }
}

function remember(name) {
  try {
    window.localStorage.setItem(NAME_KEY, name);
  } catch {
    // Storage may be off; the name is then asked for again next time.
  }
}

// Logging in and out.

function login(event) {
  event.preventDefault();
  const name = $("login-name").value.trim();
  const password = $("login-password").value;
  if (!name) {
    $("login-error").textContent = "Type a name first.";
    $("login-name").focus();
    return;
  }
  $("login-error").textContent = "";
  $("login-button").disabled = true;
  $("login-button").textContent = "Connecting…";
  remember(name);
  chat.reset();
  conn.open(name, password);
}

function welcomed() {
  showStatus(null);
  if (inChat) return;
  inChat = true;
  $("login").hidden = true;
  $("chat").hidden = false;
  $("login-password").value = ""; // the connection keeps it, to log in again after a drop
  $("login-button").disabled = false;
  $("login-button").textContent = "Connect";
  view.activeChanged();
  view.directoryChanged();
  updateNotifyButton();
  $("message").focus();
}

function loginFailed(reason) {
  showStatus(null);
  inChat = false;
  $("chat").hidden = true;
  $("login").hidden = false;
  $("login-button").disabled = false;
  $("login-button").textContent = "Connect";
  $("login-error").textContent = reason;
  $("login-name").focus();
}

function logout() {
  conn.close();
  chat.reset();
  inChat = false;
  showStatus(null);
  $("chat").hidden = true;
  $("login").hidden = false;
  $("login-name").value = conn.nick || remembered();
  $("login-name").focus();
}

// The connection's status line.

function showStatus(status) {
  clearInterval(countdown);
  const line = $("status");
  if (!status || !inChat) {
    line.hidden = true;
    return;
  }
  if (status.state !== "connecting") chat.disconnected();
  line.hidden = false;
  line.className = `status ${status.state}`;
  $("retry-button").hidden = status.state !== "offline";
  if (status.state === "closed") {
    $("status-text").textContent = `Disconnected: ${status.text}`;
    return;
  }
  if (status.state !== "offline") {
    $("status-text").textContent = "Reconnecting…";
    return;
  }
  let left = status.retryInS;
  const draw = () => {
    $("status-text").textContent =
      `Disconnected (${status.text}). Reconnecting in ${left} s; what you type is kept.`;
  };
  draw();
  countdown = setInterval(() => {
    left = Math.max(0, left - 1);
    draw();
  }, 1000);
}

// The message box.

function submitMessage(event) {
  event.preventDefault();
  const box = $("message");
  const text = box.value;
  if (!text.trim()) return;
  if (!runInput(chat, text)) {
    $("status").hidden = false;
    $("status-text").textContent = "Not connected: your message is still in the box. It can be sent once back.";
    return;
  }
  sent.push(text);
  if (sent.length > SENT_KEPT) sent.shift();
  sentAt = sent.length;
  box.value = "";
}

function recall(event) {
  if (event.altKey || event.ctrlKey || event.metaKey || event.shiftKey) return;
  const box = $("message");
  if (event.key === "ArrowUp" && (box.value === "" || sentAt < sent.length) && sentAt > 0) {
    sentAt -= 1;
    box.value = sent[sentAt];
  } else if (event.key === "ArrowDown" && sentAt < sent.length) {
    sentAt += 1;
    box.value = sent[sentAt] ?? "";
  } else return;
  event.preventDefault();
}

// Panels: the room list and the member list, which collapse on a small screen.

function setPanel(name, open) {
  document.body.classList.toggle(`show-${name}`, open);
  $(`toggle-${name}`).setAttribute("aria-expanded", String(open));
  const anyOpen = ["sidebar", "members"].some((n) => document.body.classList.contains(`show-${n}`));
  $("scrim").hidden = !anyOpen;
  document.querySelector(".main").inert = anyOpen; // the panel is over it
  if (open) {
    const panel = $(name);
    (panel.querySelector("[aria-current]") ?? panel.querySelector("button, input"))?.focus();
  }
}

function closePanels(focusBack) {
  for (const name of ["sidebar", "members"]) {
    if (document.body.classList.contains(`show-${name}`)) {
      setPanel(name, false);
      if (focusBack) $(`toggle-${name}`).focus();
    }
  }
}

function selectBuffer(key) {
  chat.select(key);
  closePanels(false);
  $("message").focus();
}

function step(by) {
  const keys = [...document.querySelectorAll("#sidebar button.buffer")].map((b) => b.dataset.key);
  const at = keys.indexOf(chat.active);
  if (keys.length) selectBuffer(keys[(at + by + keys.length) % keys.length]);
}

// Notifications, only when the user asks for them.

function updateNotifyButton() {
  const button = $("notify-button");
  button.hidden = !("Notification" in window) || Notification.permission !== "default";
}

async function askNotifications() {
  if ("Notification" in window) await Notification.requestPermission();
  updateNotifyButton();
}

// Wiring.

function start() {
  $("login-name").value = remembered();
  $("login-form").addEventListener("submit", login);
  $("composer").addEventListener("submit", submitMessage);
  $("message").addEventListener("keydown", recall);
  $("join-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const room = $("join-name").value.trim();
    if (!room) return;
    chat.join(room);
    $("join-name").value = "";
    closePanels(false);
    $("message").focus();
  });
  $("sidebar").addEventListener("click", (event) => {
    const buffer = event.target.closest("button.buffer");
    if (buffer) return selectBuffer(buffer.dataset.key);
    const room = event.target.closest("button.room-link");
    if (room) {
      chat.join(room.dataset.room);
      closePanels(false);
      $("message").focus();
    }
  });
  $("member-list").addEventListener("click", (event) => {
    const member = event.target.closest("button.member");
    if (!member || member.dataset.self) return;
    const buf = chat.openQuery(member.dataset.nick);
    selectBuffer(buf.key);
  });
  $("refresh-rooms").addEventListener("click", () => conn.send("LIST"));
  $("logout-button").addEventListener("click", logout);
  $("notify-button").addEventListener("click", askNotifications);
  $("retry-button").addEventListener("click", () => conn.retryNow());
  $("leave-button").addEventListener("click", () => {
    chat.close(chat.activeBuffer);
    $("message").focus();
  });
  $("toggle-sidebar").addEventListener("click", () =>
    setPanel("sidebar", !document.body.classList.contains("show-sidebar")));
  $("toggle-members").addEventListener("click", () =>
    setPanel("members", !document.body.classList.contains("show-members")));
  $("scrim").addEventListener("click", () => closePanels(false));
  $("log").addEventListener("scroll", () => view.onScroll(), { passive: true });
  $("log-top").addEventListener("click", (event) => {
    if (event.target.closest("#load-older") && chat.askOlder(chat.activeBuffer)) {
      view.drawLogTop(chat.activeBuffer);
    }
  });
  document.addEventListener("keydown", (event) => {
    if (event.key === "Escape") closePanels(true);
    else if (event.altKey && event.key === "ArrowUp" && inChat) step(-1);
    else if (event.altKey && event.key === "ArrowDown" && inChat) step(1);
    else return;
    event.preventDefault();
  });
  document.addEventListener("visibilitychange", () => {
    view.buffersChanged();
    if (document.visibilityState === "visible") view.soonMarkRead();
  });
  window.addEventListener("online", () => conn.retryNow());
  // A panel that slid over the chat is part of the page again on a wider screen.
  for (const width of ["720px", "1100px"]) {
    window.matchMedia(`(min-width: ${width})`).addEventListener("change", () => closePanels(false));
  }
}

start();
