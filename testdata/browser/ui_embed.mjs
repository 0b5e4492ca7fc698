#!/usr/bin/env node
// ui_embed.mjs: the embed API from a host page on another origin.
//
// The script serves the same host page on two listening sockets it
// inherits (the Go test opens them and configures confd's
// web.embed_origins with the first one's origin only):
//
//   allowed  http://localhost:<allowed port>/ embeds room --room with embed.js
//            (new ConfdMeeting(el, {room, name, prejoin: false})). It gets ready
//            and joined; a second person joins through confd's own page and the
//            host gets participantJoined; the host calls mute() and gets muted
//            (and the meeting inside shows it); sendChat() reaches the other
//            person; a forged message from another window is ignored; leave()
//            gives left.
//   denied   http://localhost:<denied port>/ cannot frame the meeting: Chromium
//            refuses the frame (CSP frame-ancestors), the meeting never says
//            ready and embed.js reports error.
//
//   node ui_embed.mjs --base http://127.0.0.1:8080 --out out/embed [--room 3500] [--token JWT]
//        [--allowed-fd 3] [--denied-fd 4] [--timeout-ms 120000] [--chromium /usr/bin/chromium]
//
// With --token the host page passes a join token (options.token), as a site's backend would.
//
// stdout: one JSON line {ok, error, step, steps, screenshots, pageErrors, …}; exit 0 when ok.

import { parseArgs } from 'node:util';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { Run, framesAdvance, waitFor } from './ui_common.mjs';

const run = new Run('ui_embed');
let opts;
try {
  const { values } = parseArgs({
    options: {
      base: { type: 'string' },
      room: { type: 'string', default: '3500' },
      out: { type: 'string' },
      'allowed-fd': { type: 'string', default: '3' },
      token: { type: 'string', default: '' },
      'denied-fd': { type: 'string', default: '4' },
      'timeout-ms': { type: 'string', default: '120000' },
      chromium: { type: 'string', default: '/usr/bin/chromium' },
    },
    strict: true,
  });
  opts = {
    base: (values.base ?? '').replace(/\/$/, ''),
    room: values.room,
    out: values.out,
    allowedFd: Number(values['allowed-fd']),
    token: values.token,
    deniedFd: Number(values['denied-fd']),
    timeoutMs: Number(values['timeout-ms']),
    chromium: values.chromium,
  };
  if (!/^https?:\/\//.test(opts.base)) throw new Error('--base must be an http(s) URL');
  if (!opts.out) throw new Error('--out is required');
  if (!Number.isInteger(opts.allowedFd) || !Number.isInteger(opts.deniedFd)) throw new Error('bad --allowed-fd or --denied-fd');
  if (!(opts.timeoutMs > 0)) throw new Error('--timeout-ms must be positive');
} catch (err) {
  run.result.error = `bad arguments: ${err.message}`;
  run.printed = true;
  process.stdout.write(JSON.stringify(run.result) + '\n', () => process.exit(2));
}

const EVENTS = ['ready', 'joined', 'left', 'participantJoined', 'participantLeft', 'talking', 'chat', 'muted', 'error', 'reconnected'];

// hostPage is an ordinary site's page that embeds the meeting.
function hostPage(label) {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${label} host page</title>
<style>
  body { margin: 0; font: 15px/1.4 system-ui, sans-serif; background: #eef1f5; color: #1d2330; }
  header { display: flex; align-items: center; gap: 10px; padding: 14px 24px; background: #fff; border-bottom: 1px solid #d9dee7; }
  header b { font-size: 17px; }
  main { display: grid; grid-template-columns: 1fr 260px; gap: 20px; padding: 20px 24px; }
  #meeting { height: 600px; border-radius: 14px; overflow: hidden; background: #0d1015; box-shadow: 0 8px 30px rgb(0 0 0 / 0.15); }
  aside { background: #fff; border-radius: 14px; padding: 14px 16px; font-size: 13px; }
  aside h2 { margin: 0 0 8px; font-size: 14px; }
  #log { margin: 0; padding: 0; list-style: none; }
  #log li { padding: 3px 0; border-bottom: 1px solid #eef1f5; overflow-wrap: anywhere; }
</style></head>
<body>
<header><b>Acme Support</b><span>· a confd meeting embedded with embed.js</span></header>
<main>
  <div id="meeting"></div>
  <aside><h2>Events from the meeting</h2><ul id="log"></ul></aside>
</main>
<script src="${opts.base}/embed.js"></script>
<script>
  window.__events = [];
  const meeting = new ConfdMeeting(document.getElementById('meeting'), {
    room: ${JSON.stringify(opts.room)}, name: 'Erin (embedded)', token: ${JSON.stringify(opts.token)}, prejoin: false, loadTimeout: 10000,
  });
  for (const name of ${JSON.stringify(EVENTS)}) {
    meeting.on(name, (data) => {
      window.__events.push({ name, data });
      const li = document.createElement('li');
      li.textContent = name + ' ' + JSON.stringify(data);
      document.getElementById('log').append(li);
    });
  }
  window.__meeting = meeting;
</script>
</body></html>
`;
}

function serve(fd, label) {
  const page = hostPage(label);
  const server = http.createServer((req, res) => {
    if ((req.url || '/').split('?')[0] === '/') {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
      res.end(page);
    } else {
      res.writeHead(404, { 'content-type': 'text/plain' });
      res.end('not found');
    }
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen({ fd }, () => {
      run.cleanups.push(() => new Promise((r) => { server.closeAllConnections(); server.close(() => r()); }));
      resolve(`http://localhost:${server.address().port}`);
    });
  });
}

const events = (page, name) => page.evaluate((n) => window.__events.filter((e) => e.name === n), name);

// waitEvent waits for the host page to get event name whose data has
// every key of match, and returns that data.
async function waitEvent(page, what, name, match = {}, timeoutMs = 30000) {
  const hit = ([n, m]) => window.__events.find((e) => e.name === n && Object.entries(m).every(([k, v]) => e.data?.[k] === v));
  await waitFor(page, what, hit, [name, match], timeoutMs);
  return page.evaluate(hit, [name, match]).then((e) => e.data);
}

async function body() {
  fs.mkdirSync(opts.out, { recursive: true });
  const allowed = await serve(opts.allowedFd, 'allowed');
  const denied = await serve(opts.deniedFd, 'denied');
  run.result.origins = { allowed, denied };
  const H = await run.page('host', { viewport: { width: 1280, height: 760 } });
  const P = await run.page('peer');

  await run.step('joined', async () => {
    await H.goto(`${allowed}/`, { waitUntil: 'load', timeout: 20000 });
    const ready = await waitEvent(H, 'ready', 'ready');
    const joined = await waitEvent(H, 'joined', 'joined');
    const frame = H.frames().find((f) => f !== H.mainFrame());
    const frameURL = frame?.url() ?? '';
    if (!frameURL.startsWith(`${opts.base}/embed/${opts.room}`)) throw new Error(`the meeting frame is at ${frameURL}`);
    const allow = await H.$eval('#meeting iframe', (f) => f.allow);
    return { ready, joined, allow, frameURL: frameURL.replace(/#.*/, '') };
  });

  await run.step('participantJoined', async () => {
    await P.goto(`${opts.base}/?room=${encodeURIComponent(opts.room)}`, { waitUntil: 'load', timeout: 20000 });
    await P.waitForSelector('#join-button:not([disabled])');
    await P.fill('#name', 'Pat');
    await P.click('#join-button');
    await waitFor(P, 'Pat in the call', () => window.confd.call?.state === 'active' && window.confd.conference?.memberID > 0, null, 30000);
    const joined = await waitEvent(H, 'participantJoined for Pat', 'participantJoined', { name: 'Pat' });
    const frame = H.frames().find((f) => f !== H.mainFrame());
    const video = await framesAdvance(frame, `.tile[data-member-id="${joined.id}"] video`);
    return { joined, video };
  });

  await run.step('muted', async () => {
    await H.evaluate(() => window.__meeting.mute());
    const muted = await waitEvent(H, 'muted', 'muted', { muted: true });
    const frame = H.frames().find((f) => f !== H.mainFrame());
    const button = await frame.evaluate(() => document.getElementById('btn-mic').dataset.state);
    if (button !== 'off') throw new Error(`the meeting's mute button is ${button}`);
    const erin = (await H.evaluate(() => window.__events.find((e) => e.name === 'joined').data.memberID));
    await waitFor(P, "Erin muted in Pat's list", (id) => document.querySelector(`#people-list li[data-member-id="${id}"]`)?.classList.contains('muted'), erin);
    await H.evaluate(() => window.__meeting.unmute());
    const unmuted = await waitEvent(H, 'unmuted', 'muted', { muted: false });
    return { muted, unmuted, button };
  });

  await run.step('chat', async () => {
    await H.evaluate(() => window.__meeting.sendChat('Hello from the host page'));
    await waitFor(P, "the host's message", () => document.getElementById('chat-log').textContent.includes('Hello from the host page'));
    const own = await waitEvent(H, 'the chat event', 'chat', { message: 'Hello from the host page', self: true });
    return { own };
  });

  await run.step('origin', async () => {
    // A message that does not come from the meeting's frame is not an event.
    await H.evaluate(() => window.postMessage({ confd: 1, type: 'event', name: 'muted', data: { muted: true, forged: true } }, '*'));
    await H.waitForTimeout(300);
    const forged = (await events(H, 'muted')).filter((d) => d.data.forged);
    if (forged.length) throw new Error('a forged event was taken');
    await run.screenshot(H, path.join(opts.out, 'embed.png'));
    return {};
  });

  await run.step('left', async () => {
    await H.evaluate(() => window.__meeting.leave());
    const left = await waitEvent(H, 'left', 'left');
    return { left };
  });

  await run.step('denied', async () => {
    const D = await run.page('denied', { viewport: { width: 1280, height: 760 } });
    const refusals = [];
    D.on('console', (m) => {
      if (/frame-ancestors|Refused to frame/i.test(m.text())) refusals.push(m.text());
    });
    await D.goto(`${denied}/`, { waitUntil: 'load', timeout: 20000 });
    const error = await waitEvent(D, 'the load error', 'error', {}, 30000);
    const ready = await events(D, 'ready');
    if (ready.length) throw new Error('a page from an origin that is not allowed got the meeting');
    const frame = D.frames().find((f) => f !== D.mainFrame());
    const frameURL = frame?.url() ?? '';
    const inside = frame ? await frame.evaluate(() => typeof window.confd).catch((err) => `unreachable: ${err.message.split('\n')[0]}`) : 'no frame';
    if (inside === 'object') throw new Error('the meeting loaded in a frame it must not load in');
    await run.screenshot(D, path.join(opts.out, 'embed-denied.png'));
    return { error, frameURL, inside, refusals: refusals.slice(0, 2) };
  });
}

if (!run.printed) {
  run.main(opts.chromium, opts.timeoutMs, body);
}
