// What the page knows of the chat: one buffer per room, per private conversation, and
// one for the server ("home"); their messages, members, topics and read markers. IRC
// lines come in through `handle`; what changed goes out through the `ui` callbacks
// (view.js draws it). No DOM here.

import {
  actionText, foldName, isChannel, isOtherCtcp, lineTime, mentions, parseModes, plainText,
} from "./irc.js";

/** A line of the page's own, with what users wrote in it kept apart (`u` parts are
 *  drawn in <bdi>, so a name or a reason written right to left, or with a direction
 *  override, cannot turn the rest of the line around): u`${nick} joined ${room}`. */
export function u(strings, ...values) {
  const parts = [];
  strings.forEach((text, i) => {
    if (text) parts.push(text);
    if (i < values.length) parts.push({ u: String(values[i]) });
  });
  return parts;
}

export const HISTORY_PAGE = 50; // messages asked for at a time
const MAX_MESSAGES = 2000; // kept per buffer; older ones are asked for again on scrolling
const SERVICES = new Set(["nickserv", "chanserv"]);

export class Buffer {
  constructor(kind, name) {
    this.kind = kind; // "home", "channel" or "query"
    this.name = name;
    this.key = kind === "home" ? "*" : foldName(name);
    this.messages = [];
    this.ids = new Set();
    this.members = new Map(); // folded nick -> {nick, modes, away}
    this.incomingNames = null; // a NAMES reply being read
    this.showNames = false; // print the next NAMES reply (/who)
    this.topic = "";
    this.joined = false;
    this.stayJoined = false; // rejoin after a reconnect
    this.marker = null; // read up to this ISO time (draft/read-marker)
    this.since = new Date().toISOString(); // a channel without marker: unread from here
    this.complete = false; // the oldest message there is, is here
    this.pending = null; // "latest" or "before": the history asked for
    this.lastMarkSent = "";
  }

  get label() {
    return this.kind === "home" ? "Home" : this.name;
  }

  /** Messages from others after the read marker. */
  unread() {
    const from = this.marker ?? (this.kind === "channel" ? this.since : "");
    let count = 0;
    let mentioned = 0;
    for (let i = this.messages.length - 1; i >= 0; i -= 1) {
      const m = this.messages[i];
      if (m.time <= from) break;
      if (m.counts && !m.self) {
        count += 1;
        if (m.mention) mentioned += 1;
      }
    }
    return { count, mentioned: this.kind === "query" ? count : mentioned };
  }

  newestTime() {
    for (let i = this.messages.length - 1; i >= 0; i -= 1) {
      if (this.messages[i].fromServer) return this.messages[i].time;
    }
    return null;
  }

  oldestId() {
    return this.messages.find((m) => m.id)?.id ?? null;
  }

  sortedMembers() {
    const rank = (m) => (m.modes.includes("o") ? 0 : m.modes.includes("v") ? 1 : 2);
    return [...this.members.values()].sort(
      (a, b) => rank(a) - rank(b) || foldName(a.nick).localeCompare(foldName(b.nick)),
    );
  }
}

export class Chat {
  constructor(conn, ui) {
    this.conn = conn;
    this.ui = ui;
    this.reset();
  }

  reset() {
    this.nick = "";
    this.account = null;
    this.buffers = new Map([["*", new Buffer("home", "Home")]]);
    this.active = "*";
    this.batches = new Map();
    this.markers = new Map(); // markers of targets without a buffer yet
    this.directory = [];
    this.incomingList = null;
    this.joining = new Set(); // rooms the user asked to join: shown when joined
    this.isupport = { chanmodes: ["beI", "k", "l", "imnst"], prefix: new Map([["o", "@"], ["v", "+"]]) };
  }

  get home() {
    return this.buffers.get("*");
  }

  get activeBuffer() {
    return this.buffers.get(this.active) ?? this.home;
  }

  isMe(nick) {
    return foldName(nick) === foldName(this.nick);
  }

  buffer(kind, name) {
    const key = foldName(name);
    let buf = this.buffers.get(key);
    if (!buf) {
      buf = new Buffer(kind, name);
      if (this.markers.has(key)) buf.marker = this.markers.get(key);
      this.buffers.set(key, buf);
      this.ui.buffersChanged();
    }
    return buf;
  }

  /** A line of the page's own (an answer to a command, an error) in a buffer. */
  say(text, kind = "info", buf = this.activeBuffer) {
    this.add(buf, { time: new Date().toISOString(), kind, text, nick: "" });
  }

  add(buf, msg) {
    if (msg.id) {
      if (buf.ids.has(msg.id)) return;
      buf.ids.add(msg.id);
    }
    buf.messages.push(msg);
    if (buf.messages.length > MAX_MESSAGES) {
      const gone = buf.messages.splice(0, buf.messages.length - MAX_MESSAGES);
      for (const m of gone) if (m.id) buf.ids.delete(m.id);
      buf.complete = false;
      this.ui.bufferReset(buf);
    } else {
      this.ui.messageAdded(buf, msg);
    }
    if (msg.counts && !msg.self) this.ui.buffersChanged();
  }

  /** One line from the server (after the welcome, and the few before it). */
  handle(msg) {
    const ref = msg.tags.batch;
    if (ref && this.batches.has(ref)) {
      this.batches.get(ref).lines.push(msg);
      return;
    }
    const handler = HANDLERS[msg.command];
    if (handler) handler(this, msg);
    else if (/^[45]\d\d$/.test(msg.command)) this.numericError(msg);
  }

  /** The connection dropped: the server forgot what this connection was in. */
  disconnected() {
    for (const buf of this.buffers.values()) {
      if (buf.kind === "channel" && buf.joined) {
        buf.joined = false;
        buf.members.clear();
        this.ui.membersChanged(buf);
      }
      buf.pending = null;
      buf.asked = false;
      buf.incomingNames = null;
    }
    this.batches.clear();
    this.ui.buffersChanged();
  }

  // What the user does.

  /** Show a buffer. */
  select(key) {
    if (!this.buffers.has(key)) return;
    this.active = key;
    const buf = this.activeBuffer;
    if (buf.kind === "query" && buf.pending === null && !buf.asked) this.askLatest(buf);
    this.ui.activeChanged();
  }

  join(room, key) {
    const name = room.startsWith("#") ? room : `#${room}`;
    const existing = this.buffers.get(foldName(name));
    if (existing?.joined) {
      this.select(existing.key);
      return;
    }
    this.joining.add(foldName(name));
    if (key) this.conn.send("JOIN", name, key);
    else this.conn.send("JOIN", name);
  }

  /** Leave a room, or close a conversation. */
  close(buf) {
    if (buf.kind === "home") return;
    if (buf.kind === "channel" && buf.joined) {
      this.conn.send("PART", buf.name, "Leaving");
      this.refreshDirectory();
    }
    buf.stayJoined = false;
    this.buffers.delete(buf.key);
    if (this.active === buf.key) this.active = "*";
    this.ui.buffersChanged();
    this.ui.activeChanged();
  }

  /** The room list again, soon (after this connection joined or left a room). */
  refreshDirectory() {
    clearTimeout(this.listTimer);
    this.listTimer = setTimeout(() => this.conn.send("LIST"), 300);
  }

  openQuery(nick) {
    const buf = this.buffer("query", nick);
    this.select(buf.key);
    return buf;
  }

  /** The read marker to the newest message shown, when that moves it forward. */
  markRead(buf) {
    const newest = buf.newestTime();
    if (!newest || buf.kind === "home" || (buf.marker && newest <= buf.marker)) return;
    buf.marker = newest;
    if (this.conn.caps.has("draft/read-marker") && newest !== buf.lastMarkSent) {
      buf.lastMarkSent = newest;
      this.conn.send("MARKREAD", buf.name, `timestamp=${newest}`);
    }
    this.ui.buffersChanged();
  }

  askLatest(buf) {
    if (!this.conn.caps.has("draft/chathistory")) return;
    buf.asked = true;
    buf.pending = "latest";
    this.conn.send("CHATHISTORY", "LATEST", buf.name, "*", String(HISTORY_PAGE));
  }

  /** Older messages, when the user scrolls to the top; false when there are none. */
  askOlder(buf) {
    if (buf.complete || buf.pending || buf.kind === "home") return false;
    if (!this.conn.caps.has("draft/chathistory")) return false;
    const oldest = buf.oldestId();
    if (!oldest) {
      buf.complete = true;
      return false;
    }
    buf.pending = "before";
    this.conn.send("CHATHISTORY", "BEFORE", buf.name, `msgid=${oldest}`, String(HISTORY_PAGE));
    return true;
  }

  // What the server says.

  ready() {
    this.conn.send("LIST");
    if (this.account && this.conn.caps.has("draft/chathistory")) {
      const tomorrow = new Date(Date.now() + 86400000).toISOString();
      this.conn.send("CHATHISTORY", "TARGETS", "timestamp=2000-01-01T00:00:00.000Z",
        `timestamp=${tomorrow}`, "50");
    }
    for (const buf of this.buffers.values()) {
      if (buf.kind === "channel" && buf.stayJoined && !buf.joined) this.conn.send("JOIN", buf.name);
      if (buf.kind === "query") this.askLatest(buf);
    }
    this.ui.ready();
  }

  /** A PRIVMSG or NOTICE, live or from a history batch (`into`: the batch's buffer, as
   *  the nick may have been another when it was said); null when it is not shown. */
  message(msg, into = null) {
    const { source, params, tags, command } = msg;
    let [target, text = ""] = params;
    if (!target || isOtherCtcp(text)) return null;
    const nick = source?.nick ?? "";
    const self = Boolean(source) && this.isMe(nick);
    const fromServer = !source || source.isServer;
    let buf = into;
    const channel = target.replace(/^[@+]+(?=#)/, "");
    if (buf) {
      // from history: its buffer is the batch's
    } else if (isChannel(channel)) buf = this.buffer("channel", channel);
    else if (fromServer) buf = command === "NOTICE" ? this.activeBuffer : this.home; // an answer
    else if (self) buf = this.buffer("query", target);
    else if (command === "NOTICE" || SERVICES.has(foldName(nick))) {
      buf = this.buffers.get(foldName(nick)) ?? this.activeBuffer;
    } else buf = this.buffer("query", nick);
    const action = actionText(text);
    if (action !== null) text = action;
    const kind = action !== null ? "action" : command === "NOTICE" ? "notice" : "msg";
    const entry = {
      id: tags.msgid ?? null, time: lineTime(tags), fromServer: Boolean(tags.time),
      nick: fromServer ? "" : nick, kind, text: plainText(text), self,
      counts: !fromServer, mention: !self && !fromServer &&
        (buf.kind === "query" || mentions(plainText(text), this.nick)),
    };
    if (fromServer && kind === "notice") entry.kind = "info";
    return { buf, entry };
  }

  history(batch) {
    const target = batch.params[0] ?? "";
    const buf = this.buffer(isChannel(target) ? "channel" : "query", target);
    const got = [];
    for (const line of batch.lines) {
      if (line.command !== "PRIVMSG" && line.command !== "NOTICE") continue;
      const shown = this.message(line, buf);
      if (shown) got.push(shown.entry);
    }
    const asked = buf.pending;
    buf.pending = null;
    const fresh = got.filter((m) => !m.id || !buf.ids.has(m.id));
    if (asked === "before" && got.length < HISTORY_PAGE) buf.complete = true;
    if (asked === "latest" && got.length < HISTORY_PAGE) buf.complete = true;
    const newest = buf.newestTime();
    const gap = asked === "latest" && got.length >= HISTORY_PAGE && newest && got[0].time > newest;
    if (gap) {
      // More was said than a page while away: what is kept is the newest page.
      buf.messages = buf.messages.filter((m) => m.time >= got[0].time);
      buf.ids = new Set(buf.messages.filter((m) => m.id).map((m) => m.id));
    }
    for (const m of fresh) if (m.id) buf.ids.add(m.id);
    buf.messages = [...fresh, ...buf.messages].sort((a, b) => (a.time < b.time ? -1 : a.time > b.time ? 1 : 0));
    this.ui.bufferReset(buf, asked === "before" ? "older" : "newer");
    this.ui.buffersChanged();
  }

  numericError(msg) {
    const { params } = msg;
    const text = params.at(-1) ?? "";
    const about = params.length > 2 ? params[1] : "";
    const buf = this.buffers.get(foldName(about)) ?? this.activeBuffer;
    if (msg.command === "401") return this.say(u`No user named "${about}".`, "error", buf);
    if (msg.command === "433") return this.say(u`The name "${about}" is taken.`, "error", buf);
    if (msg.command === "482") return this.say(u`You are not an operator of ${about}.`, "error", buf);
    this.say(about && about !== "*" ? u`${about}: ${plainText(text)}` : plainText(text), "error", buf);
  }

  event(buf, tags, text, kind = "event") {
    this.add(buf, { time: lineTime(tags), kind, text, nick: "", fromServer: Boolean(tags.time) });
  }

  channelsWith(nick) {
    const key = foldName(nick);
    return [...this.buffers.values()].filter((b) => b.kind === "channel" && b.members.has(key));
  }

  rename(oldNick, newNick, tags) {
    const oldKey = foldName(oldNick);
    const newKey = foldName(newNick);
    const self = this.isMe(oldNick);
    if (self) this.nick = newNick;

    for (const buf of this.channelsWith(oldNick)) {
      const member = buf.members.get(oldKey);
      buf.members.delete(oldKey);
      member.nick = newNick;
      buf.members.set(newKey, member);
      this.event(buf, tags, self ? u`You are now known as ${newNick}` : u`${oldNick} is now known as ${newNick}`);
      this.ui.membersChanged(buf);
    }
    const query = this.buffers.get(oldKey);
    if (query?.kind === "query" && !this.buffers.has(newKey)) {
      this.buffers.delete(oldKey);
      query.name = newNick;
      query.key = newKey;
      this.buffers.set(newKey, query);
      if (this.active === oldKey) this.active = newKey;
      this.event(query, tags, u`${oldNick} is now known as ${newNick}`);
      this.ui.activeChanged();
    }
    if (self) {
      this.say(u`You are now known as ${newNick}.`, "event", this.home);
      this.ui.selfChanged();
    }
    this.ui.buffersChanged();
  }

  setModes(buf, changes) {
    for (const { adding, mode, arg } of changes) {
      if (!this.isupport.prefix.has(mode) || !arg) continue;
      const member = buf.members.get(foldName(arg));
      if (!member) continue;
      const modes = member.modes.replace(mode, "");
      member.modes = adding ? modes + mode : modes;
    }
    this.ui.membersChanged(buf);
  }

  prefixOf(member) {
    for (const [mode, char] of this.isupport.prefix) if (member.modes.includes(mode)) return char;
    return "";
  }

  readNames(buf, names) {
    buf.incomingNames ??= new Map();
    const chars = new Map([...this.isupport.prefix].map(([mode, char]) => [char, mode]));
    for (const word of names.split(" ")) {
      if (!word) continue;
      let at = 0;
      let modes = "";
      while (at < word.length && chars.has(word[at])) modes += chars.get(word[at++]);
      const nick = word.slice(at).split("!")[0];
      const old = buf.members.get(foldName(nick));
      buf.incomingNames.set(foldName(nick), { nick, modes, away: old?.away ?? false });
    }
  }
}

function onPrivmsg(chat, msg) {
  const shown = chat.message(msg);
  if (!shown) return;
  chat.add(shown.buf, shown.entry);
  if (shown.entry.mention) chat.ui.mentioned(shown.buf, shown.entry);
}

function onJoin(chat, msg) {
  const [name, account] = msg.params;
  const nick = msg.source.nick;
  const buf = chat.buffer("channel", name);
  if (chat.isMe(nick)) {
    const wasJoined = buf.joined;
    buf.joined = true;
    buf.stayJoined = true;
    buf.name = name;
    buf.members.clear();
    if (!wasJoined) chat.askLatest(buf);
    if (chat.joining.delete(buf.key)) chat.select(buf.key);
    chat.refreshDirectory();
    chat.ui.buffersChanged();
    chat.ui.membersChanged(buf);
    return;
  }
  buf.members.set(foldName(nick), { nick, modes: "", away: false, account });
  chat.event(buf, msg.tags, u`${nick} joined ${buf.name}`);
  chat.ui.membersChanged(buf);
}

function onPart(chat, msg) {
  const [name, reason] = msg.params;
  const buf = chat.buffers.get(foldName(name));
  if (!buf) return;
  const nick = msg.source.nick;
  const why = reason ? u` (${plainText(reason)})` : [];
  if (chat.isMe(nick)) {
    buf.joined = false;
    buf.members.clear();
    chat.event(buf, msg.tags, [...u`You left ${buf.name}`, ...why]);
    chat.refreshDirectory();
    chat.ui.buffersChanged();
  } else {
    buf.members.delete(foldName(nick));
    chat.event(buf, msg.tags, [...u`${nick} left ${buf.name}`, ...why]);
  }
  chat.ui.membersChanged(buf);
}

function onKick(chat, msg) {
  const [name, nick, reason] = msg.params;
  const buf = chat.buffers.get(foldName(name));
  if (!buf) return;
  const by = msg.source.nick;
  const why = reason ? u` (${plainText(reason)})` : [];
  if (chat.isMe(nick)) {
    buf.joined = false;
    buf.stayJoined = false;
    buf.members.clear();
    chat.event(buf, msg.tags, [...u`You were kicked from ${buf.name} by ${by}`, ...why,
      ...u`. /join ${buf.name.slice(1)} to go back.`], "error");
    chat.refreshDirectory();
    chat.ui.buffersChanged();
  } else {
    buf.members.delete(foldName(nick));
    chat.event(buf, msg.tags, [...u`${nick} was kicked from ${buf.name} by ${by}`, ...why]);
  }
  chat.ui.membersChanged(buf);
}

function onQuit(chat, msg) {
  const nick = msg.source.nick;
  const why = msg.params[0] ? u` (${plainText(msg.params[0])})` : [];
  for (const buf of chat.channelsWith(nick)) {
    buf.members.delete(foldName(nick));
    chat.event(buf, msg.tags, [...u`${nick} has quit`, ...why]);
    chat.ui.membersChanged(buf);
  }
  const query = chat.buffers.get(foldName(nick));
  if (query?.kind === "query") chat.event(query, msg.tags, [...u`${nick} has quit`, ...why]);
}

function onMode(chat, msg) {
  const [target, modes = "", ...args] = msg.params;
  if (!isChannel(target)) return;
  const buf = chat.buffers.get(foldName(target));
  if (!buf) return;
  const changes = parseModes(modes, args, chat.isupport.chanmodes, [...chat.isupport.prefix.keys()]);
  chat.setModes(buf, changes);
  const by = msg.source?.nick ?? "The server";
  chat.event(buf, msg.tags, u`${by} set mode ${[modes, ...args].join(" ")}`);
}

function onTopic(chat, msg) {
  const [name, topic = ""] = msg.params;
  const buf = chat.buffers.get(foldName(name));
  if (!buf) return;
  buf.topic = plainText(topic);
  chat.event(buf, msg.tags, topic
    ? u`${msg.source.nick} set the topic to: ${buf.topic}`
    : u`${msg.source.nick} cleared the topic`);
  chat.ui.topicChanged(buf);
}

function onNames(chat, msg) {
  const buf = chat.buffers.get(foldName(msg.params[2] ?? ""));
  if (buf) chat.readNames(buf, msg.params[3] ?? "");
}

function onEndOfNames(chat, msg) {
  const buf = chat.buffers.get(foldName(msg.params[1] ?? ""));
  if (!buf) return;
  if (buf.incomingNames) buf.members = buf.incomingNames;
  buf.incomingNames = null;
  if (buf.showNames) {
    buf.showNames = false;
    const names = buf.sortedMembers().map((m) => chat.prefixOf(m) + m.nick);
    chat.say(u`Users in ${buf.name} (${names.length}): ${names.join(" ")}`, "info", buf);
  }
  chat.ui.membersChanged(buf);
}

function onIsupport(chat, msg) {
  for (const token of msg.params.slice(1, -1)) {
    const [key, value = ""] = token.split("=");
    if (key === "CHANMODES") chat.isupport.chanmodes = value.split(",");
    if (key === "PREFIX") {
      const m = /^\(([^)]*)\)(.*)$/.exec(value);
      if (m) chat.isupport.prefix = new Map([...m[1]].map((mode, i) => [mode, m[2][i]]));
    }
  }
}

function onBatch(chat, msg) {
  const [ref = "", type = "", ...params] = msg.params;
  if (ref.startsWith("+")) {
    chat.batches.set(ref.slice(1), { type, params, lines: [] });
    return;
  }
  const batch = chat.batches.get(ref.slice(1));
  chat.batches.delete(ref.slice(1));
  if (!batch) return;
  if (batch.type === "chathistory") chat.history(batch);
  else if (batch.type === "draft/chathistory-targets") {
    for (const line of batch.lines) {
      const [sub, target] = line.params;
      if (sub === "TARGETS" && target && !isChannel(target)) {
        const buf = chat.buffer("query", target);
        if (!buf.asked) chat.askLatest(buf);
      }
    }
  } else for (const line of batch.lines) chat.handle(line);
}

function onMarkread(chat, msg) {
  const [target, value = "*"] = msg.params;
  const time = value.startsWith("timestamp=") ? value.slice(10) : null;
  const buf = chat.buffers.get(foldName(target));
  chat.markers.set(foldName(target), time);
  if (buf && time && (!buf.marker || time > buf.marker)) buf.marker = time;
  chat.ui.buffersChanged();
}

function onAway(chat, msg) {
  const nick = msg.source.nick;
  for (const buf of chat.channelsWith(nick)) {
    buf.members.get(foldName(nick)).away = Boolean(msg.params[0]);
    chat.ui.membersChanged(buf);
  }
}

function onInvite(chat, msg) {
  const [nick, room] = msg.params;
  if (chat.isMe(nick)) {
    chat.say(u`${msg.source.nick} invited you to ${room}: /join ${room.slice(1)}`, "event");
  } else {
    const buf = chat.buffers.get(foldName(room));
    if (buf) chat.event(buf, msg.tags, u`${msg.source.nick} invited ${nick} to ${room}`);
  }
}

function onFail(chat, msg) {
  chat.say(plainText(msg.params.at(-1) ?? "Refused."), "error");
}

const HANDLERS = {
  PRIVMSG: onPrivmsg,
  NOTICE: onPrivmsg,
  JOIN: onJoin,
  PART: onPart,
  KICK: onKick,
  QUIT: onQuit,
  NICK: (chat, msg) => chat.rename(msg.source.nick, msg.params[0], msg.tags),
  MODE: onMode,
  TOPIC: onTopic,
  BATCH: onBatch,
  MARKREAD: onMarkread,
  AWAY: onAway,
  INVITE: onInvite,
  FAIL: onFail,
  ERROR: (chat, msg) => chat.say(msg.params[0] ?? "Closing.", "error", chat.home),
  "001": (chat, msg) => {
    chat.nick = msg.params[0];
    chat.say(plainText(msg.params.at(-1) ?? "Welcome."), "info", chat.home);
    chat.say("Join a room: pick one under All rooms (the Rooms menu on a small screen), " +
      "or type /join ROOM. /help lists the commands.", "info", chat.home);
    chat.ui.selfChanged();
  },
  "005": onIsupport,
  "372": (chat, msg) => chat.say(plainText(msg.params.at(-1) ?? ""), "info", chat.home),
  "376": (chat) => chat.ready(),
  "422": (chat) => chat.ready(),
  "900": (chat, msg) => {
    chat.account = msg.params[2] ?? null;
    chat.ui.selfChanged();
  },
  "901": (chat) => {
    chat.account = null;
    chat.ui.selfChanged();
  },
  "301": (chat, msg) => {
    const [, nick, text = ""] = msg.params;
    chat.say(u`${nick} is away: ${plainText(text)}`, "info", chat.buffers.get(foldName(nick)) ?? chat.activeBuffer);
  },
  "305": (chat) => chat.say("You are back."),
  "306": (chat) => chat.say("You are marked away."),
  "321": (chat) => {
    chat.incomingList = [];
  },
  "322": (chat, msg) => {
    const [, name, users = "0", topic = ""] = msg.params;
    (chat.incomingList ??= []).push({ name, users: Number(users), topic: plainText(topic) });
  },
  "323": (chat) => {
    chat.directory = (chat.incomingList ?? []).sort((a, b) => foldName(a.name).localeCompare(foldName(b.name)));
    chat.incomingList = null;
    chat.ui.directoryChanged();
  },
  "331": (chat, msg) => {
    const buf = chat.buffers.get(foldName(msg.params[1] ?? ""));
    if (!buf) return;
    buf.topic = "";
    if (buf.showTopic) chat.say(u`${buf.name} has no topic.`, "info", buf);
    buf.showTopic = false;
    chat.ui.topicChanged(buf);
  },
  "332": (chat, msg) => {
    const buf = chat.buffers.get(foldName(msg.params[1] ?? ""));
    if (!buf) return;
    buf.topic = plainText(msg.params[2] ?? "");
    if (buf.showTopic) chat.say(u`Topic for ${buf.name}: ${buf.topic}`, "info", buf);
    buf.showTopic = false;
    chat.ui.topicChanged(buf);
  },
  "341": (chat, msg) => chat.say(u`You invited ${msg.params[1]} to ${msg.params[2]}.`),
  "353": onNames,
  "366": onEndOfNames,
};
