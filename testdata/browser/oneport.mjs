#!/usr/bin/env node
// oneport.mjs: confd's meeting page in headless Chromium, reaching confd
// over its one HTTPS port only. The page is loaded from --base (confd's
// HTTPS port, its self-signed certificate accepted); every
// RTCPeerConnection the page makes is forced to iceTransportPolicy
// 'relay' with, of the ICE servers /config.json gave it, only the URL
// --turns (TURN over TLS on that same port). Then:
//
//   join      the page joins --room through its own form (?prejoin=0)
//   relay     the call's selected candidate pair is a relay candidate over TLS
//   video     the remote tile decodes frames (a pion member's camera)
//   hear      two seconds of what the page plays (#remote-audio) are recorded
//             for the caller's tone verdict; the fake microphone plays --audio-file
//   hold      with --wait-stdin, the call stays up until a line arrives on stdin
//
//   node oneport.mjs --base https://127.0.0.1:8443 --turns 'turns:127.0.0.1:8443?transport=tcp' \
//        --audio-file tone.wav [--room 3500] [--name Relay] [--timeout-ms 90000] [--chromium /usr/bin/chromium]
//        [--wait-stdin]
//
// stdout: one JSON line {ok, error, step, steps, pageErrors, iceServers, pair, heard:{sampleRate, pcm}, …};
// exit status 0 when ok, 1 on failure, 2 on bad flags.

import { parseArgs } from 'node:util';
import { Run, framesAdvance, waitFor } from './ui_common.mjs';

const run = new Run('oneport');
let opts;
try {
  const { values } = parseArgs({
    options: {
      base: { type: 'string' },
      turns: { type: 'string' },
      'audio-file': { type: 'string' },
      room: { type: 'string', default: '3500' },
      name: { type: 'string', default: 'Relay' },
      'timeout-ms': { type: 'string', default: '90000' },
      chromium: { type: 'string', default: '/usr/bin/chromium' },
      'wait-stdin': { type: 'boolean', default: false },
    },
    strict: true,
  });
  opts = {
    base: (values.base ?? '').replace(/\/$/, ''),
    turns: values.turns ?? '',
    audioFile: values['audio-file'] ?? '',
    room: values.room,
    name: values.name,
    timeoutMs: Number(values['timeout-ms']),
    chromium: values.chromium,
    waitStdin: values['wait-stdin'],
  };
  if (!/^https:\/\//.test(opts.base)) throw new Error('--base must be an https URL');
  if (!/^turns:/.test(opts.turns)) throw new Error('--turns must be a turns: URL');
  if (!opts.audioFile) throw new Error('--audio-file is required');
  if (!(opts.timeoutMs > 0)) throw new Error('--timeout-ms must be positive');
} catch (err) {
  run.result.error = `bad arguments: ${err.message}`;
  run.printed = true;
  process.stdout.write(JSON.stringify(run.result) + '\n', () => process.exit(2));
}

// relayOnly runs in the page before its scripts: each RTCPeerConnection
// keeps only the wanted TURN URL (with its credential) and may use relay
// candidates alone. What the page asked for is kept for the result.
function relayOnly(want) {
  const Native = window.RTCPeerConnection;
  window.__oneport = { asked: [], pcs: [], candidateErrors: [] };
  function Relayed(config = {}, ...rest) {
    const servers = [];
    for (const s of config.iceServers || []) {
      for (const u of Array.isArray(s.urls) ? s.urls : [s.urls]) {
        if (u === want) servers.push({ urls: u, username: s.username, credential: s.credential });
      }
    }
    window.__oneport.asked.push(config.iceServers || []);
    const pc = new Native({ ...config, iceServers: servers, iceTransportPolicy: 'relay' }, ...rest);
    pc.addEventListener('icecandidateerror', (e) => window.__oneport.candidateErrors.push(`${e.errorCode} ${e.errorText} ${e.url}`));
    window.__oneport.pcs.push(pc);
    return pc;
  }
  Relayed.prototype = Native.prototype;
  Object.setPrototypeOf(Relayed, Native);
  window.RTCPeerConnection = Relayed;
}

// selectedPair reads the call's candidate pair in use from getStats.
async function selectedPair(page) {
  return page.evaluate(async () => {
    const report = await window.confd.call.pc.getStats();
    let pairID = '';
    report.forEach((r) => { if (r.type === 'transport' && r.selectedCandidatePairId) pairID = r.selectedCandidatePairId; });
    const pair = report.get(pairID);
    if (!pair) return null;
    const pick = (r) => r && { type: r.candidateType, protocol: r.protocol, address: r.address, port: r.port, relayProtocol: r.relayProtocol ?? '', url: r.url ?? '' };
    return { state: pair.state, local: pick(report.get(pair.localCandidateId)), remote: pick(report.get(pair.remoteCandidateId)) };
  });
}

// record taps what #remote-audio plays until seconds of it are in: 16-bit
// PCM at 48 kHz, base64. It uses a ScriptProcessorNode, not an
// AudioWorklet: the page's Content-Security-Policy (script-src 'self')
// rightly refuses the worklet module a harness would load from a blob.
async function record(page, seconds) {
  return page.evaluate(async (secs) => {
    const stream = document.getElementById('remote-audio').srcObject;
    if (!stream || stream.getAudioTracks().length === 0) return { sampleRate: 0, samples: 0, pcm: '' };
    const ctx = new AudioContext({ sampleRate: 48000 });
    try {
      await ctx.resume();
      const src = ctx.createMediaStreamSource(stream);
      const tap = ctx.createScriptProcessor(4096, 1, 1);
      const sink = ctx.createGain();
      sink.gain.value = 0; // the processor runs only when connected to the output; keep it silent
      const want = Math.round(secs * ctx.sampleRate);
      const pcm = new Int16Array(want);
      let n = 0;
      await new Promise((resolve) => {
        tap.onaudioprocess = (e) => {
          const ch = e.inputBuffer.getChannelData(0);
          for (let i = 0; i < ch.length && n < want; i++) pcm[n++] = Math.max(-32768, Math.min(32767, Math.round(ch[i] * 32767)));
          if (n >= want) resolve();
        };
        src.connect(tap);
        tap.connect(sink);
        sink.connect(ctx.destination);
      });
      src.disconnect();
      tap.onaudioprocess = null;
      const bytes = new Uint8Array(pcm.buffer);
      let bin = '';
      for (let i = 0; i < bytes.length; i += 0x8000) bin += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
      return { sampleRate: ctx.sampleRate, samples: n, pcm: btoa(bin) };
    } finally {
      await ctx.close();
    }
  }, seconds);
}

async function body() {
  const page = await run.page('relay', { ignoreHTTPSErrors: true });
  await page.addInitScript(relayOnly, opts.turns);

  await run.step('join', async () => {
    const q = new URLSearchParams({ room: opts.room, name: opts.name, prejoin: '0' });
    await page.goto(`${opts.base}/?${q}`, { waitUntil: 'load', timeout: 30000 });
    await waitFor(page, 'the call up', () => window.confd.call?.state === 'active', null, 60000);
    const asked = await page.evaluate(() => window.__oneport.asked);
    run.result.iceServers = asked[0] ?? [];
    return { pcs: asked.length };
  });

  await run.step('relay', async () => {
    await waitFor(page, 'ICE connected', () => ['connected', 'completed'].includes(window.confd.call?.pc?.iceConnectionState), null, 60000);
    let pair = null;
    for (let i = 0; i < 100 && !(pair?.local); i++) {
      pair = await selectedPair(page);
      if (!pair?.local) await new Promise((r) => { setTimeout(r, 100); });
    }
    run.result.pair = pair;
    run.result.candidateErrors = await page.evaluate(() => window.__oneport.candidateErrors);
    if (pair?.local?.type !== 'relay' || pair.local.relayProtocol !== 'tls') {
      throw new Error(`the selected pair is not a relay over TLS: ${JSON.stringify(pair)}`);
    }
    return pair;
  });

  await run.step('video', async () => framesAdvance(page, '.tile:not(.self):not([hidden]) video', 60000));

  await run.step('hear', async () => {
    // A second of audio in (Opus at ~32 kbit/s is 4 kB a second) before
    // the recording starts, so it holds the tone and not the start.
    const deadline = Date.now() + 60000;
    for (;;) {
      const bytes = await page.evaluate(async () => {
        let n = 0;
        (await window.confd.call.pc.getStats()).forEach((r) => { if (r.type === 'inbound-rtp' && r.kind === 'audio') n += r.bytesReceived || 0; });
        return n;
      });
      if (bytes > 8000) break;
      if (Date.now() > deadline) throw new Error(`only ${bytes} bytes of audio arrived`);
      await new Promise((r) => { setTimeout(r, 200); });
    }
    run.result.heard = await record(page, 2);
    return { samples: run.result.heard.samples };
  });

  if (opts.waitStdin) {
    // The caller checks what the other side hears while the call is up,
    // then writes a line (or closes stdin).
    await run.step('hold', async () => {
      run.note('heard; holding the call until a line on stdin');
      await new Promise((resolve) => {
        process.stdin.once('data', resolve);
        process.stdin.once('end', resolve);
        process.stdin.resume();
      });
    });
  }
}

if (opts) {
  run.main(opts.chromium, opts.timeoutMs, body, [
    // Chromium checks a TURN server's certificate like a page's; the
    // page's context accepts confd's self-signed one, and this flag does
    // the same for TURN over TLS, which has no context of its own.
    '--ignore-certificate-errors',
    `--use-file-for-fake-audio-capture=${opts.audioFile}`,
  ]);
}
