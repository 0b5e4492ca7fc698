// ui_common.mjs: what ui_meeting.mjs and ui_embed.mjs share. Chromium with
// fake devices, a result object printed once as one JSON line, steps with
// timings, bounded waits and page-error collection.

import { chromium } from 'playwright-core';
import { CHROMIUM_FLAGS as BASE_FLAGS } from './chromium_flags.mjs';

// The flags of the project's testing notes, plus autoplay without a
// gesture (the meeting's sound) and the fake screen for getDisplayMedia:
// with --use-fake-device-for-media-stream and --use-fake-ui-for-media-stream
// headless Chromium hands getDisplayMedia a generated 1280x720 "screen".
export const CHROMIUM_FLAGS = [
  ...BASE_FLAGS,
  '--autoplay-policy=no-user-gesture-required',
  '--auto-select-desktop-capture-source=Entire screen',
];

/**
 * Run is one harness run: it prints {ok, error, step, steps, screenshots,
 * pageErrors, …} once on stdout whatever happens, and exits 0 when ok.
 */
export class Run {
  constructor(name) {
    this.name = name;
    this.t0 = Date.now();
    this.result = { ok: false, error: '', step: '', steps: {}, screenshots: [], pageErrors: [], chromiumVersion: '' };
    this.browser = null;
    this.printed = false;
    this.cleanups = [];
  }

  note(msg) {
    process.stderr.write(`[${this.name} +${Date.now() - this.t0}ms] ${msg}\n`);
  }

  /** step runs f as a named step, recording its time and what it returns. */
  async step(name, f) {
    this.result.step = name;
    const start = Date.now();
    this.note(`step ${name}`);
    const detail = await f();
    this.result.steps[name] = { ok: true, ms: Date.now() - start, ...(detail && typeof detail === 'object' ? detail : {}) };
    this.note(`step ${name} ok (${Date.now() - start}ms)`);
  }

  async launch(chromiumPath, extraFlags = []) {
    this.browser = await chromium.launch({
      executablePath: chromiumPath,
      headless: true,
      args: [...CHROMIUM_FLAGS, ...extraFlags],
      timeout: 30000,
      handleSIGINT: false,
      handleSIGTERM: false,
      handleSIGHUP: false,
    });
    this.result.chromiumVersion = this.browser.version();
    this.note(`chromium ${this.browser.version()}`);
    return this.browser;
  }

  /** page opens a page in a fresh context (its own storage: its own sessid). */
  async page(label, { viewport = { width: 1280, height: 800 }, deviceScaleFactor = 1, ignoreHTTPSErrors = false } = {}) {
    const context = await this.browser.newContext({ viewport, deviceScaleFactor, ignoreHTTPSErrors });
    const page = await context.newPage();
    page.on('console', (m) => {
      if (m.type() !== 'verbose' && m.type() !== 'debug') {
        process.stderr.write(`[${label} ${m.type()}] ${m.text()}\n`);
      }
    });
    page.on('pageerror', (e) => {
      process.stderr.write(`[${label} pageerror] ${e.message}\n${e.stack ?? ''}\n`);
      this.result.pageErrors.push(`${label}: ${e.message}`);
    });
    page.on('crash', () => this.note(`${label}: page crashed`));
    return page;
  }

  async screenshot(page, path) {
    await page.screenshot({ path, timeout: 15000 });
    this.result.screenshots.push(path);
    this.note(`screenshot ${path}`);
  }

  finish(code) {
    if (this.printed) {
      return;
    }
    this.printed = true;
    if (!this.result.ok && !this.result.error) {
      this.result.error = 'unknown failure';
    }
    process.stdout.write(JSON.stringify(this.result) + '\n', () => process.exit(code));
    setTimeout(() => process.exit(code), 2000).unref();
  }

  /**
   * main runs body with a watchdog, closes Chromium and prints the result.
   * SIGTERM (a Go test's deadline) still prints what was reached.
   */
  async main(chromiumPath, timeoutMs, body, extraFlags = []) {
    const stop = async (why) => {
      this.result.ok = false;
      this.result.error ||= why;
      await this.close();
      this.finish(1);
    };
    process.on('SIGTERM', () => stop('terminated (SIGTERM)'));
    process.on('SIGINT', () => stop('interrupted'));
    const watchdog = setTimeout(() => stop(`timed out after ${timeoutMs}ms in step ${this.result.step}`), timeoutMs);
    try {
      await this.launch(chromiumPath, extraFlags);
      await body();
      this.result.ok = this.result.pageErrors.length === 0;
      if (!this.result.ok) {
        this.result.error = `uncaught errors in the page: ${this.result.pageErrors.join('; ')}`;
      }
    } catch (err) {
      this.result.ok = false;
      this.result.error = `${this.result.step}: ${String(err?.message ?? err).split('\n')[0]}`;
      this.note(`failed: ${err?.stack ?? err}`);
    }
    clearTimeout(watchdog);
    await this.close();
    this.finish(this.result.ok ? 0 : 1);
  }

  async close() {
    for (const f of this.cleanups.splice(0).reverse()) {
      await Promise.resolve().then(f).catch(() => {});
    }
    if (this.browser) {
      const b = this.browser;
      this.browser = null;
      await Promise.race([b.close(), new Promise((r) => { setTimeout(r, 10000); })]).catch(() => {});
    }
  }
}

/**
 * framesAdvance waits until the video element matched by selector shows
 * a picture (videoWidth > 0) and decodes new frames: two readings of
 * getVideoPlaybackQuality().totalVideoFrames, 800 ms apart, that grow.
 */
export async function framesAdvance(page, selector, timeoutMs = 30000) {
  const deadline = Date.now() + timeoutMs;
  let last = null;
  for (;;) {
    const now = await page.evaluate((sel) => {
      const v = document.querySelector(sel);
      if (!v) {
        return null;
      }
      const q = v.getVideoPlaybackQuality?.();
      return { frames: q ? q.totalVideoFrames : 0, width: v.videoWidth, height: v.videoHeight };
    }, selector);
    if (now && last && now.width > 0 && now.frames > last.frames) {
      return { framesBefore: last.frames, framesAfter: now.frames, size: `${now.width}x${now.height}` };
    }
    if (Date.now() > deadline) {
      throw new Error(`video ${selector} did not play: ${JSON.stringify(now)}; ${JSON.stringify(await diagnose(page))}`);
    }
    last = now;
    await new Promise((r) => { setTimeout(r, 800); });
  }
}

/** waitFor polls an in-page predicate (a function and its argument). */
export async function waitFor(page, what, f, arg, timeoutMs = 20000) {
  try {
    await page.waitForFunction(f, arg, { timeout: timeoutMs, polling: 100 });
  } catch (err) {
    throw new Error(`timed out waiting for ${what}`);
  }
}

/**
 * diagnose says what a meeting page receives: its slots (confd.slots) and,
 * per receiving video section, the inbound RTP statistics.
 */
export async function diagnose(page) {
  return page.evaluate(async () => {
    const call = window.confd?.call;
    if (!call?.pc) {
      return { call: call?.state ?? 'none' };
    }
    const report = await call.pc.getStats();
    const byTrack = {};
    report.forEach((r) => {
      if (r.type === 'inbound-rtp' && r.kind === 'video') {
        byTrack[r.trackIdentifier] = { mid: r.mid, bytes: r.bytesReceived, frames: r.framesDecoded, keyFrames: r.keyFramesDecoded, plis: r.pliCount, size: `${r.frameWidth ?? 0}x${r.frameHeight ?? 0}` };
      }
    });
    const tiles = [...document.querySelectorAll('.tile')].map((t) => ({
      slot: t.dataset.slot, member: t.dataset.memberId, hidden: t.hidden, live: t.classList.contains('live'),
      track: t.querySelector('video').srcObject?.getVideoTracks()[0]?.id ?? null,
    }));
    return { state: call.state, slots: call.slots, tiles, inbound: byTrack };
  }).catch((err) => ({ error: err.message }));
}
