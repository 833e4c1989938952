// The chat drawn in the page. Everything a user wrote goes in as text (textContent,
// text nodes), never as markup; names and messages are isolated (<bdi>, dir=auto) so
// that right-to-left text cannot turn a line around.

import { foldName } from "./irc.js";

const $ = (id) => document.getElementById(id);
const LINK = /\bhttps?:\/\/[^\s<>"]+[^\s<>".,;:!?)\]'"]/gi;
const NEAR_BOTTOM_PX = 48;

/** An element with a class and text. */
export function el(tag, className = "", text = "") {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text) node.textContent = text;
  return node;
}

function isolated(text, className = "") {
  const node = el("bdi", className, text);
  return node;
}

/** Text with its http(s) links made links (their href is the text itself). */
function linked(text) {
  const out = document.createDocumentFragment();
  let at = 0;
  for (const match of text.matchAll(LINK)) {
    out.append(text.slice(at, match.index));
    const a = el("a", "", match[0]);
    a.href = match[0];
    a.rel = "noopener noreferrer nofollow";
    a.target = "_blank";
    out.append(a);
    at = match.index + match[0].length;
  }
  out.append(text.slice(at));
  return out;
}

/** A line's text: a user's words (a string), or the page's own with users' parts. */
function textOf(text) {
  if (typeof text === "string") return linked(text);
  const out = document.createDocumentFragment();
  for (const part of text) out.append(typeof part === "string" ? part : isolated(part.u));
  return out;
}

function colour(nick) {
  let hash = 0;
  for (const ch of foldName(nick)) hash = (hash * 31 + ch.codePointAt(0)) >>> 0;
  return `c${hash % 8}`;
}

function clock(iso) {
  const d = new Date(iso);
  return `${String(d.getHours()).padStart(2, "0")}:${String(d.getMinutes()).padStart(2, "0")}`;
}

function dayOf(iso) {
  return new Date(iso).toDateString();
}

function dayLabel(iso) {
  const d = new Date(iso);
  const today = new Date();
  const yesterday = new Date(Date.now() - 86400000);
  if (d.toDateString() === today.toDateString()) return "Today";
  if (d.toDateString() === yesterday.toDateString()) return "Yesterday";
  return d.toLocaleDateString(undefined, { weekday: "long", year: "numeric", month: "long", day: "numeric" });
}

/** One line of the log. */
export function messageItem(msg) {
  const item = el("li", `msg msg-${msg.kind}`);
  if (msg.self) item.classList.add("self");
  if (msg.mention) item.classList.add("mention");
  const time = el("time", "", clock(msg.time));
  time.dateTime = msg.time;
  time.title = new Date(msg.time).toLocaleString();
  const body = el("div", "body");
  const text = el("span", "text");
  text.dir = "auto";
  if (msg.kind === "msg") {
    body.append(isolated(msg.nick, `nick ${colour(msg.nick)}`), " ");
    text.append(textOf(msg.text));
  } else if (msg.kind === "action") {
    body.append("* ", isolated(msg.nick, `nick ${colour(msg.nick)}`), " ");
    text.append(textOf(msg.text));
  } else if (msg.kind === "notice") {
    body.append(isolated(`-${msg.nick}-`, `nick ${colour(msg.nick)}`), " ");
    text.append(textOf(msg.text));
  } else {
    text.append(textOf(msg.text));
  }
  body.append(text);
  item.append(time, body);
  return item;
}

/** Put `items` (element per key) into `list` in order, moving only what is out of place,
 *  so a control that has the focus keeps it. */
function reconcile(list, items) {
  items.forEach((item, i) => {
    if (list.children[i] !== item) list.insertBefore(item, list.children[i] ?? null);
  });
  while (list.children.length > items.length) list.lastElementChild.remove();
}

export class View {
  constructor() {
    this.chat = null; // set by app.js
    this.bufferItems = new Map(); // key -> li
    this.memberItems = new Map();
    this.lastDay = null;
    this.markTimer = null;
    this.log = $("log");
    this.messages = $("messages");
  }

  // The chat's callbacks.

  ready() {
    this.drawSelf();
  }

  selfChanged() {
    this.drawSelf();
  }

  activeChanged() {
    const buf = this.chat.activeBuffer;
    this.drawBuffers();
    this.drawHeader(buf);
    this.drawMembers(buf);
    this.drawLog(buf);
    this.scrollToBottom();
    this.fillScreen(buf);
    this.soonMarkRead();
  }

  buffersChanged() {
    this.drawBuffers();
  }

  messageAdded(buf, msg) {
    if (buf !== this.chat.activeBuffer) return;
    const follow = this.atBottom() || msg.self;
    this.appendDay(msg.time);
    this.messages.append(messageItem(msg));
    if (follow) this.scrollToBottom();
    this.soonMarkRead();
  }

  bufferReset(buf, direction) {
    if (buf !== this.chat.activeBuffer) return;
    const follow = this.atBottom();
    const fromBottom = this.log.scrollHeight - this.log.scrollTop;
    this.drawLog(buf);
    if (direction === "older" && !follow) this.log.scrollTop = this.log.scrollHeight - fromBottom;
    else if (follow || direction !== "older") this.scrollToBottom();
    this.fillScreen(buf);
    this.soonMarkRead();
  }

  membersChanged(buf) {
    if (buf === this.chat.activeBuffer) {
      this.drawMembers(buf);
      this.drawHeader(buf);
    }
  }

  topicChanged(buf) {
    if (buf === this.chat.activeBuffer) this.drawHeader(buf);
  }

  directoryChanged() {
    const list = $("directory");
    list.replaceChildren();
    for (const room of this.chat.directory) {
      const button = el("button", "room-link");
      button.type = "button";
      button.dataset.room = room.name;
      const head = el("span", "room-head");
      const users = el("span", "room-count", `${room.users}`);
      users.setAttribute("aria-hidden", "true");
      head.append(isolated(room.name, "room-name"), users);
      const count = el("span", "sr-only", room.users === 1 ? " (1 user)" : ` (${room.users} users)`);
      button.append(head, count);
      if (room.topic) {
        const topic = el("span", "room-topic", room.topic);
        topic.dir = "auto";
        button.append(topic);
      }
      const item = el("li");
      item.append(button);
      list.append(item);
    }
    if (!this.chat.directory.length) list.append(el("li", "empty", "No rooms yet: make one above."));
  }

  mentioned(buf, msg) {
    const visible = document.visibilityState === "visible";
    if (visible && buf === this.chat.activeBuffer) return;
    if (visible || !("Notification" in window) || Notification.permission !== "granted") return;
    const title = buf.kind === "query" ? msg.nick : `${msg.nick} in ${buf.name}`;
    const note = new Notification(title, { body: msg.text, tag: buf.key });
    note.addEventListener("click", () => {
      window.focus();
      this.chat.select(buf.key);
    });
  }

  // Drawing.

  drawSelf() {
    $("me-nick").textContent = this.chat.nick;
    $("me-account").textContent = this.chat.account ? "logged in" : "guest";
  }

  drawHeader(buf) {
    const title = $("title");
    title.replaceChildren(isolated(buf.label));
    const topic = $("topic");
    topic.dir = "auto";
    if (buf.kind === "channel") {
      topic.textContent = buf.joined || buf.stayJoined ? buf.topic || "No topic" : "You are not in this room.";
    } else if (buf.kind === "query") {
      topic.textContent = "Private conversation";
    } else {
      topic.textContent = "Messages from the server";
    }
    topic.classList.toggle("none", buf.kind === "channel" && !buf.topic);
    topic.title = topic.textContent;
    const leave = $("leave-button");
    leave.hidden = buf.kind === "home";
    leave.textContent = buf.kind === "query" ? "Close" : "Leave";
    const toggle = $("toggle-members");
    toggle.hidden = buf.kind !== "channel";
    const count = buf.kind === "channel" ? `${buf.members.size}` : "";
    $("member-count").textContent = count;
    $("members-count").textContent = count;
    document.body.classList.toggle("no-members", buf.kind !== "channel");
  }

  drawBuffers() {
    const rooms = [];
    const people = [];
    let totalUnread = 0;
    const active = this.chat.active;
    const sorted = [...this.chat.buffers.values()].sort(
      (a, b) => (a.kind === "home" ? -1 : b.kind === "home" ? 1 : a.key.localeCompare(b.key)),
    );
    for (const buf of sorted) {
      const item = this.bufferItem(buf);
      const { count, mentioned } = buf.unread();
      const badge = item.querySelector(".badge");
      const seen = buf.key === active && document.visibilityState === "visible";
      const shown = seen ? 0 : count;
      const forYou = seen ? 0 : mentioned;
      badge.textContent = shown ? String(shown) : "";
      badge.hidden = !shown;
      badge.classList.toggle("mention", forYou > 0);
      const button = item.querySelector("button");
      button.setAttribute("aria-label", buf.label +
        (shown ? `, ${shown} unread${forYou ? `, ${forYou} for you` : ""}` : ""));
      button.classList.toggle("parted", buf.kind === "channel" && !buf.joined && !buf.stayJoined);
      if (buf.key === active) button.setAttribute("aria-current", "page");
      else button.removeAttribute("aria-current");
      item.querySelector(".buffer-name").textContent = buf.label;
      (buf.kind === "query" ? people : rooms).push(item);
      totalUnread += forYou;
    }
    for (const key of this.bufferItems.keys()) {
      if (!this.chat.buffers.has(key)) this.bufferItems.delete(key);
    }
    reconcile($("buffer-list"), rooms);
    reconcile($("query-list"), people);
    $("query-title").hidden = !people.length;
    $("sidebar-badge").hidden = !totalUnread;
    document.title = totalUnread ? `(${totalUnread}) chatroom` : "chatroom";
  }

  bufferItem(buf) {
    let item = this.bufferItems.get(buf.key);
    if (!item) {
      item = el("li");
      const button = el("button", `buffer buffer-${buf.kind}`);
      button.type = "button";
      button.dataset.key = buf.key;
      button.append(el("bdi", "buffer-name"), el("span", "badge"));
      item.append(button);
      this.bufferItems.set(buf.key, item);
    }
    item.querySelector("button").dataset.key = buf.key;
    return item;
  }

  drawMembers(buf) {
    const items = [];
    const seen = new Set();
    for (const member of buf.sortedMembers()) {
      const key = foldName(member.nick);
      seen.add(key);
      let item = this.memberItems.get(key);
      if (!item) {
        item = el("li");
        this.memberItems.set(key, item);
      }
      const prefix = this.chat.prefixOf(member);
      const self = this.chat.isMe(member.nick);
      const role = prefix === "@" ? ", operator" : prefix === "+" ? ", voiced" : "";
      const label = `${member.nick}${self ? " (you)" : ""}${role}${member.away ? ", away" : ""}`;
      let control = item.firstElementChild;
      if (!control) {
        control = el("button", "member");
        control.type = "button";
        item.append(control);
      }
      control.dataset.nick = member.nick;
      control.dataset.self = self ? "yes" : "";
      control.classList.toggle("away", member.away);
      control.title = self ? "You" : `Message ${member.nick}`;
      control.setAttribute("aria-label", label);
      if (control.textContent !== prefix + member.nick) {
        control.replaceChildren(el("span", "prefix", prefix), isolated(member.nick, `nick ${colour(member.nick)}`));
      }
      items.push(item);
    }
    for (const key of this.memberItems.keys()) if (!seen.has(key)) this.memberItems.delete(key);
    reconcile($("member-list"), items);
  }

  drawLog(buf) {
    this.messages.replaceChildren();
    this.lastDay = null;
    for (const msg of buf.messages) {
      this.appendDay(msg.time);
      this.messages.append(messageItem(msg));
    }
    this.drawLogTop(buf);
  }

  drawLogTop(buf) {
    const top = $("log-top");
    top.replaceChildren();
    if (buf.kind === "home") return;
    if (buf.pending === "before") top.textContent = "Loading older messages…";
    else if (buf.complete) {
      top.textContent = buf.kind === "channel"
        ? "This is the beginning of the room's history."
        : "This is the beginning of your conversation.";
    } else if (buf.messages.length) {
      const more = el("button", "quiet", "Load older messages");
      more.type = "button";
      more.id = "load-older";
      top.append(more);
    }
  }

  appendDay(iso) {
    const day = dayOf(iso);
    if (day === this.lastDay) return;
    this.lastDay = day;
    this.messages.append(el("li", "day", dayLabel(iso)));
  }

  // Scrolling, and the read marker.

  atBottom() {
    return this.log.scrollHeight - this.log.scrollTop - this.log.clientHeight < NEAR_BOTTOM_PX;
  }

  scrollToBottom() {
    this.log.scrollTop = this.log.scrollHeight;
  }

  /** Older messages when the log has no scroll bar yet, or is scrolled to its top. */
  fillScreen(buf) {
    if (this.log.scrollTop < 80 && this.chat.askOlder(buf)) this.drawLogTop(buf);
  }

  onScroll() {
    const buf = this.chat.activeBuffer;
    if (this.log.scrollTop < 80 && this.chat.askOlder(buf)) this.drawLogTop(buf);
    this.soonMarkRead();
  }

  soonMarkRead() {
    clearTimeout(this.markTimer);
    this.markTimer = setTimeout(() => {
      if (document.visibilityState === "visible" && this.atBottom()) {
        this.chat.markRead(this.chat.activeBuffer);
      }
    }, 250);
  }
}
