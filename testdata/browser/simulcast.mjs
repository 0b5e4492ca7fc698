#!/usr/bin/env node
// simulcast.mjs: two Chromium pages against confd. The publisher sends its fake 1280x720
// camera as three VP8 simulcast encodings (rids q, h, f at scaleResolutionDownBy 4, 2, 1) and
// obeys confd.layers; the viewer receives one slot, tells confd its size (confd.slotSize),
// first small (320x180), then large (1280x720), and reads getStats for the frame width it
// decodes. In between, with nobody watching h and f, confd tells the publisher to send q
// alone (confd.layers) and later to resume f, which the viewer must then decode (1280 wide).
// Both pages speak a minimal Verto over a raw WebSocket and a raw RTCPeerConnection.
//
//   node simulcast.mjs --ws ws://127.0.0.1:8080/verto [--dest 3500] [--timeout-ms 90000]
//        [--chromium /usr/bin/chromium]
//
// stdout gets exactly one JSON line:
//   {"ok":bool,"smallWidth":n,"largeWidth":n,"framesDecoded":n,"widths":[…],
//    "publisher":{"q":{…},"h":{…},"f":{…}},"publisherEstimate":bps,"layersEvents":[…],
//    "events":[…],"error":"…"}
// The exit status is 0 when ok is true, 1 otherwise, 2 for bad flags. Everything else goes
// to stderr.

import { parseArgs } from 'node:util';
import http from 'node:http';
import { chromium } from 'playwright-core';
import { CHROMIUM_FLAGS } from './chromium_flags.mjs';


const result = {
  ok: false, smallWidth: 0, largeWidth: 0, framesDecoded: 0, widths: [], publisher: {}, publisherEstimate: 0,
  layersEvents: [], events: [], error: '',
};
let printed = false;
const t0 = Date.now();

function note(msg) {
  const line = `+${Date.now() - t0}ms ${msg}`;
  result.events.push(line);
  process.stderr.write(`[simulcast] ${line}\n`);
}

function finish(code) {
  if (printed) return;
  printed = true;
  if (!result.ok && !result.error) result.error = 'unknown failure';
  process.stdout.write(JSON.stringify(result) + '\n', () => process.exit(code));
  setTimeout(() => process.exit(code), 2000).unref();
}

let opts;
try {
  const { values } = parseArgs({
    options: {
      ws: { type: 'string' },
      dest: { type: 'string', default: '3500' },
      'timeout-ms': { type: 'string', default: '90000' },
      chromium: { type: 'string', default: '/usr/bin/chromium' },
    },
    strict: true,
  });
  opts = { ws: values.ws, dest: values.dest, timeoutMs: Number(values['timeout-ms']), chromium: values.chromium };
  if (!opts.ws || !/^wss?:\/\//.test(opts.ws)) throw new Error('--ws must be a ws:// URL');
} catch (err) {
  result.error = `bad arguments: ${err.message}`;
  printed = true;
  process.stdout.write(JSON.stringify(result) + '\n', () => process.exit(2));
}

// ---------------------------------------------------------------------------------------------
// Page side: serialised into the page, runs in Chromium.

function pageScript() {
  // A minimal Verto client: JSON-RPC requests with replies, server requests answered with an
  // empty result, events handed to onEvent.
  class Verto {
    constructor(url) {
      this.ws = new WebSocket(url);
      this.next = 1;
      this.waiting = new Map();
      this.onRequest = () => {};
      this.sessid = crypto.randomUUID();
      this.opened = new Promise((ok, fail) => {
        this.ws.onopen = ok;
        this.ws.onerror = () => fail(new Error('websocket error'));
      });
      this.ws.onmessage = (m) => this.#handle(JSON.parse(m.data));
    }
    request(method, params) {
      const id = this.next++;
      this.ws.send(JSON.stringify({ jsonrpc: '2.0', id, method, params: { sessid: this.sessid, ...params } }));
      return new Promise((ok, fail) => this.waiting.set(id, { ok, fail }));
    }
    #handle(msg) {
      if (msg.method) {
        this.ws.send(JSON.stringify({ jsonrpc: '2.0', id: msg.id, result: { method: msg.method } }));
        this.onRequest(msg.method, msg.params || {});
        return;
      }
      const w = this.waiting.get(msg.id);
      if (!w) return;
      this.waiting.delete(msg.id);
      if (msg.error) w.fail(new Error(`${msg.error.code} ${msg.error.message}`));
      else w.ok(msg.result);
    }
  }

  const gathered = (pc) => new Promise((ok) => {
    if (pc.iceGatheringState === 'complete') return ok();
    pc.addEventListener('icegatheringstatechange', () => pc.iceGatheringState === 'complete' && ok());
  });

  // call logs in as name and places a Verto call with pc's offer; it resolves once answered.
  async function call(o, name, pc, onEvent) {
    const v = new Verto(o.ws);
    await v.opened;
    await v.request('login', { login: `${name}@localhost`, passwd: 'guest' });
    const callID = crypto.randomUUID();
    let answered;
    const answer = new Promise((ok) => { answered = ok; });
    v.onRequest = (method, p) => {
      if (method === 'verto.answer' && p.callID === callID) answered(p.sdp);
      if (method === 'verto.event') onEvent(p.eventChannel, p.data || {});
    };
    await pc.setLocalDescription(await pc.createOffer());
    await gathered(pc);
    await v.request('verto.invite', {
      sdp: pc.localDescription.sdp,
      dialogParams: { callID, destination_number: o.dest, caller_id_name: name, caller_id_number: name, useVideo: true },
    });
    await pc.setRemoteDescription({ type: 'answer', sdp: await answer });
    return { v, callID };
  }

  const RIDS = ['q', 'h', 'f'];

  // The publisher sends all three encodings from the start, as confd's own page does. f only
  // starts once Chromium's send-side estimate allows it (about 1 Mbit/s): at once when its
  // bandwidth probe at the start of the call succeeds (4-5 Mbit/s measured). Under -race on a
  // loaded machine that probe sometimes fails, the estimate climbs instead by about 8 % a
  // second from 200-300 kbit/s, and f starts 15 to 20 s into the call (measured). confd keeps
  // naming an encoding it never received in confd.layers, so f is not stopped meanwhile.
  window.publish = async (o) => {
    const st = { layersEvents: [], error: '' };
    window.pubState = st;
    const stream = await navigator.mediaDevices.getUserMedia({ video: { width: 1280, height: 720, frameRate: 30 } });
    const pc = new RTCPeerConnection();
    window.pubPC = pc;
    const tr = pc.addTransceiver(stream.getVideoTracks()[0], {
      direction: 'sendonly',
      sendEncodings: [
        { rid: 'q', scaleResolutionDownBy: 4, maxBitrate: 150000 },
        { rid: 'h', scaleResolutionDownBy: 2, maxBitrate: 500000 },
        { rid: 'f', scaleResolutionDownBy: 1, maxBitrate: 1500000 },
      ],
    });
    // Parameter changes go one at a time: setParameters fails on parameters read before
    // another change was applied.
    let wanted = RIDS;
    let changes = Promise.resolve();
    const apply = (extra) => {
      changes = changes.then(async () => {
        const p = tr.sender.getParameters();
        p.encodings.forEach((e) => { e.active = wanted.includes(e.rid); });
        Object.assign(p, extra);
        await tr.sender.setParameters(p);
      }).catch((e) => { st.error = `setParameters: ${e.message}`; });
      return changes;
    };
    // confd.layers names the encodings anyone watches; the others stop encoding.
    const onEvent = (channel, data) => {
      if (channel !== 'confd.layers') return;
      st.layersEvents.push(data.active.join(','));
      wanted = data.active;
      apply({});
    };
    await call(o, 'chromepub', pc, onEvent);
    await apply({ degradationPreference: 'maintain-resolution' }); // a busy test machine must not shrink f
    return true;
  };

  // publisherEstimate is Chromium's send-side estimate of its uplink, bits per second.
  window.publisherEstimate = async () => {
    let bps = 0;
    (await window.pubPC.getStats()).forEach((s) => {
      if (s.type === 'candidate-pair' && s.availableOutgoingBitrate) bps = s.availableOutgoingBitrate;
    });
    return bps;
  };

  // publisherLayers reads the outbound simulcast encodings.
  window.publisherLayers = async () => {
    const out = {};
    (await window.pubPC.getStats()).forEach((s) => {
      if (s.type === 'outbound-rtp' && s.kind === 'video' && RIDS.includes(s.rid)) {
        out[s.rid] = { frameWidth: s.frameWidth || 0, bytesSent: s.bytesSent || 0, framesEncoded: s.framesEncoded || 0, active: s.active };
      }
    });
    return out;
  };

  window.view = async (o) => {
    const pc = new RTCPeerConnection();
    window.viewPC = pc;
    pc.addTransceiver('video', { direction: 'recvonly' });
    const video = document.createElement('video');
    video.autoplay = true;
    video.muted = true;
    document.body.append(video);
    pc.ontrack = (e) => { video.srcObject = new MediaStream([e.track]); };
    window.viewCall = await call(o, 'chromeviewer', pc, () => {});
    return true;
  };

  window.slotSize = (w, h) => window.viewCall.v.request('confd.slotSize', { callID: window.viewCall.callID, slot: 0, width: w, height: h });

  // inbound is the viewer's decoded video: frame width and frames decoded.
  window.inbound = async () => {
    let r = { frameWidth: 0, framesDecoded: 0 };
    (await window.viewPC.getStats()).forEach((s) => {
      if (s.type === 'inbound-rtp' && s.kind === 'video') r = { frameWidth: s.frameWidth || 0, framesDecoded: s.framesDecoded || 0 };
    });
    return r;
  };
}

const PAGE = `<!doctype html><meta charset="utf-8"><title>confd simulcast</title><body>
<script>(${pageScript.toString()})();</script></body>`;

// ---------------------------------------------------------------------------------------------
// Node side.

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function waitWidth(viewer, deadline, ok, what) {
  let last = { frameWidth: 0, framesDecoded: 0 };
  while (Date.now() < deadline) {
    const cur = await viewer.evaluate(() => window.inbound());
    if (cur.frameWidth && result.widths[result.widths.length - 1] !== cur.frameWidth) {
      result.widths.push(cur.frameWidth);
      note(`viewer decodes ${cur.frameWidth} wide (${cur.framesDecoded} frames)`);
    }
    result.framesDecoded = cur.framesDecoded;
    if (ok(cur.frameWidth) && cur.framesDecoded > last.framesDecoded && last.framesDecoded > 0) return cur.frameWidth;
    last = cur;
    await sleep(250);
  }
  throw new Error(`timeout waiting for ${what}; widths ${JSON.stringify(result.widths)}`);
}

// waitEvent waits until the publisher's last confd.layers event names exactly active.
async function waitEvent(pub, deadline, active) {
  while (Date.now() < deadline) {
    const evs = await pub.evaluate(() => window.pubState.layersEvents);
    if (evs[evs.length - 1] === active) return;
    await sleep(250);
  }
  throw new Error(`timeout waiting for confd.layers ${active}`);
}

// The publisher's encodings and the confd.layers events are read once the viewer has the
// large picture: the last event must have resumed a layer above q.

async function main() {
  const server = http.createServer((req, res) => {
    res.writeHead(200, { 'content-type': 'text/html' });
    res.end(PAGE);
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://localhost:${server.address().port}/`;
  const deadline = Date.now() + opts.timeoutMs;
  const browser = await chromium.launch({ executablePath: opts.chromium, args: [...CHROMIUM_FLAGS] });
  try {
    const pub = await (await browser.newContext()).newPage();
    const viewer = await (await browser.newContext()).newPage();
    for (const [name, p] of [['publisher', pub], ['viewer', viewer]]) {
      p.on('console', (m) => process.stderr.write(`[${name}] ${m.text()}\n`));
      p.on('pageerror', (e) => process.stderr.write(`[${name}] page error: ${e.message}\n`));
      await p.goto(url);
    }
    await pub.evaluate((o) => window.publish(o), opts);
    note('publisher answered');
    await viewer.evaluate((o) => window.view(o), opts);
    note('viewer answered');

    await viewer.evaluate(() => window.slotSize(320, 180));
    result.smallWidth = await waitWidth(viewer, deadline, (w) => w > 0 && w <= 400, 'a small picture in a 320x180 slot');
    // Nobody watches h and f now: confd tells the publisher, which stops encoding them.
    await waitEvent(pub, deadline, 'q');
    const paused = await pub.evaluate(() => window.publisherLayers());
    const estimate = await pub.evaluate(() => window.publisherEstimate());
    note(`publisher told to send q alone; encodings ${JSON.stringify(paused)}; its estimate ${estimate} bit/s`);
    await viewer.evaluate(() => window.slotSize(1280, 720));
    // confd asks for f again; Chromium restarts it and probes for the bandwidth it needs, and
    // confd switches the slot at f's first key frame.
    result.largeWidth = await waitWidth(viewer, deadline, (w) => w >= 1280, 'f (1280 wide) in a 1280x720 slot');
    result.publisher = await pub.evaluate(() => window.publisherLayers());
    result.publisherEstimate = await pub.evaluate(() => window.publisherEstimate());
    result.layersEvents = await pub.evaluate(() => window.pubState.layersEvents);
    const pubErr = await pub.evaluate(() => window.pubState.error);
    if (pubErr) throw new Error(pubErr);
    result.ok = true;
  } finally {
    await browser.close().catch(() => {});
    server.close();
  }
}

if (!printed) {
  const timer = setTimeout(() => { result.error ||= 'overall timeout'; finish(1); }, opts.timeoutMs + 15000);
  timer.unref();
  main()
    .then(() => finish(result.ok ? 0 : 1))
    .catch((err) => {
      result.error ||= err.message;
      finish(1);
    });
}
