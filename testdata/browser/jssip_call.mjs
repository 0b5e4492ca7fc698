#!/usr/bin/env node
// jssip_call.mjs: JsSIP 3.x (npm) in headless Chromium calls a confd room over SIP on a
// websocket (RFC 7118), driven line by line by the Go test.
//
//   node jssip_call.mjs --ws wss://127.0.0.1:8443 --uri sip:1000@confd --password 1234 \
//        --name "JsSIP Tester" --dest sip:3500@confd [--tone-hz 660] [--chromium /usr/bin/chromium]
//
// The page registers at once; then it reads commands on stdin, one a line:
//   call      place a call (camera from Chromium's fake device, microphone a tone of
//             --tone-hz from WebAudio), wait for it to be confirmed, check the remote
//             video plays (videoWidth > 0, currentTime advances) and record 2 s of what it hears
//   dtmf K    send the keys K as RFC 4733 events (RTCDTMFSender)
//   hangup    end the call (BYE)
//   quit      close the browser and leave
// Every outcome is one JSON line on stdout: {"event":"registered","status":200},
// {"event":"confirmed"}, {"event":"media","videoWidth":n,"advanced":bool,"heard":{...}},
// {"event":"dtmf"}, {"event":"ended","originator":"local"|"remote","cause":"…"},
// {"event":"error","error":"…"}. Everything else (browser console, progress) goes to stderr.
//
// JsSIP ships CommonJS (lib/), so the page gets a bundle made here: the modules reachable
// from lib/JsSIP.js, each wrapped in a function, Node's built-ins as their npm namesakes
// (events) or empty objects.

import { parseArgs } from 'node:util';
import http from 'node:http';
import fs from 'node:fs';
import readline from 'node:readline';
import { createRequire, isBuiltin } from 'node:module';
import { chromium } from 'playwright-core';
import { CHROMIUM_FLAGS } from './chromium_flags.mjs';

const { values: opts } = parseArgs({
  options: {
    ws: { type: 'string' },
    uri: { type: 'string' },
    password: { type: 'string' },
    name: { type: 'string', default: 'JsSIP Tester' },
    dest: { type: 'string' },
    'tone-hz': { type: 'string', default: '660' },
    chromium: { type: 'string', default: '/usr/bin/chromium' },
  },
  strict: true,
});

const emit = (obj) => process.stdout.write(JSON.stringify(obj) + '\n');
const note = (msg) => process.stderr.write(`[jssip_call] ${msg}\n`);

// bundle makes one script of a CommonJS module and what it requires.
function bundle(entry) {
  const mods = new Map();
  const visit = (file) => {
    if (mods.has(file)) return mods.get(file).id;
    const m = { id: mods.size, src: '', map: {} };
    mods.set(file, m);
    const src = fs.readFileSync(file, 'utf8');
    if (file.endsWith('.json')) {
      m.src = `module.exports = ${src};`;
      return m.id;
    }
    const req = createRequire(file);
    for (const [, spec] of src.matchAll(/require\(\s*['"]([^'"]+)['"]\s*\)/g)) {
      if (spec in m.map) continue;
      // A built-in's npm namesake (events) when installed, else nothing.
      let target;
      try { target = req.resolve(isBuiltin(spec) ? `${spec}/` : spec); } catch { m.map[spec] = -1; continue; }
      m.map[spec] = visit(target);
    }
    m.src = src;
    return m.id;
  };
  visit(entry);
  const defs = [...mods.values()].map((m) =>
    `[function (module, exports, require) {\n${m.src}\n}, ${JSON.stringify(m.map)}]`);
  return `(function () {
  var defs = [${defs.join(',\n')}];
  var cache = {};
  function load(i) {
    if (i < 0) return {};
    if (cache[i]) return cache[i].exports;
    var module = { exports: {} };
    cache[i] = module;
    defs[i][0].call(module.exports, module, module.exports, function (spec) { return load(defs[i][1][spec]); });
    return module.exports;
  }
  window.JsSIP = load(0);
})();`;
}

// installHarness runs in the page.
function installHarness() {
  const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
  const until = async (pred, what, ms = 30000) => {
    const end = Date.now() + ms;
    while (!pred()) {
      if (Date.now() > end) throw new Error(`timeout waiting for ${what}`);
      await sleep(50);
    }
  };
  const TAP = 'registerProcessor("tap", class extends AudioWorkletProcessor {' +
    ' process(inputs) { const ch = inputs[0] && inputs[0][0]; if (ch) this.port.postMessage(ch.slice(0)); return true; } });';
  const tapURL = URL.createObjectURL(new Blob([TAP], { type: 'text/javascript' }));
  // record taps seconds of stream's audio: 16-bit PCM at 48 kHz in base64.
  const record = async (stream, seconds) => {
    const out = { audioTracks: stream.getAudioTracks().length, videoTracks: stream.getVideoTracks().length, sampleRate: 0, pcm: '' };
    const ctx = new AudioContext({ sampleRate: 48000 });
    try {
      await ctx.audioWorklet.addModule(tapURL);
      await ctx.resume();
      const src = ctx.createMediaStreamSource(stream);
      const tap = new AudioWorkletNode(ctx, 'tap');
      const want = Math.round(seconds * ctx.sampleRate);
      const pcm = new Int16Array(want);
      let n = 0;
      tap.port.onmessage = (e) => {
        for (let i = 0; i < e.data.length && n < want; i++) pcm[n++] = Math.max(-32768, Math.min(32767, Math.round(e.data[i] * 32767)));
      };
      src.connect(tap);
      await until(() => n >= want, 'recorded audio');
      src.disconnect();
      out.sampleRate = ctx.sampleRate;
      const bytes = new Uint8Array(pcm.buffer);
      let bin = '';
      for (let i = 0; i < bytes.length; i += 0x8000) bin += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
      out.pcm = btoa(bin);
    } finally {
      await ctx.close();
    }
    return out;
  };

  let ua = null;
  let session = null;
  let toneCtx = null;
  const emit = (o) => window.__emit(o);

  window.start = (o) => {
    JsSIP.debug.enable('JsSIP:Transport JsSIP:RTCSession');
    ua = new JsSIP.UA({
      sockets: [new JsSIP.WebSocketInterface(o.ws)],
      uri: o.uri, password: o.password, display_name: o.name,
      register: true, session_timers: false,
    });
    ua.on('registered', (e) => emit({ event: 'registered', status: e.response.status_code }));
    ua.on('registrationFailed', (e) => emit({ event: 'registrationFailed', cause: e.cause, status: e.response ? e.response.status_code : 0 }));
    ua.start();
  };

  // microphone: a tone, so that the room can tell this member's voice.
  const microphone = (hz) => {
    toneCtx = new AudioContext({ sampleRate: 48000 });
    const osc = toneCtx.createOscillator();
    osc.frequency.value = hz;
    const gain = toneCtx.createGain();
    gain.gain.value = 0.3;
    const dest = toneCtx.createMediaStreamDestination();
    osc.connect(gain).connect(dest);
    osc.start();
    return dest.stream.getAudioTracks()[0];
  };

  window.call = async (o) => {
    const cam = await navigator.mediaDevices.getUserMedia({ video: true });
    const local = new MediaStream([microphone(o.toneHz), ...cam.getVideoTracks()]);
    let confirmed = false;
    session = ua.call(o.dest, { mediaStream: local, pcConfig: { iceServers: [] } });
    session.on('confirmed', () => { confirmed = true; emit({ event: 'confirmed' }); });
    session.on('failed', (e) => emit({ event: 'failed', originator: e.originator, cause: e.cause }));
    session.on('ended', (e) => emit({ event: 'ended', originator: e.originator, cause: e.cause }));
    await until(() => confirmed || session.isEnded(), 'the call to be confirmed');
    if (!confirmed) return;
    const pc = session.connection;
    const remote = new MediaStream(pc.getReceivers().map((r) => r.track).filter((t) => t));
    const video = document.getElementById('remote');
    video.srcObject = remote;
    await video.play().catch(() => {});
    await until(() => video.videoWidth > 0, 'remote video with a size');
    const t0 = video.currentTime;
    await until(() => video.currentTime > t0 + 0.5, 'remote video time to advance');
    const heard = await record(remote, 2);
    emit({ event: 'media', videoWidth: video.videoWidth, advanced: video.currentTime > t0, heard });
  };

  window.dtmf = (keys) => {
    session.sendDTMF(keys, { transportType: 'RFC2833', duration: 160, interToneGap: 200 });
    emit({ event: 'dtmf' });
  };
  window.hangup = () => { if (session && !session.isEnded()) session.terminate(); };
}

const PAGE = `<!doctype html><html><head><meta charset="utf-8"><title>confd JsSIP harness</title></head>
<body><video id="remote" autoplay playsinline muted></video>
<script src="/jssip.js"></script>
<script>(${installHarness.toString()})();</script></body></html>`;

let browser = null;
let server = null;

async function main() {
  const require = createRequire(import.meta.url);
  const js = bundle(require.resolve('jssip'));
  server = http.createServer((req, res) => {
    const url = (req.url || '/').split('?')[0];
    if (url === '/') { res.writeHead(200, { 'content-type': 'text/html' }); res.end(PAGE); return; }
    if (url === '/jssip.js') { res.writeHead(200, { 'content-type': 'text/javascript' }); res.end(js); return; }
    res.writeHead(404); res.end();
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  browser = await chromium.launch({
    executablePath: opts.chromium, headless: true, timeout: 30000,
    // confd's certificate is its own self-signed one.
    args: [...CHROMIUM_FLAGS, '--autoplay-policy=no-user-gesture-required', '--ignore-certificate-errors'],
  });
  const context = await browser.newContext({ ignoreHTTPSErrors: true });
  const page = await context.newPage();
  page.on('console', (m) => process.stderr.write(`[browser ${m.type()}] ${m.text()}\n`));
  page.on('pageerror', (e) => process.stderr.write(`[browser pageerror] ${e.message}\n`));
  await page.exposeFunction('__emit', (o) => emit(o));
  await page.goto(`http://localhost:${server.address().port}/`, { waitUntil: 'load' });
  await page.evaluate((o) => window.start(o), { ws: opts.ws, uri: opts.uri, password: opts.password, name: opts.name });
  note('started');

  const rl = readline.createInterface({ input: process.stdin });
  for await (const line of rl) {
    const [cmd, ...args] = line.trim().split(/\s+/);
    try {
      switch (cmd) {
        case 'call':
          await page.evaluate((o) => window.call(o), { dest: opts.dest, toneHz: Number(opts['tone-hz']) });
          break;
        case 'dtmf':
          await page.evaluate((k) => window.dtmf(k), args[0]);
          break;
        case 'hangup':
          await page.evaluate(() => window.hangup());
          break;
        case 'quit':
          return;
        default:
          emit({ event: 'error', error: `unknown command ${cmd}` });
      }
    } catch (err) {
      emit({ event: 'error', error: err.message });
    }
  }
}

main()
  .catch((err) => emit({ event: 'error', error: err.message }))
  .finally(async () => {
    if (browser) await browser.close().catch(() => {});
    if (server) server.close();
    process.exit(0);
  });
