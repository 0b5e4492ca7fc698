// ui_units.mjs: unit tests, in Node, for the meeting page's modules that
// need no DOM: conference.js (the conference channels, against a fake
// Verto client), selfstate.js (own mute, camera and hand against the
// server's row) and quality.js (the connection rating).
//
//   node --test ui_units.mjs
//
// TestUIModules (cmd/confd/ui_test.go) runs it.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Conference, parseRow } from '../../frontend/static/conference.js';
import { SelfState } from '../../frontend/static/selfstate.js';
import { rate } from '../../frontend/static/quality.js';

const CALL = 'call-1';
const LA = 'conference-liveArray.3500@localhost';
const CHAT = 'conference-chat.3500@localhost';
const MOD = 'conference-mod.3500@localhost';

// FakeClient stands in for VertoClient: it records requests and lets the
// test deliver events.
class FakeClient extends EventTarget {
  state = 'ready';
  requests = [];
  replies = {};

  request(method, params) {
    this.requests.push({ method, params });
    const reply = this.replies[method];
    return reply ? reply(params) : Promise.resolve({});
  }

  event(params) {
    this.dispatchEvent(new CustomEvent('event', { detail: params }));
  }

  ready(ids) {
    this.dispatchEvent(new CustomEvent('ready', { detail: { reattached_sessions: ids } }));
  }

  sent(method) {
    return this.requests.filter((r) => r.method === method);
  }
}

const tick = () => new Promise((r) => { setTimeout(r, 0); });

function pvt(action = 'conference-liveArray-join', extra = {}) {
  return {
    eventChannel: 'sess', eventType: 'channelPvtData',
    pvtData: { callID: CALL, action, laChannel: LA, laName: '3500', role: 'moderator', chatChannel: CHAT, modChannel: MOD, conferenceMemberID: '7', ...extra },
  };
}

function status({ muted = false, talking = false, video = true, vmuted = false, confd = {} } = {}) {
  return JSON.stringify({
    audio: { muted, deaf: false, onHold: false, talking, floor: false, energyScore: 0 },
    video: video ? { visible: true, mediaFlow: 'sendRecv', muted: vmuted, floor: false } : false,
    oldStatus: 'ACTIVE',
    confd: { kind: 'browser', handRaised: false, muteLocked: false, ...confd },
  });
}

function row(id, name, st = {}, codec = 'opus@48000') {
  return [String(id).padStart(4, '0'), '1000', name, codec, status(st), { email: 'x@example' }, null];
}

function la(data) {
  return { eventChannel: LA, data: { name: '3500', ...data } };
}

async function joined(opts) {
  const client = new FakeClient();
  const conf = new Conference(client, CALL, opts);
  const seen = [];
  conf.addEventListener('members', (ev) => seen.push(ev.detail));
  client.event(pvt());
  await tick();
  return { client, conf, seen };
}

test('parseRow reads the status JSON and confd’s extension', () => {
  const m = parseRow('k', row(12, 'Pat', { muted: true, talking: true, confd: { kind: 'phone', handRaised: true, muteLocked: true, banner: 'Sales', lobby: true } }, 'PCMU@8000'));
  assert.equal(m.id, 12);
  assert.equal(m.name, 'Pat');
  assert.equal(m.kind, 'phone');
  assert.ok(m.audioMuted && m.talking && m.handRaised && m.muteLocked && m.lobby);
  assert.equal(m.banner, 'Sales');
  assert.equal(m.userData.email, 'x@example');
  const screen = parseRow('s', ['0003', '', 'Pat (screen)', 'opus@48000', JSON.stringify({ audio: {}, video: { screenShare: true }, confd: { kind: 'screen' } }), {}, null]);
  assert.ok(screen.screenShare);
  const broken = parseRow('b', ['x', 1, null, null, '{not json', null, null]);
  assert.equal(broken.id, 0);
  assert.equal(broken.hasVideo, false);
  assert.equal(broken.recording, false);
  const recorded = parseRow('r', row(4, 'Ann', { confd: { kind: 'browser', recording: true } }));
  assert.ok(recorded.recording);
});

test('join subscribes to the channels, then bootstraps the list', async () => {
  const { client, conf } = await joined();
  assert.deepEqual(client.sent('verto.subscribe')[0].params.eventChannel, [LA, CHAT, MOD]);
  const boot = client.sent('verto.broadcast')[0];
  assert.equal(boot.params.eventChannel, LA);
  assert.equal(boot.params.data.liveArray.command, 'bootstrap');
  assert.equal(conf.memberID, 7);
  assert.ok(conf.moderator);
  assert.equal(conf.room, '3500');
});

test('pvtData for another call is ignored', async () => {
  const client = new FakeClient();
  const conf = new Conference(client, CALL);
  client.event({ ...pvt(), pvtData: { ...pvt().pvtData, callID: 'screen-call' } });
  await tick();
  assert.equal(conf.info, null);
  assert.equal(client.requests.length, 0);
});

test('bootObj, add, modify and del keep the list; a gap bootstraps again', async () => {
  const { client, conf, seen } = await joined({ rebootMinMs: 0 });
  client.event(la({ action: 'bootObj', wireSerno: -1, data: [['a', row(7, 'Me')], ['b', row(8, 'Bob')]] }));
  assert.deepEqual(conf.members.map((m) => m.name), ['Me', 'Bob']);
  assert.equal(conf.self.name, 'Me');
  assert.deepEqual(seen.map((s) => s.action), ['add', 'add', 'boot']);
  client.event(la({ action: 'add', arrIndex: 2, hashKey: 'c', wireSerno: 5, data: row(9, 'Carol') }));
  client.event(la({ action: 'modify', hashKey: 'b', wireSerno: 6, data: row(8, 'Bob', { muted: true }) }));
  assert.ok(conf.member(8).audioMuted);
  assert.equal(seen.at(-1).action, 'modify');
  assert.equal(seen.at(-1).previous.audioMuted, false);
  client.event(la({ action: 'del', hashKey: 'c', wireSerno: 7, data: row(9, 'Carol') }));
  assert.deepEqual(conf.members.map((m) => m.id), [7, 8]);
  const boots = () => client.sent('verto.broadcast').filter((r) => r.params.data.liveArray?.command === 'bootstrap').length;
  assert.equal(boots(), 1);
  client.event(la({ action: 'modify', hashKey: 'b', wireSerno: 11, data: row(8, 'Bob') }));
  assert.equal(boots(), 2, 'a gap in wireSerno must fetch the list again');
  client.event(la({ action: 'clear', wireSerno: -1, data: {} }));
  assert.equal(conf.members.length, 0);
});

test('a bootObj after missed changes reports the joins and leaves', async () => {
  const { client, seen } = await joined();
  client.event(la({ action: 'bootObj', wireSerno: -1, data: [['a', row(7, 'Me')], ['b', row(8, 'Bob')]] }));
  seen.length = 0;
  client.event(la({ action: 'bootObj', wireSerno: -1, data: [['a', row(7, 'Me')], ['c', row(9, 'Carol')]] }));
  assert.deepEqual(seen.map((s) => `${s.action}:${s.member?.name ?? ''}`), ['del:Bob', 'modify:Me', 'add:Carol', 'boot:']);
});

test('chat: messages once each; the history after a reconnect adds only what was missed', async () => {
  const { client, conf } = await joined();
  const got = [];
  conf.addEventListener('chat', (ev) => got.push(ev.detail));
  const msg = (text, from = 'bob@localhost') => ({ direction: 'outbound', message: text, fromDisplay: 'Bob', from, type: 'message' });
  client.event({ eventChannel: 'confd.chat.history', data: { chatChannel: CHAT, messages: [msg('one'), msg('two')] } });
  client.event({ eventChannel: CHAT, data: msg('three') });
  assert.deepEqual(got.map((m) => [m.message, m.history]), [['one', true], ['two', true], ['three', false]]);
  // The socket dropped while "four" was posted; the new subscription's history overlaps.
  client.event({ eventChannel: 'confd.chat.history', data: { chatChannel: CHAT, messages: [msg('one'), msg('two'), msg('three'), msg('four')] } });
  assert.deepEqual(got.map((m) => m.message), ['one', 'two', 'three', 'four']);
  client.event({ eventChannel: 'confd.chat.history', data: { chatChannel: 'conference-chat.9999@localhost', messages: [msg('elsewhere')] } });
  assert.equal(got.length, 4);
  await conf.sendChat('hi');
  const sent = client.sent('verto.broadcast').at(-1);
  assert.equal(sent.params.eventChannel, CHAT);
  assert.deepEqual(sent.params.data, { action: 'send', message: 'hi', type: 'message' });
});

test('a reconnect that reattached the call subscribes and bootstraps again', async () => {
  const { client } = await joined();
  const subs = () => client.sent('verto.subscribe').length;
  client.ready(['some-other-call']);
  await tick();
  assert.equal(subs(), 1);
  client.ready([CALL]);
  await tick();
  assert.equal(subs(), 2);
  assert.equal(client.sent('verto.broadcast').filter((r) => r.params.data.liveArray).length, 2);
});

test('an already-subscribed error still bootstraps; another error is reported', async () => {
  const client = new FakeClient();
  const { VertoError } = await import('../../frontend/static/verto.js');
  client.replies['verto.subscribe'] = () => Promise.reject(new VertoError('verto.subscribe', { alreadySubscribedChannels: [LA] }));
  const conf = new Conference(client, CALL);
  client.event(pvt());
  await tick();
  assert.equal(client.sent('verto.broadcast').length, 1);
  const errors = [];
  conf.addEventListener('error', (ev) => errors.push(ev.detail.message));
  client.replies['verto.subscribe'] = () => Promise.reject(new VertoError('verto.subscribe', { unauthorizedChannels: [MOD] }));
  client.ready([CALL]);
  await tick();
  assert.equal(errors.length, 1);
});

test('moving to another room: part unsubscribes and clears; join follows the new channels', async () => {
  const { client, conf, seen } = await joined();
  client.event(la({ action: 'bootObj', wireSerno: -1, data: [['a', row(7, 'Me')]] }));
  client.event(pvt('conference-liveArray-part'));
  assert.equal(conf.info, null);
  assert.equal(conf.members.length, 0);
  assert.equal(seen.at(-1).action, 'clear');
  assert.deepEqual(client.sent('verto.unsubscribe')[0].params.eventChannel, [LA, CHAT, MOD]);
  const la2 = 'conference-liveArray.3501@localhost';
  client.event({ ...pvt(), pvtData: { ...pvt().pvtData, laChannel: la2, laName: '3501', chatChannel: 'conference-chat.3501@localhost', modChannel: undefined, role: 'participant' } });
  await tick();
  assert.deepEqual(client.sent('verto.subscribe').at(-1).params.eventChannel, [la2, 'conference-chat.3501@localhost']);
  assert.equal(conf.room, '3501');
  assert.equal(conf.moderator, false);
  await assert.rejects(conf.command('kick', 8), /moderators only/);
});

test('moderator commands go to the mod channel; refusals reject; lock responses are followed', async () => {
  const { client, conf } = await joined();
  await conf.command('vid-banner', 8, 'Head%20of%20Design');
  const sent = client.sent('verto.broadcast').at(-1);
  assert.equal(sent.params.eventChannel, MOD);
  assert.deepEqual(sent.params.data, { application: 'conf-control', command: 'vid-banner', id: 8, value: 'Head%20of%20Design' });
  client.replies['verto.broadcast'] = () => Promise.resolve({ message: 'Permission Denied.', code: -32002 });
  await assert.rejects(conf.command('kick', 8), /Permission Denied/);
  const locks = [];
  conf.addEventListener('locked', (ev) => locks.push(ev.detail.locked));
  client.event({ eventChannel: MOD, data: { action: 'response', 'conf-command': '3500 lock 0', response: '+OK locked\n' } });
  client.event({ eventChannel: MOD, data: { action: 'response', 'conf-command': '3500 unlock 0', response: '+OK unlocked\n' } });
  assert.deepEqual(locks, [true, false]);
  assert.equal(conf.locked, false);
});

test("a moderator joining a locked room learns it from its pvtData", async () => {
  const client = new FakeClient();
  const conf = new Conference(client, CALL);
  const locks = [];
  conf.addEventListener('locked', (ev) => locks.push(ev.detail));
  assert.equal(conf.locked, null);
  client.event(pvt('conference-liveArray-join', { confd: { locked: true } }));
  assert.deepEqual(locks, [{ locked: true, joined: true }]);
  assert.equal(conf.locked, true);
});

// ---------------------------------------------------------------------------
// selfstate.js

function me({ audioMuted = false, videoMuted = false, handRaised = false, muteLocked = false } = {}) {
  return { audioMuted, videoMuted, handRaised, muteLocked };
}

test('joining muted sends 0 once, again only if the row does not follow', () => {
  let now = 1000;
  const s = new SelfState({ audio: true, video: false, hand: false }, { now: () => now, resendMs: 4000 });
  assert.deepEqual(s.codes(me()).map((c) => c.digits), ['0']);
  assert.deepEqual(s.codes(me()), [], 'a code in flight is not sent twice');
  now += 4001;
  assert.deepEqual(s.codes(me()).map((c) => c.digits), ['0']);
  assert.deepEqual(s.follow(me({ audioMuted: true }), me()), [], 'our own change is not adopted as the server’s');
  assert.deepEqual(s.codes(me({ audioMuted: true })), []);
});

test('toggling twice before the row follows is not taken for the server’s change', () => {
  const s = new SelfState({ audio: false, video: false, hand: false }, { now: () => 1 });
  s.ask('hand', true);
  assert.deepEqual(s.codes(me()).map((c) => c.digits), ['*1']);
  s.ask('hand', false);
  assert.deepEqual(s.codes(me()).map((c) => c.digits), ['*1'], 'the raise is still in flight: lower it again');
  assert.deepEqual(s.follow(me({ handRaised: true }), me()), []);
  assert.deepEqual(s.follow(me(), me({ handRaised: true })), []);
  assert.equal(s.want.hand, false);
  assert.deepEqual(s.codes(me()), []);
});

test('a moderator’s mute is adopted and cannot be undone by the member', () => {
  const s = new SelfState({ audio: false, video: false, hand: false });
  const before = me();
  const after = me({ audioMuted: true, muteLocked: true });
  assert.deepEqual(s.follow(after, before), [{ kind: 'audio', value: true }]);
  assert.equal(s.want.audio, true);
  assert.equal(s.ask('audio', false, after), false);
  assert.deepEqual(s.codes(after), []);
  // The moderator unmutes: adopted too.
  assert.deepEqual(s.follow(me(), after), [{ kind: 'audio', value: false }]);
  assert.equal(s.ask('audio', true, me()), true);
});

test('lowered hands are adopted; camera and hand codes; no microphone, no audio code', () => {
  let now = 1;
  const s = new SelfState({ audio: false, video: false, hand: false }, { now: () => now });
  s.ask('hand', true);
  s.ask('video', true);
  assert.deepEqual(s.codes(me(), { audio: false, video: true }).map((c) => c.digits), ['*0', '*1']);
  now += 10;
  s.follow(me({ handRaised: true, videoMuted: true }), me());
  assert.deepEqual(s.follow(me({ videoMuted: true }), me({ handRaised: true, videoMuted: true })), [{ kind: 'hand', value: false }]);
  s.ask('audio', true);
  assert.deepEqual(s.codes(me({ videoMuted: true }), { audio: false, video: true }), [], 'nothing to mute without a microphone');
  s.failed('audio');
});

// ---------------------------------------------------------------------------
// quality.js

function report(entries) {
  return { forEach: (f) => entries.forEach(f) };
}

test('the connection rating follows loss and round-trip time', () => {
  const pair = (rtt) => ({ type: 'candidate-pair', nominated: true, state: 'succeeded', currentRoundTripTime: rtt });
  const audio = (got, lost, jitter = 0.005) => ({ type: 'inbound-rtp', kind: 'audio', packetsReceived: got, packetsLost: lost, jitter });
  const first = rate(report([pair(0.02), audio(100, 0)]), null);
  assert.equal(first.level, 0);
  const good = rate(report([pair(0.02), audio(200, 0)]), first.sample);
  assert.equal(good.level, 3);
  assert.match(good.text, /^good \(0% loss, 20 ms round trip\)$/);
  const fair = rate(report([pair(0.02), audio(295, 5)]), good.sample);
  assert.equal(fair.level, 2);
  const poor = rate(report([pair(0.9), audio(395, 5)]), fair.sample);
  assert.equal(poor.level, 1);
  assert.equal(rate(null, poor.sample).level, 0);
});
