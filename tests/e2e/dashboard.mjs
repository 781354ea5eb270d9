// The dashboard, end to end, in a real headless Chromium (Debian's), driven
// by Playwright's core library. Run by tests/server/dashboard.rs, which
// starts the server on the simulated network and passes:
//   WASAP_URL          the server's base URL
//   WASAP_TOKEN        its admin token
//   WASAP_CHROMIUM     the Chromium executable
//   WASAP_WEBHOOK_URL  a receiver that fails the first attempts, then accepts
//   WASAP_SCREENSHOTS  where the screenshots of the main views go
//   WASAP_UPLOAD_MANIFEST, WASAP_UPLOAD_COMPONENT  a plugin to upload
// The simulated phone (scan, incoming message) is driven here through the
// /sim/ routes, which also tell what the instance sent (a text, a reaction);
// every step waits with a timeout for what the page must show (never a fixed
// sleep), and cross-checks the server's own answer.

import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium } from "playwright-core";

const env = (name) => {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set (run through tests/server/dashboard.rs)`);
  return value;
};
const BASE = env("WASAP_URL");
const TOKEN = env("WASAP_TOKEN");
const HOOK = env("WASAP_WEBHOOK_URL");
const SHOTS = env("WASAP_SCREENSHOTS");
const ID = "e2e";
const PHONE = "6281234500001";
/** The contact the page writes to and reacts to. */
const CONTACT = "6281234567890";
const CONTACT_JID = `${CONTACT}@s.whatsapp.net`;
const TEXT = "Halo dari dashboard";
// Generous: in CI the page runs beside the whole server suite on two cores,
// and a step that never comes costs no more than this once.
const WAIT = 30000;

/** The server, as the test talks to it (not through the page). */
async function api(method, path, body) {
  const response = await fetch(BASE + path, {
    method,
    headers: { Authorization: `Bearer ${TOKEN}`, ...(body ? { "Content-Type": "application/json" } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  const text = await response.text();
  if (!response.ok) throw new Error(`${method} ${path}: ${response.status} ${text}`);
  return text ? JSON.parse(text) : null;
}

function check(condition, message) {
  if (!condition) throw new Error(message);
}

let step = "start";
const log = (text) => {
  step = text;
  console.log(`- ${text}`);
};

const profile = await mkdtemp(join(tmpdir(), "wasap-chromium-"));
// A fresh profile; without the background-networking switches Chromium
// keeps calling Google's services, which this closed network refuses.
const context = await chromium.launchPersistentContext(profile, {
  executablePath: env("WASAP_CHROMIUM"),
  headless: true,
  args: [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
  ],
  viewport: { width: 1280, height: 860 },
});
context.setDefaultTimeout(WAIT);
const page = context.pages()[0] ?? (await context.newPage());
const problems = [];
page.on("pageerror", (error) => problems.push(`page error: ${error.message}`));
page.on("console", (message) => {
  // A refused request is logged by Chromium itself; the page handles it.
  if (message.type() === "error" && !message.text().startsWith("Failed to load resource")) {
    problems.push(`console: ${message.text()}`);
  }
});
const view = (name) => page.locator(`#view-${name}`);
const shot = (name) => page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });

try {
  log("sign-in: a wrong token is refused with a message");
  await page.goto(BASE + "/");
  await page.getByLabel("Admin token").fill("not-the-token");
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.locator("#signin-message", { hasText: "did not accept" }).waitFor();
  await shot("1-sign-in");

  log("sign-in with the admin token; it is kept in sessionStorage only");
  await page.getByLabel("Admin token").fill(TOKEN);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByRole("heading", { name: "Instances", exact: true }).waitFor();
  await page.locator("#connection", { hasText: "Live" }).waitFor();
  const stored = await page.evaluate(() => ({ session: sessionStorage.length, local: localStorage.length }));
  check(stored.session === 1 && stored.local === 0, `token storage: ${JSON.stringify(stored)}`);

  log("a token the server refuses (401) sends the page back to sign-in, with a message");
  // The token is swapped and the Plugins view opened in one step, as the
  // link would. Not a click: a request of the page still in flight (the
  // instance list it fetches again after going live) may meet the refused
  // token first and sign out before the click lands, hiding the link. Either
  // way the page must end on sign-in with the message.
  await page.evaluate(() => {
    sessionStorage.setItem("wasap.token", "revoked");
    location.hash = "#plugins";
  });
  await page.locator("#signin-message", { hasText: "Signed out" }).waitFor();
  await page.getByRole("heading", { name: "Sign in", exact: true }).waitFor();
  check(await page.evaluate(() => sessionStorage.length === 0), "the refused token is forgotten");

  log("sign in again, from the keyboard (Enter in the field)");
  await page.getByLabel("Admin token").fill(TOKEN);
  await page.getByLabel("Admin token").press("Enter");
  await page.getByRole("heading", { name: "Plugins", exact: true }).waitFor();
  await page.getByRole("link", { name: "Instances" }).click();
  await page.getByRole("heading", { name: "Instances", exact: true }).waitFor();
  await page.locator("#connection", { hasText: "Live" }).waitFor();
  // Set once: still there at the end means the page never reloaded.
  await page.evaluate(() => { window.__sameDocument = true; });

  log("create an instance: its QR code shows");
  await view("instances").getByLabel("Instance id").fill(ID);
  await view("instances").getByLabel("Name", { exact: true }).fill("E2E shop");
  await page.getByRole("button", { name: "Create" }).click();
  const card = page.locator(`article[data-instance="${ID}"]`);
  await card.getByRole("heading", { name: `E2E shop (${ID})` }).waitFor();
  const qr = card.locator(".qr img");
  await qr.waitFor();
  await page.waitForFunction((img) => img.complete && img.naturalWidth > 100 && img.src.startsWith("blob:"), await qr.elementHandle());
  check((await api("GET", `/api/instances/${ID}`)).status === "pairing", "the server pairs the instance");
  await shot("2-instances-qr");

  log("the QR image follows WhatsApp's rotation (a new qr frame on /ws)");
  const first = await qr.getAttribute("src");
  await page.waitForFunction(([img, before]) => img.src && img.src !== before && img.naturalWidth > 100, [await qr.elementHandle(), first]);

  log("the simulated phone scans it: the card turns online without a reload");
  await api("POST", `/sim/instances/${ID}/scan`, { phone: PHONE, push_name: "E2E Shop" });
  await card.locator('.badge[data-status="online"]').waitFor();
  await card.getByText(`Linked as +${PHONE}`).waitFor();
  await card.locator(".qr").waitFor({ state: "hidden" });
  check((await api("GET", `/api/instances/${ID}`)).status === "online", "the server says online");
  await shot("3-instance-online");

  log("send a text from the card: a bad recipient is refused with the server's message, nothing is sent");
  const sentSoFar = async () => (await api("GET", `/sim/instances/${ID}/sent`)).messages;
  const before = (await sentSoFar()).length;
  const compose = card.getByRole("form", { name: "Send a message" });
  const sendLine = compose.locator('[data-field="send-message"]');
  await compose.getByLabel("Send to").fill("12345");
  await compose.getByLabel("Message", { exact: true }).fill(TEXT);
  await compose.getByRole("button", { name: "Send", exact: true }).click();
  await compose.locator('[data-field="send-message"].error', { hasText: "(invalid_phone)" }).waitFor();
  check((await sendLine.textContent()).startsWith("Not sent: "), `the refusal: ${await sendLine.textContent()}`);
  check((await sentSoFar()).length === before, "a refused send reached the network");

  log("send it to a contact: the page says so, and the simulated network has it");
  await compose.getByLabel("Send to").fill(CONTACT);
  await compose.getByRole("button", { name: "Send", exact: true }).click();
  await compose.locator('[data-field="send-message"]:not(.error)', { hasText: `Sent to ${CONTACT_JID}` }).waitFor();
  const shownId = /message id ([^)]+)\)/.exec(await sendLine.textContent())?.[1];
  check(shownId, `no message id in: ${await sendLine.textContent()}`);
  check((await compose.getByLabel("Message", { exact: true }).inputValue()) === "", "the message field is emptied after a send");
  check((await compose.getByLabel("Send to").inputValue()) === CONTACT, "the recipient stays for the next message");
  const text = (await api("GET", `/sim/instances/${ID}/sent?min=${before + 1}&wait_ms=${WAIT}`)).messages.at(-1);
  check(
    text.kind === "text" && text.to === CONTACT_JID && text.text === TEXT && text.message_id === shownId,
    `the network recorded: ${JSON.stringify(text)}`,
  );
  await shot("4-instance-sent");

  log("send a poll from the card: too few options are refused on the page, a duplicate by the server; nothing is sent");
  const poll = card.getByRole("form", { name: "Send a poll" });
  const pollLine = poll.locator('[data-field="poll-message"]');
  const beforePoll = (await sentSoFar()).length;
  await poll.getByLabel("Send the poll to").fill(CONTACT);
  await poll.getByLabel("Question").fill("Lunch?");
  await poll.getByLabel("Options", { exact: true }).fill("Rice");
  await poll.getByRole("button", { name: "Send poll" }).click();
  await poll.locator('[data-field="poll-message"].error', { hasText: "this one has 1" }).waitFor();
  await poll.getByLabel("Options", { exact: true }).fill("Rice\n Rice ");
  await poll.getByRole("button", { name: "Send poll" }).click();
  await poll.locator('[data-field="poll-message"].error', { hasText: "Poll not sent: " }).waitFor();
  check(/\([a-z_]+\)$/.test(await pollLine.textContent()), `the server's refusal names its code: ${await pollLine.textContent()}`);
  check((await sentSoFar()).length === beforePoll, "a refused poll reached the network");

  log("a poll with three options, several allowed: the network has it exactly, and a vote shows in the feed");
  await poll.getByLabel("Options", { exact: true }).fill("Rice\nNoodles\n\nSoup");
  await poll.getByLabel("Voters may pick several options").check();
  await poll.getByRole("button", { name: "Send poll" }).click();
  await poll.locator('[data-field="poll-message"]:not(.error)', { hasText: `Poll sent to ${CONTACT_JID}` }).waitFor();
  const pollId = /message id ([^)]+)\)/.exec(await pollLine.textContent())?.[1];
  const sentPoll = (await api("GET", `/sim/instances/${ID}/sent?min=${beforePoll + 1}&wait_ms=${WAIT}`)).messages.at(-1);
  check(
    sentPoll.kind === "poll" && sentPoll.message_id === pollId && sentPoll.to === CONTACT_JID &&
      JSON.stringify(sentPoll.poll) === JSON.stringify({ name: "Lunch?", options: ["Rice", "Noodles", "Soup"], selectable_count: 3 }),
    `the network recorded: ${JSON.stringify(sentPoll)}`,
  );
  await shot("4-instance-poll");
  await page.getByRole("link", { name: "Events" }).click();
  await page.getByRole("heading", { name: "Events", exact: true }).waitFor();
  await api("POST", `/sim/instances/${ID}/poll-vote`, { from: CONTACT, poll_id: pollId, options: ["Soup", "Rice"], push_name: "John" });
  await page
    .locator('#feed-list li[data-kind="poll.vote"]', { hasText: `John voted Rice, Soup on poll ${pollId}; totals: Rice 1 · Noodles 0 · Soup 1` })
    .waitFor();
  await page.getByRole("link", { name: "Instances" }).click();

  log("WhatsApp bans the number for a while: the card says banned, why and until when, then comes back online");
  await api("POST", `/sim/instances/${ID}/disconnect`, { reason: "temporary_ban", ban_seconds: 2 });
  await card.locator('[data-field="status"][data-status="banned"]').waitFor();
  const health = card.locator('[data-field="health"]');
  await health.filter({ hasText: "Banned by WhatsApp: simulated temporary ban. Reconnects by itself at " }).waitFor();
  await shot("4-instance-banned");
  await card.locator('[data-field="status"][data-status="online"]').waitFor();
  check(await health.isHidden(), `the ban is over but the card still says: ${await health.textContent()}`);

  log("the instance's groups on its card: subject, participant count and its role; opening one lists its members");
  const GROUP = "120363402106000777@g.us";
  await api("POST", "/sim/groups", { jid: GROUP, subject: "E2E Team", members: [PHONE, CONTACT, "6281234500779"], admins: [CONTACT, PHONE] });
  const groupsPanel = card.locator('[data-field="groups"]');
  await groupsPanel.getByRole("button", { name: "Groups" }).click();
  const groupItem = groupsPanel.locator(`details[data-group="${GROUP}"]`);
  await groupItem.locator("summary", { hasText: "E2E Team · 3 participants · you are admin" }).waitFor();
  await groupsPanel.getByText("In 1 group(s).").waitFor();
  check(await groupItem.locator(".participants").isHidden(), "the members show before the group is opened");
  await groupItem.locator("summary").click();
  await groupItem.locator(`li[data-participant="${CONTACT_JID}"]`, { hasText: "superadmin" }).waitFor();
  await groupItem.locator(`li[data-participant="${PHONE}@s.whatsapp.net"]`, { hasText: "admin · this instance" }).waitFor();
  await groupItem.locator('li[data-participant="6281234500779@s.whatsapp.net"]').waitFor();
  check((await groupItem.locator("li").count()) === 3, "the group lists its three members");
  await shot("4-instance-groups");

  log("a second instance: a pairing code for a phone number, then delete it");
  await view("instances").getByLabel("Instance id").fill("e2e-temp");
  await view("instances").getByLabel("Name", { exact: true }).fill("");
  await page.getByRole("button", { name: "Create" }).click();
  const temp = page.locator('article[data-instance="e2e-temp"]');
  await temp.locator(".qr img").waitFor();
  await temp.getByLabel("Phone number").fill("6281234500002");
  await temp.getByRole("button", { name: "Get pairing code" }).click();
  await temp.locator(".code").getByText(/type [A-Z0-9]{4}-[A-Z0-9]{4}$/).waitFor();
  page.once("dialog", (dialog) => dialog.accept());
  await temp.getByRole("button", { name: "Delete" }).click();
  await temp.waitFor({ state: "detached" });
  const left = (await api("GET", "/api/instances")).instances.map((i) => i.instance_id);
  check(left.length === 1 && left[0] === ID, `instances left: ${left}`);

  log("an incoming message shows in the event feed, and the filters work");
  await page.getByRole("link", { name: "Events" }).click();
  await page.getByRole("heading", { name: "Events", exact: true }).waitFor();
  await api("POST", `/sim/instances/${ID}/incoming`, { from: "6289876543210", push_name: "Budi", text: "Halo dari browser" });
  const message = page.locator('#feed-list li[data-kind="incoming_message"]', { hasText: "Budi: Halo dari browser" });
  await message.waitFor();
  await page.locator('#feed-list li[data-kind="instance.status"]').first().waitFor();
  await view("feed").getByLabel("Kind").selectOption("incoming_message");
  await page.waitForFunction(() => [...document.querySelectorAll("#feed-list li")].every((li) => li.dataset.kind === "incoming_message"));
  await message.waitFor();
  await view("feed").getByLabel("Instance").selectOption(ID);
  await message.waitFor();
  await view("feed").getByLabel("Kind").selectOption("");
  await shot("5-feed");

  log("a contact's message arrives; the page reacts to it with 👍, and the network has the reaction");
  const { message_id: incomingId } = await api("POST", `/sim/instances/${ID}/incoming`, { from: CONTACT, push_name: "John", text: "hi" });
  const john = page.locator('#feed-list li[data-kind="incoming_message"]', { hasText: "John: hi" });
  await john.waitFor();
  const thumbs = john.getByRole("button", { name: "👍" });
  await thumbs.click();
  await john.locator(".reaction-message:not(.error)", { hasText: "Reacted 👍" }).waitFor();
  check((await thumbs.getAttribute("aria-pressed")) === "true", "the reaction shows as pressed");
  const reactionsTo = async (id) => (await sentSoFar()).filter((m) => m.kind === "reaction" && m.target_id === id);
  const reaction = (await reactionsTo(incomingId)).at(-1);
  check(
    reaction && reaction.emoji === "👍" && reaction.to === CONTACT_JID,
    `the network recorded: ${JSON.stringify(reaction)} for ${incomingId}`,
  );
  await shot("6-feed-reaction");

  log("the reaction is withdrawn from the page: an empty reaction goes out");
  await john.getByRole("button", { name: "Withdraw" }).click();
  await john.locator(".reaction-message:not(.error)", { hasText: "Reaction withdrawn" }).waitFor();
  check((await thumbs.getAttribute("aria-pressed")) === "false", "no reaction shows as pressed");
  const reactions = await reactionsTo(incomingId);
  check(
    reactions.length === 2 && reactions[1].emoji === "" && reactions[1].to === CONTACT_JID,
    `the reactions the network recorded: ${JSON.stringify(reactions)}`,
  );

  log("set the primary webhook; it is listed");
  await page.getByRole("link", { name: "Webhooks" }).click();
  await page.getByRole("heading", { name: "Webhooks", exact: true }).waitFor();
  check((await view("webhooks").getByLabel("Instance").inputValue()) === ID, "the webhook view picks the instance");
  await view("webhooks").getByLabel("URL").fill(HOOK);
  await page.getByRole("button", { name: "Set webhook" }).click();
  await page.locator("#webhooks-message", { hasText: "signing secret" }).waitFor();
  await page.locator("#webhook-table tbody tr", { hasText: HOOK }).waitFor();
  const hooks = (await api("GET", `/api/instances/${ID}/webhooks`)).webhooks;
  check(hooks.some((w) => w.url === HOOK && w.primary), `webhooks: ${JSON.stringify(hooks)}`);

  log("a message's delivery fails (the receiver refuses), and Retry delivers it");
  await api("POST", `/sim/instances/${ID}/incoming`, { from: "6289876543210", text: "webhook check from the browser test" });
  await refreshUntil('#delivery-table tr[data-status="failed"]');
  await shot("7-webhooks");
  await page.locator('#delivery-table tr[data-status="failed"]').getByRole("button", { name: /Retry/ }).click();
  await refreshUntil('#delivery-table tr[data-status="delivered"]');
  const deliveries = (await api("GET", `/api/deliveries?instance_id=${ID}`)).deliveries;
  check(deliveries.some((d) => d.status === "delivered"), `deliveries: ${JSON.stringify(deliveries)}`);

  log("the send queue: a job queued for later shows in the list (from its queue.job frame), Cancel makes it cancelled");
  // Quiet hours only the API sets: the view shows them, and its form keeps them.
  const quiet = { start: "22:00", end: "07:00", timezone: "Asia/Jakarta" };
  await api("PATCH", `/api/instances/${ID}`, { pacing: { quiet_hours: quiet } });
  await page.getByRole("link", { name: "Queue" }).click();
  await page.getByRole("heading", { name: "Send queue", exact: true }).waitFor();
  check((await view("queue").getByLabel("Instance").inputValue()) === ID, "the queue view picks the instance");
  const later = new Date(Date.parse((await api("POST", "/sim/clock", { advance_ms: 0 })).now) + 3600 * 1000).toISOString();
  // Queued while the view is open: the row comes with the frame, no Refresh.
  const queued = await api("POST", `/api/send/${ID}`, { to: CONTACT, message: "later, from the queue", send_at: later });
  check(queued.status === "queued", `the queued send: ${JSON.stringify(queued)}`);
  const row = page.locator(`#queue-table tr[data-job="${queued.job_id}"]`);
  await row.and(page.locator('[data-status="queued"]')).waitFor();
  await page.locator("#queue-waiting", { hasText: /^[1-9]/ }).waitFor();
  await view("queue").getByLabel("Status").selectOption("queued");
  await row.waitFor();
  await view("queue").getByLabel("Status").selectOption("");
  await row.getByRole("button", { name: `Cancel job ${queued.job_id}` }).click();
  await page.locator("#queue-message", { hasText: `Job ${queued.job_id} cancelled.` }).waitFor();
  await row.and(page.locator('[data-status="cancelled"]')).waitFor();
  check(
    (await api("GET", `/api/queue/${ID}/${queued.job_id}`)).status === "cancelled",
    "the server says the job is cancelled",
  );
  log("the queue view shows the pacing in force: the instance's quiet hours, the server's defaults for the rest");
  const rule = (name, source) => page.locator(`#pacing-current tr[data-rule="${name}"][data-source="${source}"]`);
  await rule("quiet_hours", "instance").getByText("22:00–07:00 Asia/Jakarta").waitFor();
  await rule("per_minute", "default").getByText("none", { exact: true }).waitFor();
  await rule("typing", "default").getByText("no", { exact: true }).waitFor();

  log("set the instance's pacing from the queue view: the table shows it, the quiet hours are kept");
  await view("queue").getByLabel("Per minute").fill("30");
  await page.getByRole("button", { name: "Set pacing" }).click();
  await page.locator("#queue-message", { hasText: `Pacing of ${ID} set.` }).waitFor();
  await rule("per_minute", "instance").getByText("30", { exact: true }).waitFor();
  await rule("quiet_hours", "instance").getByText("22:00–07:00 Asia/Jakarta").waitFor();
  const pacing = await api("GET", `/api/instances/${ID}/pacing`);
  check(
    pacing.pacing.per_minute === 30 && pacing.effective.per_minute === 30
      && JSON.stringify(pacing.pacing.quiet_hours) === JSON.stringify(quiet),
    `the server's pacing: ${JSON.stringify(pacing)}`,
  );
  check((await view("queue").getByLabel("Per minute").inputValue()) === "30", "the form shows the instance's own rule");
  await shot("8-queue");

  log("plugins: the built-ins are listed with their stats; disable webhook");
  await page.getByRole("link", { name: "Plugins" }).click();
  await page.getByRole("heading", { name: "Plugins", exact: true }).waitFor();
  const webhook = page.locator('#plugin-table tr[data-plugin="webhook"]');
  await webhook.locator('[data-status="running"]').waitFor();
  await page.locator('#plugin-table tr[data-plugin="websocket"]').getByText("built-in").waitFor();
  await webhook.getByRole("button", { name: "Disable webhook" }).click();
  await page.locator('#plugin-table tr[data-plugin="webhook"][data-state="disabled"]').waitFor();
  await page.getByRole("button", { name: "Enable webhook" }).waitFor();
  check((await api("GET", "/api/plugins/webhook")).enabled === false, "the server says webhook is disabled");

  log("upload a plugin (manifest and component): it is listed, running");
  await view("plugins").getByLabel("Manifest").setInputFiles(env("WASAP_UPLOAD_MANIFEST"));
  await view("plugins").getByLabel("Component").setInputFiles(env("WASAP_UPLOAD_COMPONENT"));
  await page.getByRole("button", { name: "Upload" }).click();
  await page.locator("#plugins-message", { hasText: "e2e-upload installed and running" }).waitFor();
  await page.locator('#plugin-table tr[data-plugin="e2e-upload"][data-state="running"]').waitFor();
  check((await api("GET", "/api/plugins/e2e-upload")).running === true, "the server runs the uploaded plugin");
  await shot("9-plugins");

  check(await page.evaluate(() => window.__sameDocument === true), "the page reloaded during the test");
  check(problems.length === 0, `the page reported problems:\n${problems.join("\n")}`);
  console.log("dashboard: every step passed");
} catch (error) {
  await shot("failure").catch(() => {});
  console.error(`failed at "${step}": ${error.stack ?? error}`);
  if (problems.length) console.error(problems.join("\n"));
  process.exitCode = 1;
} finally {
  await context.close();
  await rm(profile, { recursive: true, force: true });
}

/** Clicks the deliveries' Refresh until `selector` shows (the table is not live). */
async function refreshUntil(selector) {
  const deadline = Date.now() + WAIT;
  for (;;) {
    await page.getByRole("button", { name: "Refresh" }).click();
    try {
      await page.locator(selector).first().waitFor({ timeout: 500 });
      return;
    } catch (error) {
      if (Date.now() > deadline) throw new Error(`${selector} did not show within ${WAIT} ms`);
    }
  }
}
