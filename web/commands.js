// The message box's slash commands: the text door's, worded as IRC. One table; /help
// prints each usage from it, so the help cannot drift from what runs.

import { u } from "./chat.js";
import { byteLength, foldName, splitText } from "./irc.js";

// Room for the text in a 512-byte line relayed as ":nick!~user@host PRIVMSG target :text":
// the longest nick (24), user (10 and its ~) and host (64) the server allows.
const RELAY_BYTES = 512 - 2 - (1 + 24 + 2 + 11 + 64) - " PRIVMSG  :".length;

/** Send `text` to `target`, cut into lines the server relays whole. */
export function sendText(chat, target, text, action = false) {
  const room = RELAY_BYTES - byteLength(target) - (action ? "\x01ACTION \x01".length : 0);
  for (const piece of splitText(text, room)) {
    chat.conn.send("PRIVMSG", target, action ? `\x01ACTION ${piece}\x01` : piece);
  }
}

function roomName(word) {
  return word.startsWith("#") ? word : `#${word}`;
}

/** The room the command is about: the one shown, or an error line. */
function currentRoom(chat) {
  const buf = chat.activeBuffer;
  if (buf.kind === "channel" && buf.joined) return buf;
  chat.say("You are not in a room here: /join ROOM first.", "error");
  return null;
}

export const COMMANDS = {
  join: {
    usage: "/join ROOM [KEY]", help: "join a room (it is made if it does not exist)", min: 1,
    run: (chat, [room, key]) => chat.join(roomName(room), key),
  },
  create: {
    usage: "/create ROOM", help: "make a room and join it", min: 1,
    run: (chat, [room]) => chat.join(roomName(room)),
  },
  leave: {
    usage: "/leave", help: "leave this room, or close this conversation",
    run: (chat) => chat.close(chat.activeBuffer),
  },
  me: {
    usage: "/me TEXT", help: "an action: * you TEXT", min: 1, rest: true,
    run: (chat, [text]) => {
      const buf = chat.activeBuffer;
      if (buf.kind === "home") return chat.say("Say it in a room or a conversation.", "error");
      sendText(chat, buf.name, text, true);
    },
  },
  msg: {
    usage: "/msg NAME TEXT", help: "a private message", min: 2, fixed: 1, rest: true,
    run: (chat, [nick, text]) => {
      if (nick.startsWith("#")) return chat.say("/msg is for people; in a room, just type.", "error");
      sendText(chat, nick, text); // its echo opens the conversation
      if (foldName(chat.active) !== foldName(nick)) chat.say(u`-> *${nick}* ${text}`, "info");
    },
  },
  topic: {
    usage: "/topic [TEXT]", help: "show the room's topic, or set it", rest: true,
    run: (chat, [text]) => {
      const buf = currentRoom(chat);
      if (!buf) return;
      if (text) chat.conn.send("TOPIC", buf.name, text);
      else {
        buf.showTopic = true;
        chat.conn.send("TOPIC", buf.name);
      }
    },
  },
  nick: {
    usage: "/nick NAME", help: "change your name", min: 1,
    run: (chat, [nick]) => chat.conn.send("NICK", nick),
  },
  who: {
    usage: "/who", help: "the users in this room",
    run: (chat) => {
      const buf = currentRoom(chat);
      if (!buf) return;
      buf.showNames = true;
      chat.conn.send("NAMES", buf.name);
    },
  },
  away: {
    usage: "/away [TEXT]", help: "mark yourself away; no text: back", rest: true,
    run: (chat, [text]) => (text ? chat.conn.send("AWAY", text) : chat.conn.send("AWAY")),
  },
  help: {
    usage: "/help", help: "list the commands",
    run: (chat) => {
      chat.say("Commands (//text sends a line that starts with /):", "help");
      for (const { usage, help } of Object.values(COMMANDS)) chat.say(`${usage} — ${help}`, "help");
      chat.say("Keys: Enter sends; Alt+↑ and Alt+↓ go to the previous and next room; " +
        "↑ in an empty box brings back what you sent; Escape closes a panel.", "help");
    },
  },
};

/** Run what the user typed in the message box; false when it was not sent (offline). */
export function runInput(chat, line) {
  if (line.startsWith("/") && !line.startsWith("//")) {
    const match = /^\/(\S*)\s*(.*)$/s.exec(line);
    const name = match[1].toLowerCase();
    const command = COMMANDS[name];
    if (!command) {
      chat.say(`Unknown command /${name}. /help lists them.`, "error");
      return true;
    }
    let rest = match[2].trim();
    const args = [];
    const fixed = command.rest ? (command.fixed ?? 0) : Infinity;
    while (rest && args.length < fixed) {
      const [, word, after] = /^(\S+)\s*(.*)$/s.exec(rest);
      args.push(word);
      rest = after;
    }
    if (rest) args.push(rest);
    if (args.length < (command.min ?? 0)) {
      chat.say(`Usage: ${command.usage}`, "error");
      return true;
    }
    if (name !== "help" && !chat.conn.isOpen) return false;
    command.run(chat, args);
    return true;
  }
  const text = line.startsWith("//") ? line.slice(1) : line;
  const buf = chat.activeBuffer;
  if (buf.kind === "home") {
    chat.say("Pick a room first: /join ROOM, or one from the list.", "error");
    return true;
  }
  if (!chat.conn.isOpen) return false;
  if (buf.kind === "channel" && !buf.joined) {
    chat.say(u`You are not in ${buf.name}: /join ${buf.name.slice(1)} to go back.`, "error");
    return true;
  }
  sendText(chat, buf.name, text);
  return true;
}
