// An instance's groups on its card: a "Groups" button loads them from
// /api/groups/{id}; each group shows its subject, participant count and the
// instance's role, and opens to list its participants with theirs.

import { get, seg } from "./api.js";
import { act, h, say } from "./dom.js";

/** The groups panel of instance `id`'s card. */
export function groupsPanel(id) {
  const list = h("div", { class: "groups", "data-field": "group-list" });
  const line = h("p", { class: "muted", role: "status" });
  const load = async (button) => {
    const answer = await act(button, line, () => get(`/api/groups/${seg(id)}`));
    if (!answer) return;
    list.replaceChildren(...answer.groups.map(group));
    say(line, answer.groups.length === 0 ? "In no groups." : `In ${answer.groups.length} group(s).`);
  };
  return h(
    "section",
    { class: "groups-panel", "data-field": "groups", "aria-label": `Groups of ${id}` },
    h("button", { type: "button", "data-field": "load-groups", onclick: (e) => load(e.currentTarget) }, "Groups"),
    line,
    list,
  );
}

/** One group: a disclosure whose summary says what it is, and whose body lists its members. */
function group(info) {
  const count = `${info.participant_count} participant${info.participant_count === 1 ? "" : "s"}`;
  return h(
    "details",
    { class: "group", "data-group": info.jid },
    h("summary", {},
      h("strong", { "data-field": "subject" }, info.subject || info.jid),
      " · ",
      h("span", { "data-field": "count" }, count),
      " · ",
      h("span", { "data-field": "role" }, `you are ${info.role}`)),
    h("ul", { class: "participants" },
      ...info.participants.map((p) =>
        h("li", { "data-participant": p.jid },
          // A member named by LID shows its number too, when known.
          p.phone && p.jid.endsWith("@lid") ? `${p.jid} (+${p.phone})` : p.jid,
          p.role === "member" ? "" : ` · ${p.role}`,
          p.is_me ? " · this instance" : ""))),
  );
}
