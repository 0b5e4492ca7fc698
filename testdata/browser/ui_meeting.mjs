#!/usr/bin/env node
// ui_meeting.mjs: confd's own meeting UI in headless Chromium, driven the
// way people use it. A moderator (an account) and a guest join room --room
// through the pre-join form in two browser contexts, then:
//
//   tiles       each sees the other's tile playing (video frames advance); the camera is
//               sent as three simulcast encodings
//   list        both participant lists show both
//   chat        the guest's message arrives, with an unread count
//   mute        the moderator mutes the guest from the moderator panel; the
//               guest's UI shows it muted and cannot unmute
//   shortcuts   h raises and lowers the moderator's hand, m mutes and unmutes
//   screen      the guest shares a screen: it becomes the moderator's large tile
//   reconnect   the guest's websocket is cut: the banner shows, the call
//               recovers (verto.attach) with no new verto.invite
//   moderate    the moderator sets a banner on the guest, stops the guest's screen share
//               and locks and unlocks the room
//   phone       a third person joins on a 390x844 viewport
//
//   node ui_meeting.mjs --base http://127.0.0.1:8080 --mod-login 1000 --mod-passwd 1234 \
//        --out out/ui [--room 3500] [--timeout-ms 150000] [--chromium /usr/bin/chromium]
//
// stdout: one JSON line {ok, error, step, steps:{name:{ok, ms, …}}, screenshots, pageErrors, …};
// exit status 0 when ok, 1 on failure, 2 on bad flags. Screenshots (prejoin, meeting,
// moderator, phone, …) go to --out.

import { parseArgs } from 'node:util';
import fs from 'node:fs';
import path from 'node:path';
import { Run, framesAdvance, waitFor } from './ui_common.mjs';

const run = new Run('ui_meeting');
let opts;
try {
  const { values } = parseArgs({
    options: {
      base: { type: 'string' },
      room: { type: 'string', default: '3500' },
      'mod-login': { type: 'string' },
      'mod-passwd': { type: 'string' },
      out: { type: 'string' },
      'timeout-ms': { type: 'string', default: '150000' },
      chromium: { type: 'string', default: '/usr/bin/chromium' },
    },
    strict: true,
  });
  opts = {
    base: (values.base ?? '').replace(/\/$/, ''),
    room: values.room,
    modLogin: values['mod-login'],
    modPasswd: values['mod-passwd'],
    out: values.out,
    timeoutMs: Number(values['timeout-ms']),
    chromium: values.chromium,
  };
  if (!/^https?:\/\//.test(opts.base)) throw new Error('--base must be an http(s) URL');
  if (!opts.modLogin || !opts.modPasswd) throw new Error('--mod-login and --mod-passwd are required');
  if (!opts.out) throw new Error('--out is required');
  if (!(opts.timeoutMs > 0)) throw new Error('--timeout-ms must be positive');
} catch (err) {
  run.result.error = `bad arguments: ${err.message}`;
  run.printed = true;
  process.stdout.write(JSON.stringify(run.result) + '\n', () => process.exit(2));
}

const shot = (name) => path.join(opts.out, name);

// join goes through the pre-join form and waits until the call is up and
// the page knows its member id.
async function join(page, { name, login = '', passwd = '' }) {
  await page.goto(`${opts.base}/?room=${encodeURIComponent(opts.room)}`, { waitUntil: 'load', timeout: 20000 });
  await page.waitForSelector('#join-button:not([disabled])', { timeout: 20000 });
  await page.fill('#name', name);
  if (login) {
    await page.click('#more-options summary');
    await page.fill('#login', login);
    await page.fill('#passwd', passwd);
  }
  await page.click('#join-button');
  await waitFor(page, `${name} in the call`, () => window.confd.call?.state === 'active' && window.confd.conference?.memberID > 0, null, 30000);
  return page.evaluate(() => ({ memberID: window.confd.conference.memberID, callID: window.confd.call.id, moderator: window.confd.conference.moderator }));
}

// pane opens the side panel on the people or chat tab.
async function pane(page, which) {
  const open = await page.evaluate(() => !document.getElementById('panel').hidden);
  await page.click(open ? `#tab-${which}` : `#btn-${which}`);
  await waitFor(page, `the ${which} pane`, (w) => !document.getElementById(`${w}-pane`).hidden, which);
}

const names = (page) => page.$$eval('#people-list .pname', (els) => els.map((e) => e.textContent));

async function body() {
  fs.mkdirSync(opts.out, { recursive: true });
  const A = await run.page('A');
  const B = await run.page('B');

  // B's websocket goes through a route, so the test can cut it and count
  // what B sends.
  const tap = { cut: null, invites: 0 };
  await B.routeWebSocket(/\/verto$/, (ws) => {
    const server = ws.connectToServer();
    tap.cut = () => {
      ws.close({ code: 4001, reason: 'cut by the test' });
      server.close();
    };
    ws.onMessage((m) => {
      if (String(m).includes('"verto.invite"')) tap.invites++;
      server.send(m);
    });
    server.onMessage((m) => ws.send(m));
  });

  let a;
  let b;
  await run.step('prejoin', async () => {
    await A.goto(`${opts.base}/?room=${encodeURIComponent(opts.room)}`, { waitUntil: 'load', timeout: 20000 });
    await waitFor(A, 'the camera preview', () => {
      const v = document.getElementById('preview-video');
      return v && !v.hidden && v.videoWidth > 0 && document.getElementById('pre-mic-select').options.length > 0;
    });
    await A.fill('#name', 'Alice');
    const devices = await A.evaluate(() => ({
      mics: document.getElementById('pre-mic-select').options.length,
      cams: document.getElementById('pre-cam-select').options.length,
      meter: !document.getElementById('pre-meter').hidden,
    }));
    await run.screenshot(A, shot('prejoin.png'));
    return devices;
  });

  await run.step('join', async () => {
    a = await join(A, { name: 'Alice', login: opts.modLogin, passwd: opts.modPasswd });
    if (!a.moderator) throw new Error('the account did not join as a moderator');
    b = await join(B, { name: 'Bob' });
    return { a, b };
  });

  await run.step('tiles', async () => {
    const onA = await framesAdvance(A, `.tile[data-member-id="${b.memberID}"] video`);
    const onB = await framesAdvance(B, `.tile[data-member-id="${a.memberID}"] video`);
    // The camera goes out as three simulcast encodings (q, h, f).
    const rids = await A.evaluate(() => {
      const t = window.confd.call.pc.getTransceivers().find((x) => x.sender.track?.kind === 'video');
      return (t?.sender.getParameters().encodings ?? []).map((e) => e.rid ?? '');
    });
    if (rids.join() !== 'q,h,f') throw new Error(`the camera's encodings are ${JSON.stringify(rids)}, want q,h,f`);
    return { onA, onB, rids };
  });

  await run.step('list', async () => {
    const want = (page) => waitFor(page, 'both in the list', () => {
      const n = [...document.querySelectorAll('#people-list .pname')].map((e) => e.textContent);
      return n.includes('Alice') && n.includes('Bob');
    });
    await pane(A, 'people');
    await want(A);
    await pane(B, 'people');
    await want(B);
    return { A: await names(A), B: await names(B) };
  });

  await run.step('chat', async () => {
    await pane(B, 'chat');
    await B.fill('#chat-input', 'Hello from Bob');
    await B.press('#chat-input', 'Enter');
    await waitFor(A, 'the unread count', () => document.getElementById('chat-unread').textContent === '1' && !document.getElementById('chat-unread').hidden);
    await pane(A, 'chat');
    await waitFor(A, 'the message', () => document.getElementById('chat-log').textContent.includes('Hello from Bob'));
    const unreadAfter = await A.evaluate(() => document.getElementById('chat-unread').hidden);
    await pane(A, 'people');
    return { unreadClearedOnOpen: unreadAfter };
  });

  await run.step('mute', async () => {
    await A.click(`#people-list li[data-member-id="${b.memberID}"] .pmenu`);
    await A.waitForSelector('#menu:not([hidden]) [role="menuitem"]', { timeout: 10000 });
    await run.screenshot(A, shot('moderator.png'));
    await A.click('#menu [role="menuitem"]:text-is("Mute")');
    await waitFor(B, "Bob's UI showing him muted", () => {
      const mic = document.getElementById('btn-mic');
      return mic.dataset.state === 'off' && mic.querySelector('.ctl-label').textContent === 'Unmute' && window.confd.conference.self?.muteLocked;
    });
    await waitFor(A, "Bob's row muted", (id) => document.querySelector(`#people-list li[data-member-id="${id}"]`)?.classList.contains('muted'), b.memberID);
    // A moderator's mute cannot be undone by the member.
    await B.click('#btn-mic');
    await B.waitForTimeout(300);
    const stillMuted = await B.evaluate(() => document.getElementById('btn-mic').dataset.state === 'off' && !window.confd.call.localTracks.audio.enabled);
    if (!stillMuted) throw new Error('Bob could unmute a moderator mute');
    return { bobTrackDisabled: stillMuted };
  });

  await run.step('shortcuts', async () => {
    await A.evaluate(() => document.activeElement?.blur());
    await A.keyboard.press('h');
    await waitFor(A, 'the hand button on', () => document.getElementById('btn-hand').classList.contains('active'));
    await waitFor(B, "Alice's raised hand", (id) => document.querySelector(`#people-list li[data-member-id="${id}"]`)?.classList.contains('hand'), a.memberID);
    await A.keyboard.press('h');
    await waitFor(B, "Alice's hand lowered", (id) => !document.querySelector(`#people-list li[data-member-id="${id}"]`)?.classList.contains('hand'), a.memberID);
    await A.keyboard.press('m');
    await waitFor(B, 'Alice muted', (id) => document.querySelector(`#people-list li[data-member-id="${id}"]`)?.classList.contains('muted'), a.memberID);
    await A.keyboard.press('m');
    await waitFor(B, 'Alice unmuted', (id) => !document.querySelector(`#people-list li[data-member-id="${id}"]`)?.classList.contains('muted'), a.memberID);
    return {};
  });

  await run.step('screen', async () => {
    await B.click('#btn-screen');
    await waitFor(A, 'the screen share as the large tile', () => {
      const t = document.querySelector('.tile.large');
      return t && t.classList.contains('presenting') && t.querySelector('.name').textContent.includes('(screen)');
    }, null, 30000);
    const frames = await framesAdvance(A, '.tile.large video');
    const large = await A.evaluate(() => {
      const r = document.querySelector('.tile.large').getBoundingClientRect();
      const others = [...document.querySelectorAll('#strip .tile:not([hidden])')].map((t) => t.getBoundingClientRect().width * t.getBoundingClientRect().height);
      return { area: r.width * r.height, largestOther: Math.max(0, ...others), name: document.querySelector('.tile.large .name').textContent };
    });
    if (large.area <= large.largestOther * 2) throw new Error(`the presentation is not the large tile: ${JSON.stringify(large)}`);
    // A picture without the passing notices (they go after 5 s); not a condition of the test.
    await A.waitForFunction(() => !document.querySelector('#toasts .toast'), null, { timeout: 8000 }).catch(() => {});
    await run.screenshot(A, shot('meeting.png'));
    return { frames, large };
  });

  await run.step('reconnect', async () => {
    if (!tap.cut) throw new Error('the websocket route never saw a socket');
    const before = await B.evaluate(() => ({ callID: window.confd.call.id, memberID: window.confd.conference.memberID }));
    const invites = tap.invites;
    tap.cut();
    await waitFor(B, 'the reconnect banner', () => !document.getElementById('reconnect').hidden, null, 15000);
    const bannerText = await B.textContent('#reconnect-text');
    await run.screenshot(B, shot('reconnecting.png'));
    await waitFor(B, 'the call back', () => document.getElementById('reconnect').hidden && window.confd.call?.state === 'active' && window.confd.client?.state === 'ready', null, 45000);
    const after = await B.evaluate(() => ({ callID: window.confd.call.id, memberID: window.confd.conference.memberID }));
    if (after.callID !== before.callID || after.memberID !== before.memberID) {
      throw new Error(`the call was not recovered: before ${JSON.stringify(before)}, after ${JSON.stringify(after)}`);
    }
    if (tap.invites !== invites) throw new Error(`${tap.invites - invites} new verto.invite after the cut`);
    const bSeesA = await framesAdvance(B, `.tile[data-member-id="${a.memberID}"] video`);
    await waitFor(A, "Bob's tile after the reconnect", (id) => !!document.querySelector(`.tile[data-member-id="${id}"]:not([hidden])`), b.memberID);
    const aSeesB = await framesAdvance(A, `.tile[data-member-id="${b.memberID}"] video`);
    // The attach offer asked for the camera's simulcast again, and the
    // encodings keep their sizes and bitrate caps.
    const encodings = await B.evaluate(() => {
      const t = window.confd.call.pc.getTransceivers().find((x) => x.sender.track?.kind === 'video');
      return (t?.sender.getParameters().encodings ?? []).map((e) => ({ rid: e.rid, maxBitrate: e.maxBitrate, scale: e.scaleResolutionDownBy }));
    });
    const f = encodings.find((e) => e.rid === 'f');
    if (encodings.length !== 3 || !f || f.maxBitrate !== 1_500_000 || encodings.find((e) => e.rid === 'q')?.scale !== 4) {
      throw new Error(`after the reattach the camera's encodings are ${JSON.stringify(encodings)}`);
    }
    return { bannerText, before, after, newInvites: tap.invites - invites, bSeesA, aSeesB, encodings };
  });

  await run.step('moderate', async () => {
    // A banner from the moderator menu, through the question dialog.
    await A.click(`#people-list li[data-member-id="${b.memberID}"] .pmenu`);
    await A.click('#menu [role="menuitem"]:text-is("Set banner…")');
    await A.fill('#ask-input', 'Head of Design');
    await A.click('#ask-ok');
    await waitFor(B, 'the banner on Bob\'s own row', () => window.confd.conference.self?.banner === 'Head of Design');
    await waitFor(A, 'the banner in the list', (id) => document.querySelector(`#people-list li[data-member-id="${id}"] .tag.banner`)?.textContent === 'Head of Design', b.memberID);
    // Stop Bob's screen share: the screen member's menu.
    const screenID = await A.evaluate(() => window.confd.conference.members.find((m) => m.kind === 'screen')?.id);
    if (!screenID) throw new Error('no screen member in the list');
    await A.click(`#people-list li[data-member-id="${screenID}"] .pmenu`);
    await A.click('#menu [role="menuitem"]:text-is("Stop this screen share")');
    await waitFor(B, 'Bob\'s share button back to Share', () => document.querySelector('#btn-screen .ctl-label').textContent === 'Share');
    await waitFor(A, 'the presentation gone', () => !document.querySelector('.tile.large')?.classList.contains('presenting'));
    // Lock and unlock the room.
    await A.click('#lock-room');
    await waitFor(A, 'the lock badge', () => !document.getElementById('lock-badge').hidden && document.getElementById('lock-room').getAttribute('aria-pressed') === 'true');
    await A.click('#lock-room');
    await waitFor(A, 'the room unlocked', () => document.getElementById('lock-badge').hidden);
    return { screenID };
  });

  await run.step('phone', async () => {
    const C = await run.page('C', { viewport: { width: 390, height: 844 }, deviceScaleFactor: 2 });
    await C.goto(`${opts.base}/?room=${encodeURIComponent(opts.room)}`, { waitUntil: 'load', timeout: 20000 });
    await waitFor(C, 'the phone preview', () => document.getElementById('preview-video').videoWidth > 0);
    await C.fill('#name', 'Carol');
    await run.screenshot(C, shot('phone-prejoin.png'));
    await join(C, { name: 'Carol' });
    await framesAdvance(C, '.tile.large video');
    await C.waitForTimeout(500);
    const fit = await C.evaluate(() => {
      const leave = document.getElementById('btn-leave').getBoundingClientRect();
      return {
        scrollWidth: document.documentElement.scrollWidth,
        innerWidth: window.innerWidth,
        leaveVisible: leave.right <= window.innerWidth && leave.bottom <= window.innerHeight && leave.width > 0,
      };
    });
    if (fit.scrollWidth > fit.innerWidth || !fit.leaveVisible) throw new Error(`the phone layout overflows: ${JSON.stringify(fit)}`);
    await run.screenshot(C, shot('phone.png'));
    await C.click('#btn-leave');
    await waitFor(C, 'the end view', () => !document.getElementById('ended').hidden);
    return fit;
  });

  await run.step('leave', async () => {
    await B.click('#btn-leave');
    await waitFor(A, 'Bob gone from the list', (id) => !document.querySelector(`#people-list li[data-member-id="${id}"]`), b.memberID);
    await A.click('#btn-leave');
    await waitFor(A, 'the end view', () => !document.getElementById('ended').hidden);
    return {};
  });
}

if (!run.printed) {
  run.main(opts.chromium, opts.timeoutMs, body);
}
