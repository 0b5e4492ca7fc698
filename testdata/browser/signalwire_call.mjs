#!/usr/bin/env node
// signalwire_call.mjs: places one Verto call from @signalwire/js 1.5.0 running in headless
// Chromium (fake camera and microphone) and checks that video arrives.
//
//   node signalwire_call.mjs --ws ws://127.0.0.1:8080/verto --login 1000@localhost \
//        --passwd 1234 --dest 3500 [--timeout-ms 60000] [--chromium /usr/bin/chromium] \
//        [--screenshot out.png] [--hold-ms 0] [--muted-ms 0] [--hear] [--verbose]
//
// With --muted-ms it mutes the microphone for that long once video flows and reports the
// audio packets a second the browser sent meanwhile (mutedPacketsPerSecond) and the Opus
// format line of the server's description (opusFmtp).
//
// With --hear it then checks what the user hears, as the SDK plays it: the stream on the
// SDK's remote element must hold an audio track, and a WebAudio tap on that stream records
// two seconds of it for the caller to judge (heard.<step>.pcm). The steps: "answer", then
// "updateMedia" (a re-offer over verto.modify on the same PeerConnection), "reattach" (the
// websocket is cut; the SDK logs in again and answers confd's verto.attach), and "screen"
// (call.startScreenShare(); the screen call's own remote stream).
//
// stdout gets exactly one JSON line:
//   {"ok":bool,"loggedIn":bool,"callState":"…","inboundVideoBytes":[…],"framesDecoded":n,
//    "events":[…],"error":"…", …}
// The exit status is 0 when ok is true and 1 otherwise (2 for bad flags).
// Everything else (browser console, page errors, harness progress) goes to stderr.

import { parseArgs } from 'node:util';
import http from 'node:http';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import { chromium } from 'playwright-core';
import { CHROMIUM_FLAGS } from './chromium_flags.mjs';


const USAGE = 'usage: node signalwire_call.mjs --ws ws://127.0.0.1:8080/verto --login USER --passwd PW ' +
  '[--dest 3500] [--timeout-ms 60000] [--chromium /usr/bin/chromium] [--screenshot PATH] ' +
  '[--hold-ms 0] [--muted-ms 0] [--hear] [--verbose]';

// ---------------------------------------------------------------------------------------------
// Result handling: one JSON line, printed once, whatever happens.

const result = {
  ok: false,
  loggedIn: false,
  callState: '',
  inboundVideoBytes: [],
  framesDecoded: 0,
  events: [],
  error: '',
};
let printed = false;

function note(msg) {
  process.stderr.write(`[signalwire_call] ${msg}\n`);
}

function finish(code) {
  if (!printed) {
    printed = true;
    if (!result.ok && !result.error) result.error = 'unknown failure';
    const line = JSON.stringify(result) + '\n';
    process.stdout.write(line, () => process.exit(code));
    // If stdout cannot be flushed (closed pipe), leave anyway.
    setTimeout(() => process.exit(code), 2000).unref();
  }
}

function fail(msg) {
  if (!result.error) result.error = msg;
}

// Copies the page's state object into result (keeping events collected on the Node side).
function mergePageState(st) {
  if (!st) return;
  const nodeEvents = result.events;
  const error = result.error;
  Object.assign(result, st);
  result.events = nodeEvents.concat(st.events || []);
  if (error && !st.error) result.error = error;
}

let opts;
try {
  const { values } = parseArgs({
    options: {
      ws: { type: 'string' },
      login: { type: 'string' },
      passwd: { type: 'string' },
      dest: { type: 'string', default: '3500' },
      'timeout-ms': { type: 'string', default: '60000' },
      chromium: { type: 'string', default: '/usr/bin/chromium' },
      screenshot: { type: 'string' },
      'hold-ms': { type: 'string', default: '0' },
      'muted-ms': { type: 'string', default: '0' },
      hear: { type: 'boolean', default: false },
      verbose: { type: 'boolean', default: false },
    },
    strict: true,
    allowPositionals: false,
  });
  opts = {
    ws: values.ws,
    login: values.login,
    passwd: values.passwd,
    dest: values.dest,
    timeoutMs: Number(values['timeout-ms']),
    chromium: values.chromium,
    screenshot: values.screenshot || '',
    holdMs: Number(values['hold-ms']),
    mutedMs: Number(values['muted-ms']),
    hear: values.hear,
    verbose: values.verbose,
  };
  if (!opts.ws || !/^wss?:\/\//.test(opts.ws)) throw new Error('--ws must be a ws:// or wss:// URL');
  if (!opts.login || opts.passwd === undefined) throw new Error('--login and --passwd are required');
  if (!Number.isFinite(opts.timeoutMs) || opts.timeoutMs <= 0) throw new Error('--timeout-ms must be a positive number');
  if (!Number.isFinite(opts.holdMs) || opts.holdMs < 0) throw new Error('--hold-ms must be >= 0');
  if (!Number.isFinite(opts.mutedMs) || opts.mutedMs < 0) throw new Error('--muted-ms must be >= 0');
} catch (err) {
  result.error = `bad arguments: ${err.message}; ${USAGE}`;
  printed = true;
  process.stdout.write(JSON.stringify(result) + '\n', () => process.exit(2));
}

// ---------------------------------------------------------------------------------------------
// Page side. installHarness is serialised into the HTML page and runs in Chromium, not in Node.

function installHarness() {
  const st = {
    ok: false,
    loggedIn: false,
    callState: '',
    callID: '',
    sessid: '',
    inboundVideoBytes: [],
    inboundAudioBytes: [],
    framesDecoded: 0,
    events: [],
    error: '',
  };
  window.__harnessState = st;
  const t0 = performance.now();
  const MAX_EVENTS = 200;
  const MAX_SAMPLES = 40;

  const log = (text) => {
    const line = `+${Math.round(performance.now() - t0)}ms ${text}`;
    if (st.events.length < MAX_EVENTS) st.events.push(line);
    console.log(`[harness] ${line}`);
  };
  const describe = (e) => {
    if (e === null || e === undefined) return String(e);
    if (typeof e === 'string') return e;
    if (e instanceof Error) return e.message;
    if (e.message !== undefined || e.code !== undefined) return `${e.code ?? ''} ${e.message ?? ''}`.trim();
    try { return JSON.stringify(e); } catch { return String(e); }
  };
  const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
  const ENDED = ['hangup', 'destroy', 'purge'];

  // What the user hears. A WebAudio tap (an AudioWorklet that passes each 128-sample block
  // through to the page) records a stream's audio until `seconds` of it are in; the result
  // is 16-bit PCM at 48 kHz in base64, with the stream's live track counts.
  const TAP = 'registerProcessor("tap", class extends AudioWorkletProcessor {' +
    ' process(inputs) { const ch = inputs[0] && inputs[0][0]; if (ch) this.port.postMessage(ch.slice(0)); return true; } });';
  const tapURL = URL.createObjectURL(new Blob([TAP], { type: 'text/javascript' }));
  const record = async (stream, seconds, until) => {
    const live = (kind) => (stream ? stream.getTracks().filter((t) => t.kind === kind && t.readyState === 'live').length : 0);
    const out = { audioTracks: live('audio'), videoTracks: live('video'), sampleRate: 0, samples: 0, pcm: '' };
    if (out.audioTracks === 0) return out;
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
        const block = e.data;
        for (let i = 0; i < block.length && n < want; i++) {
          pcm[n++] = Math.max(-32768, Math.min(32767, Math.round(block[i] * 32767)));
        }
      };
      src.connect(tap);
      await until(() => n >= want, `${seconds} s of audio from the remote stream`);
      src.disconnect();
      tap.port.onmessage = null;
      out.sampleRate = ctx.sampleRate;
      out.samples = n;
      const bytes = new Uint8Array(pcm.buffer);
      let bin = '';
      for (let i = 0; i < bytes.length; i += 0x8000) bin += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
      out.pcm = btoa(bin);
    } finally {
      await ctx.close();
    }
    return out;
  };
  // measureMuted mutes the microphone (track.enabled = false, as a user's mute button does)
  // for ms and records how many audio packets a second the browser sent meanwhile, and the
  // Opus format line of the server's description: with usedtx=1 there, a muted browser sends
  // a comfort-noise frame every 400 ms instead of 50 packets a second.
  const measureMuted = async (pc, ms) => {
    const sent = async () => {
      let n = 0;
      (await pc.getStats()).forEach((r) => {
        if (r.type === 'outbound-rtp' && (r.kind || r.mediaType) === 'audio') n += r.packetsSent || 0;
      });
      return n;
    };
    const lines = ((pc.remoteDescription && pc.remoteDescription.sdp) || '').split(/\r?\n/);
    const opus = lines.map((l) => /^a=rtpmap:(\d+) opus\//i.exec(l)).find(Boolean);
    st.opusFmtp = opus ? (lines.find((l) => l.startsWith(`a=fmtp:${opus[1]} `)) || '') : '';
    const mics = pc.getSenders().map((s) => s.track).filter((t) => t && t.kind === 'audio');
    mics.forEach((t) => { t.enabled = false; });
    await sleep(1000); // the encoder settles into the silence
    const n0 = await sent();
    const start = performance.now();
    await sleep(ms);
    const n1 = await sent();
    st.mutedPacketsPerSecond = (n1 - n0) * 1000 / (performance.now() - start);
    mics.forEach((t) => { t.enabled = true; });
    log(`muted for ${ms}ms: ${st.mutedPacketsPerSecond.toFixed(1)} audio packets/s sent; ${st.opusFmtp}`);
  };

  // inboundAudio is the audio bytes pc has received so far.
  const inboundAudio = async (pc) => {
    let bytes = 0;
    (await pc.getStats()).forEach((r) => {
      if (r.type === 'inbound-rtp' && (r.kind || r.mediaType) === 'audio') bytes += r.bytesReceived || 0;
    });
    return bytes;
  };

  window.runHarness = async (o) => {
    const deadline = Date.now() + o.timeoutMs;
    const until = async (pred, what) => {
      while (!pred()) {
        if (Date.now() > deadline) throw new Error(`timeout waiting for ${what}`);
        await sleep(50);
      }
    };
    let client = null;
    let call = null;
    let loginError = '';
    let sawActive = false;
    let socketCloses = 0;
    try {
      if (typeof window.Verto !== 'function') throw new Error('global Verto missing: bundle not loaded');
      client = new window.Verto({ host: o.ws, login: o.login, passwd: o.passwd });
      window.__client = client;
      if (o.verbose) client.__logger.setLevel('debug'); // prints every SEND/RECV frame
      client.remoteElement = 'remoteVideo';
      client.localElement = 'localVideo';

      client.on('signalwire.socket.open', () => log('socket open'));
      client.on('signalwire.socket.close', (ev) => {
        socketCloses++;
        log(`socket close code=${ev && ev.code} reason=${(ev && ev.reason) || ''}`);
      });
      client.on('signalwire.socket.error', () => log('socket error'));
      client.on('signalwire.ready', () => {
        st.loggedIn = true;
        st.sessid = client.sessionid || '';
        log(`ready sessid=${st.sessid}`);
      });
      client.on('signalwire.error', (e) => {
        log(`error ${describe(e)}`);
        if (!st.loggedIn && !loginError) loginError = describe(e);
      });
      client.on('signalwire.notification', (n) => {
        switch (n.type) {
          case 'callUpdate':
            if (call && n.call && n.call.id !== call.id) return;
            st.callState = n.call.state;
            if (n.call.state === 'active') sawActive = true;
            log(`callUpdate ${n.call.prevState}->${n.call.state}` +
              (ENDED.includes(n.call.state) ? ` cause=${n.call.cause || ''}/${n.call.causeCode || ''}` : ''));
            break;
          case 'conferenceUpdate': {
            let extra = '';
            if (n.action === 'bootstrap') extra = ` participants=${(n.participants || []).length}`;
            if (n.action === 'join') extra = ` conference=${n.conferenceName} participantId=${n.participantId} role=${n.role}`;
            log(`conferenceUpdate ${n.action}${extra}`);
            break;
          }
          case 'vertoClientReady':
            log(`vertoClientReady reattached_sessions=${JSON.stringify(n.reattached_sessions || [])}`);
            break;
          case 'participantData':
            log(`participantData ${n.displayName || ''} <${n.displayNumber || ''}>`);
            break;
          case 'userMediaError':
            log(`userMediaError ${describe(n.error)}`);
            break;
          default:
            log(`notification ${n.type}`);
        }
      });

      log(`connect ${o.ws} as ${o.login}`);
      client.connect();
      await until(() => st.loggedIn || loginError, 'login (signalwire.ready)');
      if (!st.loggedIn) throw new Error(`login failed: ${loginError}`);

      call = client.newCall({ destinationNumber: o.dest, audio: true, video: true });
      window.__call = call;
      st.callID = call.id;
      log(`newCall ${o.dest} callID=${call.id}`);
      await until(() => sawActive || ENDED.includes(st.callState), 'the call to become active');
      if (!sawActive) throw new Error(`call ended before it was answered (state ${st.callState}, cause ${call.cause || ''})`);

      // 1.5.0 keeps its RTCPeerConnection at call.peer.instance (Peer wraps it).
      for (;;) {
        const pc = call.peer && call.peer.instance;
        if (!pc) throw new Error(`peer connection gone (call state ${st.callState})`);
        const report = await pc.getStats();
        let vBytes = 0;
        let aBytes = 0;
        let frames = 0;
        let size = '';
        report.forEach((r) => {
          if (r.type !== 'inbound-rtp') return;
          const kind = r.kind || r.mediaType;
          if (kind === 'video') {
            vBytes += r.bytesReceived || 0;
            frames += r.framesDecoded || 0;
            if (r.frameWidth) size = `${r.frameWidth}x${r.frameHeight}`;
          } else if (kind === 'audio') {
            aBytes += r.bytesReceived || 0;
          }
        });
        st.inboundVideoBytes.push(vBytes);
        st.inboundAudioBytes.push(aBytes);
        if (st.inboundVideoBytes.length > MAX_SAMPLES) st.inboundVideoBytes.shift();
        if (st.inboundAudioBytes.length > MAX_SAMPLES) st.inboundAudioBytes.shift();
        st.framesDecoded = frames;
        if (size) st.videoFrameSize = size;
        console.log(`[harness] stats video=${vBytes}B frames=${frames} audio=${aBytes}B ice=${pc.iceConnectionState}`);
        const v = st.inboundVideoBytes;
        // Two non-zero samples in a row that still grow: video is flowing, not a single burst.
        if (v.length >= 2 && v[v.length - 2] > 0 && v[v.length - 1] > v[v.length - 2] && frames > 0) break;
        if (ENDED.includes(st.callState)) throw new Error(`call ended while waiting for video (state ${st.callState}, cause ${call.cause || ''})`);
        if (Date.now() > deadline) throw new Error('timeout waiting for inbound video (bytesReceived growing and framesDecoded > 0)');
        await sleep(500);
      }
      log(`video flowing: bytes=${st.inboundVideoBytes.slice(-2).join('->')} framesDecoded=${st.framesDecoded}`);
      st.ok = true;
      // 1.5.0 sets call.options.remoteStream from the 'track' event's streams[0]. If the
      // answer SDP has no a=msid stream id, streams[] is empty and the app would show no
      // remote video. Record that, and show the receiver tracks anyway for the screenshot.
      st.remoteStream = Boolean(call.options.remoteStream);
      if (!st.remoteStream) {
        log('warning: call.options.remoteStream is unset (answer tracks carry no msid stream)');
        const pc = call.peer.instance;
        const el = document.getElementById('remoteVideo');
        el.srcObject = new MediaStream(pc.getReceivers().map((r) => r.track).filter((t) => t && t.kind === 'video'));
        await sleep(300);
      }
      if (o.mutedMs > 0) await measureMuted(call.peer.instance, o.mutedMs);
      // Let the Node side take the screenshot while the call is still up.
      if (typeof window.__harnessMediaOk === 'function') await window.__harnessMediaOk(call.id);
      if (o.hear) {
        st.heard = {};
        // hear records step's stream once pc has received audio since the step began.
        const hear = async (step, pc, stream) => {
          const from = await inboundAudio(pc);
          while ((await inboundAudio(pc)) <= from) {
            if (Date.now() > deadline) throw new Error(`timeout waiting for audio packets on ${step}`);
            await sleep(100);
          }
          st.heard[step] = await record(stream(), 2, until);
          log(`heard ${step}: ${st.heard[step].audioTracks} audio and ${st.heard[step].videoTracks} video tracks, ${st.heard[step].samples} samples`);
        };
        const remote = () => document.getElementById('remoteVideo').srcObject;
        await hear('answer', call.peer.instance, remote);

        // verto.modify updateMedia: a re-offer of the same media on the SDK's PeerConnection
        // (1.5.0 has no method for it; the session's execute sends any Verto request).
        const pc = call.peer.instance;
        await pc.setLocalDescription(await pc.createOffer());
        await until(() => pc.iceGatheringState === 'complete', 'ICE gathering for the re-offer');
        const res = await client.execute({ request: { jsonrpc: '2.0', id: crypto.randomUUID(), method: 'verto.modify',
          params: { sessid: client.sessionid, action: 'updateMedia', sdp: pc.localDescription.sdp, dialogParams: { callID: call.id } } } });
        if (!res || !res.sdp) throw new Error(`updateMedia result without sdp: ${JSON.stringify(res)}`);
        await pc.setRemoteDescription({ type: 'answer', sdp: res.sdp });
        log('updateMedia answered');
        await hear('updateMedia', pc, remote);

        // Reattach: the socket drops; the SDK reconnects with its sessid, confd sends
        // verto.attach, and the SDK answers it on a new Call with the same id.
        const old = call;
        client.connection._wsClient.close();
        await until(() => client.calls[old.id] && client.calls[old.id] !== old && client.calls[old.id].state === 'active',
          'the call to be reattached and active');
        call = client.calls[old.id];
        window.__call = call;
        log('call reattached');
        await hear('reattach', call.peer.instance, remote);

        // Screen share: a second call to <room>-screen; the SDK keeps its remote stream on
        // the screen call itself (no element).
        const screen = await call.startScreenShare();
        await until(() => screen.state === 'active' || ENDED.includes(screen.state), 'the screen-share call');
        if (screen.state !== 'active') throw new Error(`screen-share call ended (${screen.state})`);
        log('screen share active');
        await until(() => screen.options.remoteStream, 'the screen call\'s remote stream');
        await hear('screen', screen.peer.instance, () => screen.options.remoteStream);
        screen.hangup();
      }
      if (o.holdMs > 0) {
        log(`holding the call for ${o.holdMs}ms`);
        const holdEnd = Date.now() + o.holdMs;
        while (Date.now() < holdEnd && !ENDED.includes(st.callState)) await sleep(100);
        if (ENDED.includes(st.callState)) {
          st.ok = false;
          throw new Error(`call ended during --hold-ms (state ${st.callState})`);
        }
      }
    } catch (err) {
      st.ok = false;
      st.error = describe(err);
      log(`failed: ${st.error}`);
    }
    st.socketCloses = socketCloses;
    // callState is the state when the verdict was made (e.g. "active"); finalCallState is
    // the state after the harness's own hangup below.
    const verdictState = st.callState;
    // Tidy up: hang up (verto.bye) and close the websocket, with bounded waits.
    try {
      if (call && !ENDED.includes(call.state)) {
        log('hangup');
        call.hangup();
        const stop = Date.now() + 3000;
        while (call.state !== 'destroy' && Date.now() < stop) await sleep(50);
      }
      if (client) {
        await Promise.race([client.disconnect(), sleep(1000)]);
        log('disconnected');
      }
    } catch (err) {
      log(`cleanup error: ${describe(err)}`);
    }
    st.finalCallState = st.callState;
    st.callState = verdictState;
    return st;
  };
}

const PAGE = `<!doctype html>
<html><head><meta charset="utf-8"><title>confd signalwire harness</title>
<style>body{margin:0;background:#222;color:#eee;font:12px sans-serif}video{width:480px;height:270px;background:#000}</style>
</head><body>
<video id="remoteVideo" autoplay playsinline></video>
<video id="localVideo" autoplay playsinline muted></video>
<script src="/signalwire.js"></script>
<script>(${installHarness.toString()})();</script>
</body></html>
`;

// ---------------------------------------------------------------------------------------------
// Node side.

function serveHarness(bundlePath) {
  const bundle = fs.readFileSync(bundlePath);
  const server = http.createServer((req, res) => {
    const url = (req.url || '/').split('?')[0];
    if (url === '/') {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
      res.end(PAGE);
    } else if (url === '/signalwire.js') {
      res.writeHead(200, { 'content-type': 'text/javascript; charset=utf-8', 'cache-control': 'no-store' });
      res.end(bundle);
    } else if (url === '/favicon.ico') {
      res.writeHead(204);
      res.end();
    } else {
      res.writeHead(404, { 'content-type': 'text/plain' });
      res.end('not found');
    }
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve(server));
  });
}

function withTimeout(promise, ms, what) {
  let timer;
  return Promise.race([
    promise,
    new Promise((_, reject) => { timer = setTimeout(() => reject(new Error(`${what} timed out after ${ms}ms`)), ms); }),
  ]).finally(() => clearTimeout(timer));
}

let browser = null;
let page = null;
let server = null;
let cleaning = null;
let screenshotTaken = false;

async function cleanup() {
  if (cleaning) return cleaning;
  cleaning = (async () => {
    if (browser) {
      // browser.close() kills chromium if it does not exit by itself; bound it anyway.
      await withTimeout(browser.close(), 10000, 'browser.close').catch((e) => note(e.message));
    }
    if (server) {
      server.closeAllConnections();
      await withTimeout(new Promise((r) => server.close(r)), 2000, 'http server close').catch(() => {});
    }
  })();
  return cleaning;
}

async function main() {
  const require = createRequire(import.meta.url);
  const bundlePath = require.resolve('@signalwire/js'); // "main": dist/index.min.js
  server = await serveHarness(bundlePath);
  const port = server.address().port;
  note(`serving harness page on http://localhost:${port}/ (bundle ${bundlePath})`);

  browser = await chromium.launch({
    executablePath: opts.chromium,
    headless: true,
    // The remote element plays its sound without a click, as on a page the user clicked
    // to call from; Chromium's fake capture answers getDisplayMedia for the screen share.
    args: [...CHROMIUM_FLAGS, '--autoplay-policy=no-user-gesture-required', '--auto-select-desktop-capture-source=Entire screen'],
    timeout: 30000,
    // Signals are handled below so that the JSON line is still printed.
    handleSIGINT: false,
    handleSIGTERM: false,
    handleSIGHUP: false,
  });
  result.chromiumVersion = browser.version();
  note(`chromium ${browser.version()} launched`);
  browser.on('disconnected', () => note('browser disconnected'));

  const context = await browser.newContext({ viewport: { width: 1000, height: 300 } });
  page = await context.newPage();
  page.on('console', (m) => process.stderr.write(`[browser ${m.type()}] ${m.text()}\n`));
  page.on('pageerror', (e) => {
    process.stderr.write(`[browser pageerror] ${e.message}\n`);
    if (result.events.length < 200) result.events.push(`pageerror ${e.message}`);
  });
  page.on('crash', () => note('page crashed'));

  // Called by the page once video flows, before it hangs up.
  // It also prints a marker line on stderr that a Go test can wait for (with --hold-ms).
  await page.exposeBinding('__harnessMediaOk', async (_source, callID) => {
    note(`media-ok callID=${callID}`);
    if (!opts.screenshot) return;
    await withTimeout(page.screenshot({ path: opts.screenshot }), 10000, 'screenshot')
      .then(() => { screenshotTaken = true; note(`screenshot written to ${opts.screenshot}`); })
      .catch((e) => note(`screenshot failed: ${e.message}`));
  });

  await page.goto(`http://localhost:${port}/`, { waitUntil: 'load', timeout: 15000 });
  const hasVerto = await page.evaluate(() => typeof window.Verto === 'function' && typeof window.runHarness === 'function');
  if (!hasVerto) throw new Error('page did not load the Verto bundle or the harness');

  const pageOpts = {
    ws: opts.ws, login: opts.login, passwd: opts.passwd, dest: opts.dest,
    timeoutMs: opts.timeoutMs, holdMs: opts.holdMs, mutedMs: opts.mutedMs, hear: opts.hear, verbose: opts.verbose,
  };
  // The page enforces timeoutMs itself; the extra margin covers --hold-ms and the hangup.
  let st;
  try {
    st = await withTimeout(page.evaluate((o) => window.runHarness(o), pageOpts),
      opts.timeoutMs + opts.holdMs + opts.mutedMs + 10000, 'harness');
  } catch (err) {
    note(`harness did not finish: ${err.message}`);
    st = await withTimeout(page.evaluate(() => window.__harnessState), 2000, 'state read').catch(() => null);
    if (st) { st.ok = false; st.error = st.error || err.message; } else { fail(err.message); }
  }
  mergePageState(st);
  if (opts.screenshot && !screenshotTaken) {
    // Failure path: a picture of whatever the page shows now.
    await withTimeout(page.screenshot({ path: opts.screenshot }), 10000, 'screenshot')
      .then(() => note(`screenshot written to ${opts.screenshot}`))
      .catch((e) => note(`screenshot failed: ${e.message}`));
  }
}

if (!printed) {
  // Hard stop: whatever hangs, print and leave. Playwright kills chromium on process exit.
  const watchdogMs = opts.timeoutMs + opts.holdMs + opts.mutedMs + 60000;
  setTimeout(() => {
    fail(`watchdog: no result after ${watchdogMs}ms`);
    finish(1);
  }, watchdogMs).unref();

  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
    process.on(sig, () => {
      note(`got ${sig}`);
      const snapshot = page
        ? withTimeout(page.evaluate(() => window.__harnessState), 1500, 'state read').catch(() => null)
        : Promise.resolve(null);
      snapshot
        .then((st) => {
          mergePageState(st);
          result.ok = false;
          result.error = `terminated by ${sig}` + (result.error ? ` (${result.error})` : '');
        })
        .then(() => withTimeout(cleanup(), 5000, 'cleanup').catch(() => {}))
        .finally(() => finish(1));
    });
  }

  main()
    .catch((err) => { fail(err && err.message ? err.message : String(err)); result.ok = false; })
    .then(() => cleanup())
    .finally(() => finish(result.ok ? 0 : 1));
}
