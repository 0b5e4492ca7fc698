// conference.js: the Verto conference channels of one call (verto-spec §9,
// docs/protocol.md): the pvtData that names them, the live array (the
// participant list, with confd's status extension), chat with
// confd.chat.history, and moderator commands. Protocol only, no DOM.
//
//   const conf = new Conference(client, call.id);
//   conf.addEventListener('members', …);   // the list changed
//   conf.addEventListener('chat', …);      // a message, once each
//   await conf.sendChat('hello');
//   await conf.command('tmute', 7);        // moderators only
//
// After a reconnect the server reattaches the call but the new socket has
// no subscriptions: on verto.clientReady listing the call, the channels are
// subscribed again and the list bootstrapped again.

import { VertoError } from './verto.js';

const HISTORY_CHANNEL = 'confd.chat.history';
const REBOOT_MIN_MS = 2000; // a gap in wireSerno re-bootstraps, at most this often

/**
 * parseRow turns a live-array row ([id, number, name, codec, status JSON,
 * userVariables, null]) into a member object.
 */
export function parseRow(key, row) {
  const r = Array.isArray(row) ? row : [];
  let st = {};
  try {
    st = typeof r[4] === 'string' ? JSON.parse(r[4]) : (r[4] ?? {});
  } catch {
    st = {};
  }
  const a = st.audio && typeof st.audio === 'object' ? st.audio : {};
  const v = st.video && typeof st.video === 'object' ? st.video : null;
  const c = st.confd && typeof st.confd === 'object' ? st.confd : {};
  const codec = String(r[3] ?? '');
  const kind = ['browser', 'phone', 'screen', 'stream'].includes(c.kind) ? c.kind : (v?.screenShare ? 'screen' : 'browser');
  return {
    key: String(key ?? ''),
    id: parseInt(r[0], 10) || 0,
    number: String(r[1] ?? ''),
    name: String(r[2] ?? ''),
    codec,
    kind,
    audioMuted: !!a.muted,
    deaf: !!a.deaf,
    onHold: !!a.onHold,
    talking: !!a.talking,
    audioFloor: !!a.floor,
    energy: Number(a.energyScore) || 0,
    hasVideo: !!v,
    videoMuted: !!v?.muted,
    videoFloor: !!v?.floor,
    floorLocked: !!v?.floorLocked,
    screenShare: kind === 'screen' || !!v?.screenShare,
    handRaised: !!c.handRaised,
    muteLocked: !!c.muteLocked,
    banner: typeof c.banner === 'string' ? c.banner : '',
    lobby: !!c.lobby,
    recording: !!c.recording, // the room is being recorded (every row says so)
    userData: r[5] && typeof r[5] === 'object' ? r[5] : {},
  };
}

function sameMessage(a, b) {
  return a.from === b.from && a.message === b.message && (a.fromDisplay ?? '') === (b.fromDisplay ?? '');
}

/**
 * Conference follows the conference channels of one call.
 *
 * Events: "join" / "part" (detail: the pvtData), "members" (detail:
 * {action: boot|add|modify|del|clear, member, previous}), "chat" (detail:
 * a message {from, fromDisplay, message, type, history}), "response"
 * (detail: a moderator-channel response {command, response, error}),
 * "locked" (detail.locked, from a moderator's pvtData with detail.joined,
 * then from lock/unlock responses).
 */
export class Conference extends EventTarget {
  #client;
  #callID;
  #info = null;
  #members = new Map(); // call key → member, in list order
  #serno = 0; // last wireSerno applied; 0: the next one is accepted whatever it is
  #lastReboot = 0;
  #rebootMinMs;
  #chat = []; // messages shown, for de-duplicating the history after a reconnect
  #locked = null;
  #onEvent;
  #onReady;
  #closed = false;

  /**
   * @param {import('./verto.js').VertoClient} client
   * @param {string} callID the call whose conference this is
   * @param {{rebootMinMs?: number}} [o] how often a gap may fetch the list again
   */
  constructor(client, callID, { rebootMinMs = REBOOT_MIN_MS } = {}) {
    super();
    this.#client = client;
    this.#callID = callID;
    this.#rebootMinMs = rebootMinMs;
    this.#onEvent = (ev) => this.#event(ev.detail);
    this.#onReady = (ev) => this.#ready(ev.detail);
    client.addEventListener('event', this.#onEvent);
    client.addEventListener('ready', this.#onReady);
  }

  /** The pvtData of the room joined (null before it arrives). */
  get info() {
    return this.#info;
  }

  /** This call's member id in the room (0 before joining). */
  get memberID() {
    return parseInt(this.#info?.conferenceMemberID, 10) || 0;
  }

  get moderator() {
    return this.#info?.role === 'moderator';
  }

  /** The room's number (laName). */
  get room() {
    return this.#info?.laName ?? '';
  }

  /** Whether a moderator locked the room (null: not known). */
  get locked() {
    return this.#locked;
  }

  /** The members in list (join) order. */
  get members() {
    return [...this.#members.values()];
  }

  /** This call's own member, once the list has it. */
  get self() {
    const id = this.memberID;
    return id ? this.members.find((m) => m.id === id) ?? null : null;
  }

  member(id) {
    return this.members.find((m) => m.id === id) ?? null;
  }

  /** sendChat posts a message to the room's chat. */
  sendChat(message) {
    const ch = this.#info?.chatChannel;
    if (!ch) {
      return Promise.reject(new Error('not in a conference'));
    }
    return this.#client.request('verto.broadcast', { eventChannel: ch, data: { action: 'send', message, type: 'message' } });
  }

  /**
   * command sends a moderator command (conf-control). Its response comes
   * as a "response" event to every moderator.
   */
  command(command, id = null, value = null) {
    const ch = this.#info?.modChannel;
    if (!ch) {
      return Promise.reject(new Error('moderators only'));
    }
    const data = { application: 'conf-control', command, id, value };
    return this.#client.request('verto.broadcast', { eventChannel: ch, data }).then((res) => {
      if (res?.code === -32002) {
        throw new VertoError('verto.broadcast', res);
      }
      return res;
    });
  }

  /** close stops following the channels. */
  close() {
    if (this.#closed) {
      return;
    }
    this.#closed = true;
    this.#client.removeEventListener('event', this.#onEvent);
    this.#client.removeEventListener('ready', this.#onReady);
    const chans = this.#channels();
    if (chans.length && this.#client.state === 'ready') {
      this.#client.request('verto.unsubscribe', { eventChannel: chans }).catch(() => {});
    }
  }

  #channels() {
    const i = this.#info;
    return i ? [i.laChannel, i.chatChannel, i.modChannel].filter((c) => typeof c === 'string' && c) : [];
  }

  #event(p) {
    if (this.#closed || !p) {
      return;
    }
    if (p.eventType === 'channelPvtData' && p.pvtData?.callID === this.#callID) {
      this.#pvtData(p.pvtData);
      return;
    }
    const i = this.#info;
    if (!i) {
      return;
    }
    switch (p.eventChannel) {
      case i.laChannel:
        this.#liveArray(p.data);
        break;
      case i.chatChannel:
        this.#chatMessage(p.data, false);
        break;
      case i.modChannel:
        this.#modResponse(p.data);
        break;
      case HISTORY_CHANNEL:
        if (p.data?.chatChannel === i.chatChannel) {
          this.#history(Array.isArray(p.data.messages) ? p.data.messages : []);
        }
        break;
      default:
        break;
    }
  }

  #pvtData(d) {
    if (d.action === 'conference-liveArray-part') {
      const chans = this.#channels();
      this.#info = null;
      this.#members.clear();
      this.#serno = 0;
      this.#locked = null;
      if (chans.length) {
        this.#client.request('verto.unsubscribe', { eventChannel: chans }).catch(() => {});
      }
      this.dispatchEvent(new CustomEvent('members', { detail: { action: 'clear' } }));
      this.dispatchEvent(new CustomEvent('part', { detail: d }));
      return;
    }
    if (d.action !== 'conference-liveArray-join') {
      return;
    }
    const moved = this.#info && this.#info.laChannel !== d.laChannel;
    this.#info = { ...d };
    if (moved) {
      this.#chat = [];
    }
    this.dispatchEvent(new CustomEvent('join', { detail: d }));
    if (typeof d.confd?.locked === 'boolean') {
      this.#locked = d.confd.locked;
      this.dispatchEvent(new CustomEvent('locked', { detail: { locked: this.#locked, joined: true } }));
    }
    this.#subscribe();
  }

  // #ready re-subscribes after a reconnect that reattached this call.
  #ready(p) {
    const ids = Array.isArray(p?.reattached_sessions) ? p.reattached_sessions : [];
    if (this.#info && ids.includes(this.#callID)) {
      this.#subscribe();
    }
  }

  async #subscribe() {
    const i = this.#info;
    const chans = this.#channels();
    try {
      await this.#client.request('verto.subscribe', { eventChannel: chans });
    } catch (err) {
      // Nothing new subscribed (already subscribed): the channels work.
      if (!(err instanceof VertoError) || !err.data?.alreadySubscribedChannels) {
        this.dispatchEvent(new CustomEvent('error', { detail: { message: `cannot follow the room: ${err.message}` } }));
        return;
      }
    }
    if (i === this.#info) {
      this.#bootstrap();
    }
  }

  #bootstrap() {
    const i = this.#info;
    if (!i) {
      return;
    }
    this.#lastReboot = Date.now();
    const data = { liveArray: { command: 'bootstrap', context: i.laChannel, name: i.laName } };
    this.#client.request('verto.broadcast', { eventChannel: i.laChannel, data }).catch(() => {});
  }

  #liveArray(d) {
    if (!d || typeof d !== 'object' || (d.name !== undefined && d.name !== this.#info.laName)) {
      return;
    }
    const serno = Number(d.wireSerno);
    switch (d.action) {
      case 'bootObj':
        this.#boot(Array.isArray(d.data) ? d.data : []);
        return;
      case 'clear':
        this.#serno = 0;
        this.#members.clear();
        this.dispatchEvent(new CustomEvent('members', { detail: { action: 'clear' } }));
        return;
      default:
        break;
    }
    if (serno >= 0) {
      if (this.#serno !== 0 && serno !== this.#serno + 1) {
        // A change was missed: the list cannot be trusted, fetch it again.
        if (Date.now() - this.#lastReboot >= this.#rebootMinMs) {
          this.#bootstrap();
        }
      }
      this.#serno = serno;
    }
    if (!d.hashKey) {
      return;
    }
    const key = String(d.hashKey);
    const previous = this.#members.get(key) ?? null;
    switch (d.action) {
      case 'add':
      case 'modify': {
        const member = parseRow(key, d.data);
        this.#members.set(key, member);
        this.dispatchEvent(new CustomEvent('members', { detail: { action: previous ? 'modify' : 'add', member, previous } }));
        break;
      }
      case 'del':
        if (previous) {
          this.#members.delete(key);
          this.dispatchEvent(new CustomEvent('members', { detail: { action: 'del', member: previous, previous } }));
        }
        break;
      default:
        break;
    }
  }

  #boot(pairs) {
    const before = this.#members;
    this.#members = new Map();
    for (const pair of pairs) {
      if (Array.isArray(pair) && pair.length >= 2) {
        const m = parseRow(pair[0], pair[1]);
        this.#members.set(m.key, m);
      }
    }
    this.#serno = 0;
    // Report the differences, so listeners see joins and leaves they missed.
    for (const [key, old] of before) {
      if (!this.#members.has(key)) {
        this.dispatchEvent(new CustomEvent('members', { detail: { action: 'del', member: old, previous: old, boot: true } }));
      }
    }
    for (const [key, m] of this.#members) {
      const previous = before.get(key) ?? null;
      this.dispatchEvent(new CustomEvent('members', { detail: { action: previous ? 'modify' : 'add', member: m, previous, boot: true } }));
    }
    this.dispatchEvent(new CustomEvent('members', { detail: { action: 'boot' } }));
  }

  #chatMessage(d, history) {
    if (!d || typeof d.message !== 'string') {
      return;
    }
    const msg = {
      from: String(d.from ?? ''),
      fromDisplay: typeof d.fromDisplay === 'string' ? d.fromDisplay : '',
      message: d.message,
      type: String(d.type ?? 'message'),
      history,
    };
    this.#chat.push(msg);
    if (this.#chat.length > 500) {
      this.#chat.splice(0, this.#chat.length - 500);
    }
    this.dispatchEvent(new CustomEvent('chat', { detail: msg }));
  }

  // #history adds the room's recent messages that this page has not shown:
  // after a reconnect the history overlaps what arrived live.
  #history(messages) {
    const seen = this.#chat;
    let from = 0;
    for (let j = messages.length; j > 0 && seen.length; j--) {
      const n = Math.min(j, seen.length);
      let match = true;
      for (let k = 1; k <= n && match; k++) {
        match = sameMessage(messages[j - k], seen[seen.length - k]);
      }
      if (match) {
        from = j;
        break;
      }
    }
    for (const m of messages.slice(from)) {
      this.#chatMessage(m, true);
    }
  }

  #modResponse(d) {
    if (!d || d.action !== 'response') {
      return;
    }
    const response = typeof d.response === 'string' ? d.response.trim() : '';
    const detail = { command: String(d['conf-command'] ?? ''), response, error: typeof d.error === 'string' ? d.error : '' };
    if (/^\+OK (locked|unlocked)$/.test(response)) {
      this.#locked = response.endsWith(' locked');
      this.dispatchEvent(new CustomEvent('locked', { detail: { locked: this.#locked } }));
    }
    this.dispatchEvent(new CustomEvent('response', { detail }));
  }
}
