// The WebSocket to the server this page came from, and IRC's registration over it:
// CAP negotiation, SASL PLAIN for an account, NICK and USER; then every line goes to
// the chat (chat.js). A connection that drops is opened again with a growing delay,
// logging in again as it did; nothing here touches the DOM.

import { base64Utf8, formatLine, parseLine } from "./irc.js";

// What the page understands; it asks for those the server offers (sasl only to log in).
const WANTED_CAPS = [
  "message-tags", "server-time", "echo-message", "batch", "away-notify", "account-tag",
  "account-notify", "extended-join", "multi-prefix", "draft/chathistory",
  "draft/read-marker", "invite-notify", "cap-notify",
];
const BACKOFF_S = [1, 2, 4, 8, 16, 30];
const SASL_CHUNK = 400;

/** The socket's URL: ws:// or wss:// to the page's own host and port. */
export function socketUrl(location) {
  return `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/`;
}

export class Connection {
  /** `handlers`: line(msg) for every line once registered, welcome(nick), ready(),
   *  status({state, text, retryInS}), failed(reason) when a login cannot succeed. */
  constructor(url, handlers) {
    this.url = url;
    this.on = handlers;
    this.nick = "";
    this.password = "";
    this.socket = null;
    this.caps = new Set(); // acknowledged
    this.offered = new Map(); // cap -> value, from CAP LS
    this.registered = false;
    this.everWelcomed = false; // reconnect only once a login worked
    this.attempt = 0;
    this.retryTimer = null;
    this.wanted = false; // the user wants to be connected
    this.triedNicks = 0;
  }

  /** Log in as `nick`, to its account when `password` is given. */
  open(nick, password) {
    this.nick = nick;
    this.password = password;
    this.wanted = true;
    this.everWelcomed = false;
    this.attempt = 0;
    this.connect();
  }

  /** The user leaves: QUIT, and no reconnecting. */
  close(reason = "Leaving") {
    this.wanted = false;
    clearTimeout(this.retryTimer);
    if (this.socket?.readyState === WebSocket.OPEN) this.send("QUIT", reason);
    this.socket?.close(1000);
    this.socket = null;
  }

  /** Try again now, rather than at the end of the wait. */
  retryNow() {
    if (!this.wanted || this.socket) return;
    clearTimeout(this.retryTimer);
    this.connect();
  }

  get isOpen() {
    return this.registered && this.socket?.readyState === WebSocket.OPEN;
  }

  send(command, ...params) {
    if (this.socket?.readyState !== WebSocket.OPEN) return false;
    this.socket.send(formatLine(command, ...params));
    return true;
  }

  connect() {
    this.registered = false;
    this.caps = new Set();
    this.offered = new Map();
    this.lsDone = false;
    this.triedNicks = 0;
    this.on.status({ state: "connecting", text: "Connecting…" });
    let socket;
    try {
      socket = new WebSocket(this.url, ["text.ircv3.net"]);
    } catch (err) {
      this.lost(`Cannot connect: ${err.message}`);
      return;
    }
    this.socket = socket;
    socket.addEventListener("open", () => {
      this.send("CAP", "LS", "302");
      this.send("NICK", this.nick);
      this.send("USER", "web", "0", "*", "chatroom in a browser");
    });
    socket.addEventListener("message", (event) => {
      if (typeof event.data !== "string") return;
      this.receive(parseLine(event.data));
    });
    socket.addEventListener("close", (event) => {
      if (this.socket !== socket) return; // a socket we let go
      this.socket = null;
      this.lost(event.reason || this.errorText || "The connection was lost.");
    });
  }

  lost(reason) {
    const wasRegistered = this.registered;
    this.registered = false;
    if (!this.wanted) {
      // Put off the server for good (a ban): no retrying, and the page says why.
      if (this.everWelcomed) this.on.status({ state: "closed", text: reason });
      return;
    }
    if (!this.everWelcomed) {
      // The first login never got through: the login form says why, no retrying.
      this.wanted = false;
      this.on.failed(this.failure || (wasRegistered ? reason : `Could not connect: ${reason}`));
      return;
    }
    const delay = BACKOFF_S[Math.min(this.attempt, BACKOFF_S.length - 1)];
    const wait = Math.max(1, Math.round(delay * (0.8 + Math.random() * 0.4)));
    this.attempt += 1;
    this.on.status({ state: "offline", text: reason, retryInS: wait });
    this.retryTimer = setTimeout(() => this.connect(), wait * 1000);
  }

  /** Registration's lines here; after the welcome, every line goes to the chat. */
  receive(msg) {
    const { command, params } = msg;
    if (command === "PING") {
      this.send("PONG", params[0] ?? "");
      return;
    }
    if (command === "ERROR") {
      this.errorText = params[0] ?? "";
      if (/K-Lined|banned/i.test(this.errorText)) this.wanted = false;
    }
    if (this.registered) {
      if (command === "CAP") this.capChange(params);
      this.on.line(msg);
      return;
    }
    switch (command) {
      case "CAP":
        return this.capNegotiation(params);
      case "AUTHENTICATE":
        if (params[0] === "+") this.sendCredentials();
        return;
      case "903":
        this.send("CAP", "END");
        return;
      case "904":
      case "905":
      case "906":
      case "902":
        return this.fail(params.at(-1) === "SASL authentication failed"
          ? "Wrong name or password." : `Login refused: ${params.at(-1)}`);
      case "433":
        return this.nickTaken(params);
      case "432":
        return this.fail(
          `"${this.nick}" cannot be a name: 1 to 24 letters, digits and _ - . [ ] \\ \` ^ { | }.`);
      case "465":
      case "464":
        return this.fail(params.at(-1));
      case "001":
        this.registered = true;
        this.everWelcomed = true;
        this.attempt = 0;
        this.errorText = "";
        this.failure = "";
        this.nick = params[0];
        this.on.welcome(this.nick);
        this.on.line(msg);
        return;
      default:
        if (command === "ERROR") this.failure ||= params[0];
        this.on.line(msg);
    }
  }

  capNegotiation(params) {
    const sub = params[1];
    if (sub === "LS") {
      const more = params[2] === "*";
      for (const item of (params.at(-1) ?? "").split(" ")) {
        if (!item) continue;
        const eq = item.indexOf("=");
        this.offered.set(eq < 0 ? item : item.slice(0, eq), eq < 0 ? "" : item.slice(eq + 1));
      }
      if (more) return;
      const want = WANTED_CAPS.filter((cap) => this.offered.has(cap));
      if (this.password) {
        if (!this.offered.has("sasl")) return this.fail("This server offers no login (SASL).");
        want.push("sasl");
      }
      if (want.length) this.send("CAP", "REQ", want.join(" "));
      else this.send("CAP", "END");
    } else if (sub === "ACK") {
      for (const cap of (params.at(-1) ?? "").split(" ")) if (cap) this.caps.add(cap);
      if (this.caps.has("sasl") && this.password) this.send("AUTHENTICATE", "PLAIN");
      else this.send("CAP", "END");
    } else if (sub === "NAK") {
      if (this.password) return this.fail("This server refused the login (SASL).");
      this.send("CAP", "END");
    }
  }

  /** CAP NEW and DEL after the welcome (cap-notify). */
  capChange(params) {
    if (params[1] === "DEL") for (const cap of (params.at(-1) ?? "").split(" ")) this.caps.delete(cap);
  }

  sendCredentials() {
    const payload = base64Utf8(`\0${this.nick}\0${this.password}`);
    for (let at = 0; at < payload.length; at += SASL_CHUNK) {
      this.send("AUTHENTICATE", payload.slice(at, at + SASL_CHUNK));
    }
    if (payload.length % SASL_CHUNK === 0) this.send("AUTHENTICATE", "+");
  }

  nickTaken(params) {
    // Logging in, the name may be the account's own, held by its other connections:
    // the welcome gives it to this one too. SASL's answer says whether it may.
    if (this.password) return;
    const reason = params.at(-1) ?? "";
    if (/reserved/i.test(reason)) {
      return this.fail(`"${params[1]}" is a registered account: give its password to log in.`);
    }
    if (this.everWelcomed && this.triedNicks < 5) {
      // Back after a drop, the old connection may still hold the name for a while.
      this.triedNicks += 1;
      this.send("NICK", `${params[1]}_`.slice(0, 24));
      return;
    }
    this.fail(`The name "${params[1]}" is taken: pick another, or give its password if it is your account.`);
  }

  /** A login that cannot succeed as it is: stop, and say why. */
  fail(reason) {
    this.failure = reason;
    this.wanted = false;
    const socket = this.socket;
    this.socket = null;
    if (socket) {
      if (socket.readyState === WebSocket.OPEN) socket.send("QUIT");
      socket.close(1000);
    }
    this.on.failed(reason);
  }
}
