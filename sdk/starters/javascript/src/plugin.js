// A wasap plugin in JavaScript: an auto-reply bot with keyword rules from the
// manifest's [config] table. Build it with `wasap-plugin-build .` (which runs
// componentize-js); the host calls `init` once and `handleEvent` per event.
//
// WIT types as componentize-js presents them: records are objects with
// camelCase fields, variants are `{ tag, val }`, options are a value or
// `undefined`, s64 is a BigInt, and a `result<_, string>` is returned by
// returning normally or thrown as an error.

import { log } from "wasap:plugin/log@0.3.0";

let rules = [];
let groups = false;

/** Reads the config: `rules = [{ keywords, match = "word" | "contains" | "exact", reply }]`. */
export function init(configJson) {
  const config = JSON.parse(configJson);
  rules = (config.rules ?? []).map((rule) => {
    if (!Array.isArray(rule.keywords) || rule.keywords.length === 0) {
      throw "invalid config: a rule has no keywords";
    }
    return {
      keywords: rule.keywords.map((k) => String(k).toLowerCase()),
      mode: rule.match ?? "word",
      reply: String(rule.reply),
    };
  });
  groups = config.groups === true;
  log("info", `javascript auto-reply ready with ${rules.length} rules`);
}

/** Answers a matching message with its rule's reply; every event continues. */
export function handleEvent(event) {
  const outcome = { verdict: { tag: "continue" }, actions: [] };
  if (event.kind.tag !== "message") return outcome;
  const message = event.kind.val;
  if (message.fromMe || (message.isGroup && !groups)) return outcome;
  const text = textOf(message.content);
  if (text === undefined) return outcome;
  const rule = rules.find((r) => matches(r, text.toLowerCase()));
  if (rule) {
    outcome.actions.push({
      tag: "send-text",
      val: { to: message.chat, text: rule.reply, replyTo: message.id, mentions: [], mentionAll: false },
    });
  }
  return outcome;
}

function textOf(content) {
  switch (content.tag) {
    case "text":
      return content.val;
    case "image":
    case "video":
    case "document":
      return content.val.caption;
    default:
      return undefined;
  }
}

function matches(rule, text) {
  return rule.keywords.some((keyword) => {
    switch (rule.mode) {
      case "exact":
        return text.trim() === keyword;
      case "contains":
        return text.includes(keyword);
      default:
        return containsWord(text, keyword);
    }
  });
}

// `keyword` with no letter or digit right before or after it. (A letter is
// what has a case; the engine's regular expressions know no Unicode classes.)
function containsWord(text, keyword) {
  const isWordChar = (c) => c !== undefined && (c.toLowerCase() !== c.toUpperCase() || (c >= "0" && c <= "9"));
  for (let at = text.indexOf(keyword); at !== -1; at = text.indexOf(keyword, at + 1)) {
    if (!isWordChar(text[at - 1]) && !isWordChar(text[at + keyword.length])) return true;
  }
  return false;
}
