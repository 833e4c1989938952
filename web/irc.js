// IRC lines in and out, and the small rules the page needs about them. No DOM, no
// socket: plain functions over strings, so each can be tried in a console.

const TAG_ESCAPES = { ":": ";", s: " ", "\\": "\\", r: "\r", n: "\n" };

/** One IRC line as {tags, source, command, params}; source is {nick, user, host}
 *  or null. Tag values are unescaped (IRCv3 message-tags). */
export function parseLine(line) {
  let rest = line;
  const tags = {};
  if (rest.startsWith("@")) {
    const end = rest.indexOf(" ");
    for (const item of rest.slice(1, end < 0 ? undefined : end).split(";")) {
      if (!item) continue;
      const eq = item.indexOf("=");
      const key = eq < 0 ? item : item.slice(0, eq);
      const raw = eq < 0 ? "" : item.slice(eq + 1);
      tags[key] = raw.replace(/\\(.)?/g, (_, c) => (c === undefined ? "" : (TAG_ESCAPES[c] ?? c)));
    }
    rest = end < 0 ? "" : rest.slice(end + 1).replace(/^ +/, "");
  }
  let source = null;
  if (rest.startsWith(":")) {
    const end = rest.indexOf(" ");
    source = parseSource(rest.slice(1, end < 0 ? undefined : end));
    rest = end < 0 ? "" : rest.slice(end + 1).replace(/^ +/, "");
  }
  const params = [];
  let command = "";
  while (rest) {
    if (command && rest.startsWith(":")) {
      params.push(rest.slice(1));
      break;
    }
    const end = rest.indexOf(" ");
    const word = end < 0 ? rest : rest.slice(0, end);
    if (command) params.push(word);
    else command = word.toUpperCase();
    rest = end < 0 ? "" : rest.slice(end + 1).replace(/^ +/, "");
  }
  return { tags, source, command, params };
}

/** nick!user@host, or a server's name (a nick-only source is a server when it has a dot). */
export function parseSource(text) {
  const bang = text.indexOf("!");
  const at = text.indexOf("@");
  if (bang < 0 && at < 0) return { nick: text, user: "", host: "", isServer: text.includes(".") };
  const nick = text.slice(0, bang < 0 ? at : bang);
  const user = bang < 0 ? "" : text.slice(bang + 1, at < 0 ? undefined : at);
  return { nick, user, host: at < 0 ? "" : text.slice(at + 1), isServer: false };
}

/** A line to send: every parameter but the last is one word; the last may hold spaces.
 *  CR, LF and NUL never reach the wire (the server would close the socket for them). */
export function formatLine(command, ...params) {
  const clean = params.map((p) => String(p).replace(/[\r\n\0]+/g, " "));
  const last = clean.pop();
  for (const p of clean) {
    if (!p || p.includes(" ") || p.startsWith(":")) throw new Error(`bad IRC parameter: ${p}`);
  }
  const words = [command, ...clean];
  if (last !== undefined) {
    words.push(last === "" || last.includes(" ") || last.startsWith(":") ? `:${last}` : last);
  }
  return words.join(" ");
}

// Bold, colour (with its digits), hex colour, reset, monospace, reverse, italics,
// strikethrough, underline; then any other control character.
const FORMATTING = /\x03(\d{1,2}(,\d{1,2})?)?|\x04([0-9a-fA-F]{6}(,[0-9a-fA-F]{6})?)?|[\x00-\x08\x0a-\x1f\x7f]/g;

/** Text as a person should read it: IRC formatting codes and control characters out. */
export function plainText(text) {
  return text.replace(FORMATTING, "");
}

/** IRC's rfc1459 case mapping (the server's CASEMAPPING), for keys only. */
export function foldName(name) {
  return name.toLowerCase().replace(/[[\]\\~]/g, (c) => ({ "[": "{", "]": "}", "\\": "|", "~": "^" })[c]);
}

export function isChannel(target) {
  return target.startsWith("#");
}

/** A CTCP ACTION's text, or null for any other message. */
export function actionText(text) {
  const m = /^\x01ACTION(?: (.*?))?\x01?$/s.exec(text);
  return m ? (m[1] ?? "") : null;
}

/** Whether a CTCP request other than ACTION (VERSION, PING...): not shown. */
export function isOtherCtcp(text) {
  return text.startsWith("\x01") && actionText(text) === null;
}

/** Whether `text` names `nick` as a word of its own (any case). */
export function mentions(text, nick) {
  if (!nick) return false;
  const folded = foldName(text);
  const want = foldName(nick);
  let at = folded.indexOf(want);
  const isNameChar = (c) => c !== undefined && /[\p{L}\p{N}_\-[\]\\`^{|}]/u.test(c);
  while (at >= 0) {
    if (!isNameChar(folded[at - 1]) && !isNameChar(folded[at + want.length])) return true;
    at = folded.indexOf(want, at + 1);
  }
  return false;
}

const encoder = new TextEncoder();

export function byteLength(text) {
  return encoder.encode(text).length;
}

/** `text` cut into pieces of at most `maxBytes` UTF-8 bytes, at a space where one is
 *  near, never inside a character. */
export function splitText(text, maxBytes) {
  const pieces = [];
  let rest = text;
  while (byteLength(rest) > maxBytes) {
    let cut = 0;
    let bytes = 0;
    for (const ch of rest) {
      const size = byteLength(ch);
      if (bytes + size > maxBytes) break;
      bytes += size;
      cut += ch.length;
    }
    const space = rest.lastIndexOf(" ", cut);
    if (space > cut / 2) cut = space;
    pieces.push(rest.slice(0, cut));
    rest = rest.slice(cut).replace(/^ /, "");
  }
  if (rest) pieces.push(rest);
  return pieces;
}

/** base64 of a string's UTF-8 bytes (SASL's payload). */
export function base64Utf8(text) {
  let binary = "";
  for (const byte of encoder.encode(text)) binary += String.fromCharCode(byte);
  return btoa(binary);
}

/** A MODE line's changes: [{adding, mode, arg}], given the server's CHANMODES groups and
 *  PREFIX modes; which modes take an argument follows RFC 2811 and ISUPPORT. */
export function parseModes(modes, args, chanmodes, prefixModes) {
  const [listModes = "", alwaysArg = "", setArg = ""] = chanmodes;
  const changes = [];
  let adding = true;
  let next = 0;
  for (const mode of modes) {
    if (mode === "+" || mode === "-") {
      adding = mode === "+";
      continue;
    }
    const takes =
      prefixModes.includes(mode) || listModes.includes(mode) || alwaysArg.includes(mode) ||
      (adding && setArg.includes(mode));
    changes.push({ adding, mode, arg: takes ? (args[next++] ?? "") : null });
  }
  return changes;
}

/** The ISO time of a line: its server-time tag, or now. */
export function lineTime(tags) {
  return tags.time || new Date().toISOString();
}
