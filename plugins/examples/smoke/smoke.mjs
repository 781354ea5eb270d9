// Instantiates each example component with JavaScript stand-ins for the host imports and
// checks what it answers. jco names imports without their version.
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';

const load = async (name, imports) => {
  const mod = await import(`./out/${name}/${name}.js`);
  return mod.instantiate(
    async (path) => WebAssembly.compile(await readFile(`./out/${name}/${path}`)),
    { 'wasap:plugin/types': {}, ...imports },
  );
};

const message = (content, extra = {}) => ({
  id: 'evt-1', instanceId: 'main', atUs: 1765202224000000n,
  kind: { tag: 'message', val: {
    id: '3EB0', chat: '628111@s.whatsapp.net', sender: '628111@s.whatsapp.net',
    pushName: 'Tester', fromMe: false, isGroup: false, timestamp: 1765202224n, content,
    quoted: undefined, forwarded: false, viewOnce: false, ephemeral: undefined, ...extra } },
});
const text = (t) => message({ tag: 'text', val: t });

// redactor: no imports besides the types.
const redactor = await load('redactor', {});
redactor.init(JSON.stringify({ mask: '[phone]', min_digits: 9 }));
let out = redactor.handleEvent(text('call me at +62 812-3456-7890 today'));
assert.equal(out.verdict.tag, 'replace');
assert.equal(out.verdict.val.id, 'evt-1');
assert.equal(out.verdict.val.kind.val.content.val, 'call me at [phone] today');
out = redactor.handleEvent(message({ tag: 'image', val: {
  mimeType: 'image/jpeg', caption: 'x 081234567890', fileName: undefined, mediaPath: undefined,
  size: 12n, sha256Hex: undefined, downloadError: undefined } }));
assert.equal(out.verdict.val.kind.val.content.val.caption, 'x [phone]');
assert.equal(out.verdict.val.kind.val.content.val.size, 12n);
assert.deepEqual(redactor.handleEvent(text('nothing here')), { verdict: { tag: 'continue' }, actions: [] });

// spam-filter: log only; a bad config is refused by init.
const logs = [];
const log = { 'wasap:plugin/log': { log: (level, line) => logs.push(`${level}: ${line}`) } };
const spam = await load('spam-filter', log);
spam.init(JSON.stringify({ blocked_words: ['casino'], max_links: 3 }));
assert.equal(spam.handleEvent(text('best CASINO here')).verdict.tag, 'drop');
assert.equal(spam.handleEvent(text('hello')).verdict.tag, 'continue');
assert.match(logs[0], /^info: dropped 3EB0 .*casino/);
assert.throws(() => spam.init('{"max_links": "x"}'), (err) => /invalid config/.test(err.payload));

// auto-reply: log, kv and clock; the cooldown lives in kv.
const store = new Map();
const bot = await load('auto-reply', {
  ...log,
  'wasap:plugin/kv': {
    get: (key) => store.get(key),
    set: (key, value) => { store.set(key, value); },
    delete: (key) => { store.delete(key); },
    listKeys: (prefix, limit) => [...store.keys()].filter((k) => k.startsWith(prefix)).slice(0, limit),
  },
  'wasap:plugin/clock': { now: () => 1765202224000000n },
});
bot.init(JSON.stringify({ cooldown_secs: 60, rules: [{ keywords: ['price'], reply: 'Prices: ...' }] }));
out = bot.handleEvent(text('what is the price?'));
assert.deepEqual(out.actions, [{ tag: 'send-text', val: { to: '628111@s.whatsapp.net', text: 'Prices: ...', replyTo: '3EB0' } }]);
assert.deepEqual(bot.handleEvent(text('price')).actions, [], 'the cooldown holds the second reply');
assert.equal(Buffer.from(store.get('last-reply/main/628111@s.whatsapp.net')).toString(), '1765202224');

console.log('3 passed, 0 failed');
