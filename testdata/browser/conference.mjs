#!/usr/bin/env node
// conference.mjs: two @signalwire/js 1.5.0 clients in one headless Chromium (two browser
// contexts, so two localStorage areas and two Verto sessids) meet in a conference and use its
// participant list, chat and moderator commands.
//
//   node conference.mjs --ws ws://127.0.0.1:8080/verto \
//        --mod-login 1000@localhost --mod-passwd 1234 --part-login 1001@localhost --part-passwd 5678 \
//        [--dest 3500] [--mod-name 'Alice (moderator)'] [--part-name 'Bob (participant)'] \
//        [--timeout-ms 90000] [--chromium /usr/bin/chromium] [--audio-file tone.wav] [--sync] \
//        [--dump-frames] [--verbose]
//
// The scenario, A being the moderator and B the participant:
//   1. A and B log in; A calls --dest (audio and video) and disables its own microphone track
//      (so that only B's microphone can be heard in the room); then B calls.
//   2. Both participant lists (conferenceUpdate join → bootstrap → add/modify/delete) show A
//      and B under their names.                                         sync point "unmuted"
//   3. B sends a chat message; both receive it (conferenceUpdate chatMessage).
//   4. A mutes B with the moderator API (call.muteMic(id): conf-control tmute); B's row shows
//      audio.muted in both lists.                                       sync point "muted"
//   5. A locks the video floor onto itself, then forces it onto B (call.videoFloor(id):
//      vid-floor force); B's row shows video.floor and video.floorLocked in A's list, A's row
//      neither.                                                         sync point "floor"
//   6. A kicks B (call.kick(id)); B's call ends (hangup, destroy) and B's row leaves A's
//      list.                                                            sync point "kicked"
//   7. A hangs up; both disconnect.
//
// At each sync point the script writes "[conference] sync <step> <json>" on stderr. With
// --sync it then waits for a line "<step>" on stdin, so that a Go test can look at the server
// (and listen to the room) while the browsers hold still.
//
// stdout gets exactly one JSON line (see README.md); the exit status is 0 when "ok" is true,
// 1 otherwise and 2 for bad flags. Everything else goes to stderr.

import { parseArgs } from 'node:util';
import http from 'node:http';
import fs from 'node:fs';
import readline from 'node:readline';
import { createRequire } from 'node:module';
import { chromium } from 'playwright-core';
import { CHROMIUM_FLAGS } from './chromium_flags.mjs';


const USAGE = 'usage: node conference.mjs --ws URL --mod-login USER --mod-passwd PW ' +
  '--part-login USER --part-passwd PW [--dest 3500] [--mod-name NAME] [--part-name NAME] ' +
  '[--timeout-ms 90000] [--chromium PATH] [--audio-file WAV] [--sync] [--dump-frames] [--verbose]';

// Longest single wait (a step); the whole run is bounded by --timeout-ms as well.
const STEP_MS = 30000;

const out = {
  ok: false,
  error: '',
  step: '',
  chromiumVersion: '',
  chat: '',
  clients: {},
  events: [],
};
let printed = false;

function note(msg) {
  process.stderr.write(`[conference] ${msg}\n`);
}

function event(msg) {
  if (out.events.length < 300) out.events.push(`${new Date().toISOString().slice(11, 23)} ${msg}`);
  note(msg);
}

function emit(code) {
  if (printed) return;
  printed = true;
  if (!out.ok && !out.error) out.error = 'unknown failure';
  process.stdout.write(JSON.stringify(out) + '\n', () => process.exit(code));
  setTimeout(() => process.exit(code), 2000).unref();
}

let opts;
try {
  const { values } = parseArgs({
    options: {
      ws: { type: 'string' },
      'mod-login': { type: 'string' },
      'mod-passwd': { type: 'string' },
      'part-login': { type: 'string' },
      'part-passwd': { type: 'string' },
      dest: { type: 'string', default: '3500' },
      'mod-name': { type: 'string', default: 'Alice (moderator)' },
      'part-name': { type: 'string', default: 'Bob (participant)' },
      'timeout-ms': { type: 'string', default: '90000' },
      chromium: { type: 'string', default: '/usr/bin/chromium' },
      'audio-file': { type: 'string', default: '' },
      sync: { type: 'boolean', default: false },
      'dump-frames': { type: 'boolean', default: false },
      verbose: { type: 'boolean', default: false },
    },
    strict: true,
    allowPositionals: false,
  });
  opts = {
    ws: values.ws,
    dest: values.dest,
    timeoutMs: Number(values['timeout-ms']),
    chromium: values.chromium,
    audioFile: values['audio-file'],
    sync: values.sync,
    dumpFrames: values['dump-frames'],
    verbose: values.verbose,
    A: { login: values['mod-login'], passwd: values['mod-passwd'], name: values['mod-name'] },
    B: { login: values['part-login'], passwd: values['part-passwd'], name: values['part-name'] },
  };
  if (!opts.ws || !/^wss?:\/\//.test(opts.ws)) throw new Error('--ws must be a ws:// or wss:// URL');
  for (const k of ['A', 'B']) {
    const c = opts[k];
    if (!c.login || c.passwd === undefined) throw new Error('--mod-login/--mod-passwd and --part-login/--part-passwd are required');
    c.number = c.login.split('@')[0];
  }
  if (opts.A.name === opts.B.name) throw new Error('--mod-name and --part-name must differ');
  if (!Number.isFinite(opts.timeoutMs) || opts.timeoutMs <= 0) throw new Error('--timeout-ms must be a positive number');
  if (opts.audioFile && !fs.existsSync(opts.audioFile)) throw new Error(`--audio-file ${opts.audioFile} does not exist`);
} catch (err) {
  out.error = `bad arguments: ${err.message}; ${USAGE}`;
  printed = true;
  process.stdout.write(JSON.stringify(out) + '\n', () => process.exit(2));
}

// ---------------------------------------------------------------------------------------------
// Page side: pageMain is serialised into the page and runs in Chromium. It must run before the
// SDK bundle loads, because the SDK keeps a reference to window.WebSocket at load time and the
// frame tap below replaces it.

function pageMain() {
  const t0 = performance.now();
  const ENDED = ['hangup', 'destroy', 'purge'];
  const since = () => Math.round(performance.now() - t0);
  const st = {
    login: '',
    loggedIn: false,
    sessid: '',
    callID: '',
    memberID: 0,
    role: '',
    conference: '',
    bootstrapped: false,
    callState: '',
    callStates: [],
    cause: '',
    causeCode: '',
    chats: [],
    modResponses: [],
    actions: {},
    leave: null,
    socketCloses: 0,
    log: [],
    frames: [],
  };
  // The participant list: callId → row, kept from the SDK's conferenceUpdate notifications.
  const rows = new Map();
  // Updates seen between 'join' and 'bootstrap'. The SDK announces join when bootObj arrives,
  // then awaits its chat/info/mod subscriptions and only then dispatches bootstrap; live-array
  // events that arrive meanwhile are dispatched first although they are newer than bootObj.
  let sinceJoin = null;
  let client = null;
  let call = null;
  let loginError = '';
  let sawActive = false;

  const keep = (arr, item, max) => {
    arr.push(item);
    if (arr.length > max) arr.shift();
  };
  const log = (text) => {
    keep(st.log, `+${since()}ms ${text}`, 300);
    console.log(`[page] +${since()}ms ${text}`);
  };
  const describe = (e) => {
    if (e === null || e === undefined) return String(e);
    if (typeof e === 'string') return e;
    if (e instanceof Error) return e.message;
    if (e.message !== undefined || e.code !== undefined) return `${e.code ?? ''} ${e.message ?? ''}`.trim();
    try { return JSON.stringify(e); } catch { return String(e); }
  };
  const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
  const until = async (pred, ms, what) => {
    const stop = Date.now() + ms;
    while (!pred()) {
      if (Date.now() > stop) throw new Error(`timeout (${ms}ms) waiting for ${what}`);
      await sleep(50);
    }
  };

  // Frame tap: the last frames each way, SDP cut short.
  const tap = (dir, data) => {
    let s = typeof data === 'string' ? data : '[binary]';
    s = s.replace(/"sdp":"(?:[^"\\]|\\.)*"/g, '"sdp":"…"');
    if (s.length > 700) s = s.slice(0, 700) + '…';
    keep(st.frames, `+${since()}ms ${dir} ${s}`, 400);
  };
  const NativeWebSocket = window.WebSocket;
  window.WebSocket = class TappedWebSocket extends NativeWebSocket {
    constructor(...args) {
      super(...args);
      this.addEventListener('message', (e) => tap('<-', e.data));
    }
    send(data) {
      tap('->', data);
      return super.send(data);
    }
  };

  const view = (p) => {
    const media = p.media || {};
    const audio = media.audio || {};
    const video = media.video || null;
    return {
      id: p.participantId,
      callId: p.callId,
      name: p.participantName,
      number: p.participantNumber,
      audioMuted: Boolean(audio.muted),
      talking: Boolean(audio.talking),
      video: Boolean(video),
      videoMuted: Boolean(video && video.muted),
      videoFloor: Boolean(video && video.floor),
      floorLocked: Boolean(video && video.floorLocked),
    };
  };
  const apply = (u) => {
    switch (u.action) {
      case 'add':
      case 'modify':
        rows.set(u.row.callId, u.row);
        break;
      case 'delete':
        rows.delete(u.row.callId);
        break;
      case 'clear':
        rows.clear();
        break;
    }
  };

  const onNotification = (n) => {
    if (n.type === 'callUpdate') {
      if (!call || !n.call || n.call.id !== call.id) return;
      const s = n.call.state;
      st.callState = s;
      st.callStates.push(s);
      if (s === 'active') sawActive = true;
      if (ENDED.includes(s)) {
        st.cause = n.call.cause || '';
        st.causeCode = String(n.call.causeCode || '');
      }
      log(`callUpdate ${n.call.prevState}->${s}${ENDED.includes(s) ? ` cause=${st.cause}/${st.causeCode}` : ''}`);
      return;
    }
    if (n.type !== 'conferenceUpdate') {
      log(`notification ${n.type}`);
      return;
    }
    if (call && n.call && n.call.id !== call.id) return;
    st.actions[n.action] = (st.actions[n.action] || 0) + 1;
    switch (n.action) {
      case 'join':
        st.memberID = n.participantId;
        st.role = n.role;
        st.conference = n.conferenceName;
        sinceJoin = [];
        log(`conferenceUpdate join conference=${n.conferenceName} participantId=${n.participantId} role=${n.role}`);
        break;
      case 'bootstrap': {
        rows.clear();
        for (const p of n.participants || []) rows.set(p.callId, view(p));
        const replay = sinceJoin || [];
        replay.forEach(apply);
        sinceJoin = null;
        st.bootstrapped = true;
        log(`conferenceUpdate bootstrap participants=${(n.participants || []).length} replayed=${replay.length}`);
        break;
      }
      case 'add':
      case 'modify':
      case 'delete':
      case 'clear': {
        const u = { action: n.action, row: n.action === 'clear' ? null : view(n) };
        if (sinceJoin) sinceJoin.push(u);
        apply(u);
        const r = u.row;
        log(`conferenceUpdate ${n.action}` + (r ? ` ${r.id} "${r.name}" muted=${r.audioMuted} floor=${r.videoFloor} locked=${r.floorLocked}` : ''));
        break;
      }
      case 'chatMessage':
        st.chats.push({
          id: n.messageId,
          direction: n.direction,
          from: n.participantNumber,
          name: n.participantName,
          text: n.messageText,
          type: n.messageType,
        });
        log(`conferenceUpdate chatMessage from=${n.participantNumber} name=${n.participantName} text=${n.messageText}`);
        break;
      case 'modCommandResponse':
        st.modResponses.push({ command: n.command, response: n.response });
        log(`conferenceUpdate modCommandResponse ${n.command} -> ${JSON.stringify(n.response)}`);
        break;
      case 'leave':
        st.leave = { conference: n.conferenceName, participantId: n.participantId, role: n.role };
        log(`conferenceUpdate leave participantId=${n.participantId}`);
        break;
      default:
        log(`conferenceUpdate ${n.action}`);
    }
  };

  const list = () => Array.from(rows.values());

  window.h = {
    raw: st,
    list,
    row: (callId) => rows.get(callId) || null,
    hasChat: () => Boolean(call && typeof call.sendChatMessage === 'function'),
    hasMod: () => Boolean(call && typeof call.muteMic === 'function' && typeof call.kick === 'function' &&
      typeof call.videoFloor === 'function'),
    ended: () => ENDED.includes(st.callState),
    state: () => Object.assign({}, st, {
      list: list(),
      hasChat: window.h.hasChat(),
      hasMod: window.h.hasMod(),
    }),

    async connect(o) {
      st.login = o.login;
      client = new window.Verto({ host: o.ws, login: o.login, passwd: o.passwd });
      window.__client = client;
      if (o.verbose) client.__logger.setLevel('debug');
      client.remoteElement = 'remoteVideo';
      client.localElement = 'localVideo';
      client.on('signalwire.ready', () => {
        st.loggedIn = true;
        st.sessid = client.sessionid || '';
        log(`ready sessid=${st.sessid}`);
      });
      client.on('signalwire.error', (e) => {
        log(`error ${describe(e)}`);
        if (!st.loggedIn && !loginError) loginError = describe(e) || 'error';
      });
      client.on('signalwire.socket.close', (ev) => {
        st.socketCloses++;
        log(`socket close code=${ev && ev.code}`);
      });
      client.on('signalwire.notification', onNotification);
      log(`connect ${o.ws} as ${o.login}`);
      client.connect();
      await until(() => st.loggedIn || loginError, o.timeoutMs, 'login (signalwire.ready)');
      if (!st.loggedIn) throw new Error(`login as ${o.login} failed: ${loginError}`);
      return st.sessid;
    },

    async dial(o) {
      call = client.newCall({
        destinationNumber: o.dest,
        callerName: o.name,
        callerNumber: o.number,
        audio: o.audio,
        video: true,
      });
      window.__call = call;
      st.callID = call.id;
      log(`newCall ${o.dest} callID=${call.id} as "${o.name}"`);
      await until(() => sawActive || ENDED.includes(st.callState), o.timeoutMs, 'the call to become active');
      if (!sawActive) throw new Error(`call ended before it was answered (state ${st.callState}, cause ${st.cause})`);
      return call.id;
    },

    // Disables the local microphone track (BaseCall.muteAudio: no signalling).
    muteLocalMic() {
      call.muteAudio();
      const tracks = call.localStream ? call.localStream.getAudioTracks() : [];
      log(`local microphone disabled (${tracks.length} track(s), enabled=${tracks.map((t) => t.enabled).join(',')})`);
      return tracks.length > 0 && tracks.every((t) => !t.enabled);
    },

    sendChat(text) {
      if (!window.h.hasChat()) throw new Error('call.sendChatMessage is missing: the chat subscription did not succeed');
      log(`sendChatMessage ${text}`);
      call.sendChatMessage(text, 'message');
    },

    // Runs one of the moderator methods the SDK adds to the call once the mod channel
    // subscription succeeded (muteMic, videoFloor, kick, …) on a member id.
    mod(method, memberID) {
      if (!call || typeof call[method] !== 'function') {
        throw new Error(`call.${method} is missing: the moderator channel subscription did not succeed`);
      }
      log(`moderator ${method}(${memberID})`);
      call[method](memberID);
    },

    async hangup() {
      if (call && !ENDED.includes(st.callState)) {
        log('hangup');
        call.hangup();
        await until(() => st.callState === 'destroy', 5000, 'destroy after hangup').catch((e) => log(e.message));
      }
    },

    async disconnect() {
      if (client) {
        await Promise.race([client.disconnect(), sleep(1500)]);
        log('disconnected');
      }
    },
  };
}

const PAGE = `<!doctype html>
<html><head><meta charset="utf-8"><title>confd conference harness</title>
<style>body{margin:0;background:#222}video{width:320px;height:180px;background:#000}</style>
</head><body>
<video id="remoteVideo" autoplay playsinline muted></video>
<video id="localVideo" autoplay playsinline muted></video>
<script>(${pageMain.toString()})();</script>
<script src="/signalwire.js"></script>
</body></html>
`;

// ---------------------------------------------------------------------------------------------
// Node side.

function serve(bundlePath) {
  const bundle = fs.readFileSync(bundlePath);
  const srv = http.createServer((req, res) => {
    const path = (req.url || '/').split('?')[0];
    if (path === '/') {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
      res.end(PAGE);
    } else if (path === '/signalwire.js') {
      res.writeHead(200, { 'content-type': 'text/javascript; charset=utf-8', 'cache-control': 'no-store' });
      res.end(bundle);
    } else if (path === '/favicon.ico') {
      res.writeHead(204);
      res.end();
    } else {
      res.writeHead(404);
      res.end();
    }
  });
  return new Promise((resolve, reject) => {
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => resolve(srv));
  });
}

function bounded(promise, ms, what) {
  let timer;
  return Promise.race([
    promise,
    new Promise((_, reject) => { timer = setTimeout(() => reject(new Error(`${what}: no answer after ${ms}ms`)), ms); }),
  ]).finally(() => clearTimeout(timer));
}

// Sync points: a marker on stderr, then (with --sync) a matching line on stdin.
const stdinLines = [];
const stdinWaiters = [];
let stdinClosed = false;
if (opts && opts.sync) {
  const rl = readline.createInterface({ input: process.stdin });
  rl.on('line', (line) => {
    stdinLines.push(line.trim());
    while (stdinWaiters.length) stdinWaiters.shift()();
  });
  rl.on('close', () => {
    stdinClosed = true;
    while (stdinWaiters.length) stdinWaiters.shift()();
  });
}

async function syncPoint(step, info) {
  note(`sync ${step} ${JSON.stringify(info)}`);
  if (!opts.sync) return;
  const stop = Date.now() + STEP_MS * 2;
  for (;;) {
    const i = stdinLines.indexOf(step);
    if (i >= 0) {
      stdinLines.splice(i, 1);
      return;
    }
    if (stdinClosed) throw new Error(`stdin closed at sync point ${step}`);
    const left = stop - Date.now();
    if (left <= 0) throw new Error(`no "${step}" on stdin after ${STEP_MS * 2}ms`);
    await new Promise((resolve) => {
      const t = setTimeout(resolve, left);
      stdinWaiters.push(() => { clearTimeout(t); resolve(); });
    });
  }
}

let browser = null;
let server = null;
const clients = {}; // 'A' | 'B' → { key, spec, page }
let deadline = 0;

function stepMs() {
  return Math.max(1000, Math.min(STEP_MS, deadline - Date.now()));
}

// Runs window.h[method](...args) in a client's page.
async function call(c, method, ...args) {
  const ms = stepMs() + 5000; // the page enforces its own, shorter, timeouts
  return bounded(c.page.evaluate(([m, a]) => window.h[m](...a), [method, args]), ms, `${c.key}.${method}`);
}

// Waits until pred (run in the page, with arg) holds.
async function waitOn(c, what, pred, arg) {
  event(`${c.key}: waiting for ${what}`);
  try {
    await c.page.waitForFunction(pred, arg, { timeout: stepMs(), polling: 100 });
  } catch (err) {
    throw new Error(`${c.key}: ${what}: ${err.message.split('\n')[0]}`);
  }
  event(`${c.key}: ${what}`);
}

async function snapshot(c) {
  return bounded(c.page.evaluate(() => window.h.state()), 3000, `${c.key} state`);
}

async function listOf(c) {
  return bounded(c.page.evaluate(() => window.h.list()), 3000, `${c.key} list`);
}

function step(name) {
  out.step = name;
  event(`step ${name}`);
}

async function scenario() {
  const A = clients.A;
  const B = clients.B;
  const lists = { A: {}, B: {} };
  out.lists = lists;
  // Without noise suppression and gain control a steady tone from --audio-file reaches the
  // server as it is; Chromium's audio processing would otherwise fade it out.
  const audio = { echoCancellation: false, noiseSuppression: false, autoGainControl: false };

  step('login');
  const sessids = await Promise.all([A, B].map((c) =>
    call(c, 'connect', { ws: opts.ws, login: c.spec.login, passwd: c.spec.passwd, timeoutMs: stepMs(), verbose: opts.verbose })));
  event(`sessids A=${sessids[0]} B=${sessids[1]}`);
  if (!sessids[0] || sessids[0] === sessids[1]) throw new Error(`the clients need distinct sessids, got ${sessids.join(' and ')}`);

  step('A calls');
  const callA = await call(A, 'dial', { dest: opts.dest, name: A.spec.name, number: A.spec.number, audio, timeoutMs: stepMs() });
  if (!await call(A, 'muteLocalMic')) throw new Error('A could not disable its microphone track');
  // B joins once A has its list, so that A learns of B by add/modify and B gets both in its
  // bootstrap.
  await waitOn(A, 'its own bootstrap', () => window.h.raw.bootstrapped);

  step('B calls');
  const callB = await call(B, 'dial', { dest: opts.dest, name: B.spec.name, number: B.spec.number, audio, timeoutMs: stepMs() });

  step('participant lists');
  const bothListed = ([nameA, idA, nameB, idB]) => {
    const a = window.h.row(idA);
    const b = window.h.row(idB);
    return window.h.raw.bootstrapped && a !== null && b !== null && a.name === nameA && b.name === nameB;
  };
  const listed = [A.spec.name, callA, B.spec.name, callB];
  await waitOn(A, 'A and B in the list', bothListed, listed);
  await waitOn(B, 'A and B in the list', bothListed, listed);
  await waitOn(A, 'moderator methods on the call', () => window.h.hasMod());
  await Promise.all([A, B].map((c) => waitOn(c, 'chat subscription', () => window.h.hasChat())));
  const stA = await snapshot(A);
  const stB = await snapshot(B);
  lists.A.joined = stA.list;
  lists.B.joined = stB.list;
  const idA = stA.memberID;
  const idB = stB.memberID;
  const rowBinA = stA.list.find((r) => r.callId === callB);
  const rowAinB = stB.list.find((r) => r.callId === callA);
  if (!idA || !idB || rowBinA.id !== idB || rowAinB.id !== idA) {
    throw new Error(`member ids disagree: A is ${idA} (B's list says ${rowAinB.id}), B is ${idB} (A's list says ${rowBinA.id})`);
  }
  const ids = { memberA: idA, memberB: idB, callA, callB };
  await syncPoint('unmuted', ids);

  step('chat');
  const text = `hello from ${B.spec.name} ${Math.random().toString(36).slice(2, 8)}`;
  out.chat = text;
  await call(B, 'sendChat', text);
  await Promise.all([A, B].map((c) =>
    waitOn(c, 'the chat message', (t) => window.h.raw.chats.some((m) => m.text === t), text)));

  step('mute');
  await call(A, 'mod', 'muteMic', idB);
  const rowIs = ([callId, key]) => {
    const r = window.h.row(callId);
    return r !== null && r[key] === true;
  };
  await Promise.all([A, B].map((c) => waitOn(c, "B's row audio muted", rowIs, [callB, 'audioMuted'])));
  await waitOn(A, 'the mute response', (id) =>
    window.h.raw.modResponses.some((r) => String(r.response || '').includes(`mute ${id}`)), idB);
  lists.A.muted = await listOf(A);
  lists.B.muted = await listOf(B);
  await syncPoint('muted', ids);

  step('video floor');
  // B talks, so B may hold the (unlocked) video floor already: lock it onto A first, then
  // force it onto B, so that it visibly moves.
  const lockedOn = ([holder, other]) => {
    const h = window.h.row(holder);
    const o = window.h.row(other);
    return h !== null && o !== null && h.videoFloor && h.floorLocked && !o.videoFloor && !o.floorLocked;
  };
  await call(A, 'mod', 'videoFloor', idA);
  await waitOn(A, "A's row video floor, locked", lockedOn, [callA, callB]);
  lists.A.floorA = await listOf(A);
  await call(A, 'mod', 'videoFloor', idB);
  await waitOn(A, "B's row video floor, locked", lockedOn, [callB, callA]);
  lists.A.floor = await listOf(A);
  lists.B.floor = await listOf(B);
  await syncPoint('floor', ids);

  step('kick');
  await call(A, 'mod', 'kick', idB);
  await waitOn(B, 'its call to end', () => window.h.raw.callState === 'destroy');
  await waitOn(A, 'B gone from the list', (callId) => window.h.row(callId) === null, callB);
  lists.A.kicked = await listOf(A);
  lists.B.kicked = await listOf(B);
  await syncPoint('kicked', ids);

  step('hangup');
  await call(A, 'hangup');
  out.ok = true;
  step('done');
}

async function collect(withFrames) {
  for (const c of Object.values(clients)) {
    const st = await snapshot(c).catch((e) => { note(`${c.key}: no state: ${e.message}`); return null; });
    if (!st) continue;
    const frames = st.frames;
    delete st.frames;
    st.frameCount = frames.length;
    delete st.log;
    out.clients[c.key] = st;
    if (withFrames) {
      for (const f of frames) process.stderr.write(`[${c.key} frame] ${f}\n`);
    }
  }
}

async function cleanup() {
  for (const c of Object.values(clients)) {
    await call(c, 'disconnect').catch(() => {});
  }
  if (browser) await bounded(browser.close(), 10000, 'browser.close').catch((e) => note(e.message));
  if (server) {
    server.closeAllConnections();
    await bounded(new Promise((r) => server.close(r)), 2000, 'server.close').catch(() => {});
  }
}

async function main() {
  deadline = Date.now() + opts.timeoutMs;
  const require = createRequire(import.meta.url);
  const bundlePath = require.resolve('@signalwire/js');
  server = await serve(bundlePath);
  const port = server.address().port;

  const args = CHROMIUM_FLAGS.slice();
  if (opts.audioFile) args.push(`--use-file-for-fake-audio-capture=${opts.audioFile}`);
  step('launch');
  browser = await chromium.launch({
    executablePath: opts.chromium,
    headless: true,
    args,
    timeout: 30000,
    handleSIGINT: false,
    handleSIGTERM: false,
    handleSIGHUP: false,
  });
  out.chromiumVersion = browser.version();
  browser.on('disconnected', () => note('browser disconnected'));
  for (const key of ['A', 'B']) {
    // One context per client: separate localStorage, where the SDK keeps its sessid.
    const context = await browser.newContext({ viewport: { width: 700, height: 200 } });
    const page = await context.newPage();
    page.on('console', (m) => process.stderr.write(`[${key} ${m.type()}] ${m.text()}\n`));
    page.on('pageerror', (e) => event(`${key} pageerror ${e.message}`));
    page.on('crash', () => event(`${key} page crashed`));
    await page.goto(`http://localhost:${port}/`, { waitUntil: 'load', timeout: 15000 });
    if (!await page.evaluate(() => typeof window.Verto === 'function' && typeof window.h === 'object')) {
      throw new Error(`${key}: the page did not load the SDK bundle or the harness`);
    }
    clients[key] = { key, spec: opts[key], page };
  }
  await scenario();
}

if (!printed) {
  const watchdogMs = opts.timeoutMs + 45000;
  setTimeout(() => {
    out.ok = false;
    out.error = out.error || `watchdog: no result after ${watchdogMs}ms`;
    emit(1);
  }, watchdogMs).unref();

  let stopping = false;
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
    process.on(sig, () => {
      if (stopping) return;
      stopping = true;
      note(`got ${sig}`);
      out.ok = false;
      out.error = `terminated by ${sig} during step ${out.step}` + (out.error ? ` (${out.error})` : '');
      bounded(collect(true), 4000, 'collect').catch(() => {})
        .then(() => bounded(cleanup(), 8000, 'cleanup').catch(() => {}))
        .finally(() => emit(1));
    });
  }

  main()
    .catch((err) => {
      out.ok = false;
      out.error = out.error || (err && err.message ? err.message : String(err));
      event(`failed in step ${out.step}: ${out.error}`);
    })
    .then(() => bounded(collect(!out.ok || opts.dumpFrames), 8000, 'collect').catch((e) => note(e.message)))
    .then(() => { if (!stopping) return bounded(cleanup(), 20000, 'cleanup').catch((e) => note(e.message)); })
    .finally(() => { if (!stopping) emit(out.ok ? 0 : 1); });
}
