// verto.js: a small Verto client (FreeSWITCH's JSON-RPC 2.0 over a
// websocket) with confd's extensions. No dependencies, no build step.
//
//   const client = new VertoClient({url, login, passwd, sessid});
//   await client.connect();
//   const call = client.call({destination: '3500', callerName: 'Ada',
//                             audioTrack, videoTrack, slots: 4});
//   call.addEventListener('slots', …);   // who fills each receive slot
//   await call.start();
//
// The client logs in with credentials straight away, matches replies to
// requests by integer id, puts its sessid in every request, acknowledges
// server requests that carry a callID the way verto.js does, and after a
// dropped socket reconnects with the same sessid: confd then re-offers each
// answered call with verto.attach, which Call answers on a new
// RTCPeerConnection that reuses the local tracks.

const AUTH_REQUIRED = -32000;
const REQUEST_TIMEOUT_MS = 20000;
const RECONNECT_DELAYS_MS = [1000, 2000, 3000, 5000];
// Non-trickle ICE: send the SDP once gathering completes, or this long
// after the first candidate (as verto.js does), and never later than the cap.
const ICE_AFTER_FIRST_MS = 1000;
const ICE_CAP_MS = 5000;
const SLOTS_CHANNEL = 'confd.slots';
const LAYERS_CHANNEL = 'confd.layers';
// Simulcast encodings, smallest first (docs/protocol.md, Simulcast): a
// 1280x720 camera gives 320x180, 640x360 and 1280x720.
const SIMULCAST = Object.freeze([
  { rid: 'q', scaleResolutionDownBy: 4, maxBitrate: 150_000 },
  { rid: 'h', scaleResolutionDownBy: 2, maxBitrate: 500_000 },
  { rid: 'f', maxBitrate: 1_500_000 },
]);

/**
 * shapeSimulcast gives the encodings of a sender made from confd's offer
 * (a reattach that asks for rids q, h, f) the sizes and bitrate caps of
 * SIMULCAST; the browser's defaults leave the bitrates uncapped. A browser
 * that refuses keeps its defaults.
 */
async function shapeSimulcast(sender) {
  const params = sender.getParameters();
  if (!params.encodings || params.encodings.length < 2) {
    return;
  }
  for (const e of params.encodings) {
    const want = SIMULCAST.find((s) => s.rid === e.rid);
    if (want) {
      e.maxBitrate = want.maxBitrate;
      e.scaleResolutionDownBy = want.scaleResolutionDownBy ?? 1;
    }
  }
  await sender.setParameters(params).catch(() => {});
}

/** Q.850 cause codes the client sends with verto.bye. */
export const CAUSES = Object.freeze({
  NORMAL_CLEARING: 16,
  USER_BUSY: 17,
  CALL_REJECTED: 21,
  DESTINATION_OUT_OF_ORDER: 27,
  INCOMPATIBLE_DESTINATION: 88,
});

// Module-private hooks between VertoClient and Call.
const serverRequest = Symbol('serverRequest');
const slotsUpdate = Symbol('slotsUpdate');
const layersUpdate = Symbol('layersUpdate');
const socketLost = Symbol('socketLost');
const clientReady = Symbol('clientReady');
const forget = Symbol('forget');

/**
 * A failed request: the server's JSON-RPC error, or a local failure whose
 * code is a string ("timeout", "disconnected", "closed", "unreachable").
 */
export class VertoError extends Error {
  constructor(method, error) {
    const e = error && typeof error === 'object' ? error : {};
    super(e.reason || e.message || 'request failed');
    this.name = 'VertoError';
    this.method = method;
    this.code = e.code;
    this.data = e;
  }
}

/** uuid returns a random (version 4) UUID. */
export function uuid() {
  if (globalThis.crypto?.randomUUID) {
    return crypto.randomUUID();
  }
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  const h = Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

const tabSessids = new Map(); // storage key → Promise of this page's sessid

/**
 * tabSessid returns this tab's Verto session id, kept in sessionStorage so
 * a reload keeps it and two tabs are two members. A duplicated tab copies
 * sessionStorage; a Web Lock held for the page's lifetime detects that and
 * gives the copy an id of its own (otherwise the server would punt one).
 */
export function tabSessid(key = 'confd.verto.sessid') {
  if (!tabSessids.has(key)) {
    tabSessids.set(key, claimSessid(key));
  }
  return tabSessids.get(key);
}

async function claimSessid(key) {
  let id = readStorage(key);
  if (id && (await holdLock(id))) {
    return id;
  }
  id = uuid();
  writeStorage(key, id);
  await holdLock(id);
  return id;
}

function holdLock(id) {
  if (!navigator.locks?.request) {
    return Promise.resolve(true);
  }
  return new Promise((resolve) => {
    navigator.locks
      .request(`confd-sessid-${id}`, { ifAvailable: true }, (lock) => {
        resolve(lock !== null);
        return lock ? new Promise(() => {}) : undefined; // held until the page goes
      })
      .catch(() => resolve(true));
  });
}

function readStorage(key) {
  try {
    return sessionStorage.getItem(key);
  } catch {
    return null;
  }
}

function writeStorage(key, value) {
  try {
    sessionStorage.setItem(key, value);
  } catch {
    // Storage can be disabled; the id then lasts as long as the page.
  }
}

/**
 * VertoClient is one Verto session over a websocket.
 *
 * Events: "state" (detail.state: connecting, ready, reconnecting,
 * authenticating, closed), "login" (detail.reconnected), "ready"
 * (verto.clientReady params), "event" (verto.event params), "request"
 * (every server request: detail.method, detail.params), "unknowncall" (a
 * server offer for a call this client does not have; cancelable, else it
 * is hung up), "punt" (another connection took the session over; no
 * reconnect follows), "close" (detail.error when the session failed).
 */
export class VertoClient extends EventTarget {
  #url;
  #login;
  #passwd;
  #loginParams;
  #userVariables;
  #sessid;
  #timeout;
  #ws = null;
  #state = 'idle';
  #nextId = 1;
  #pending = new Map(); // request id → {method, resolve, reject, timer}
  #queue = []; // requests made while not logged in
  #calls = new Map(); // callID → Call
  #stopped = false;
  #everLoggedIn = false;
  #attempt = 0;
  #retryTimer = 0;
  #connected = null; // {resolve, reject} of connect()
  #loginResult = {};

  /**
   * @param {object} o
   * @param {string} o.url websocket URL (ws: or wss:)
   * @param {string} o.login "user@domain"
   * @param {string} o.passwd
   * @param {string} [o.sessid] defaults to a fresh UUID
   */
  constructor({ url, login, passwd, sessid, loginParams = {}, userVariables = {}, requestTimeout = REQUEST_TIMEOUT_MS }) {
    super();
    this.#url = url;
    this.#login = login;
    this.#passwd = passwd;
    this.#loginParams = loginParams;
    this.#userVariables = userVariables;
    this.#sessid = sessid || uuid();
    this.#timeout = requestTimeout;
  }

  get sessid() {
    return this.#sessid;
  }

  get state() {
    return this.#state;
  }

  /** The login this client authenticates as. */
  get login() {
    return this.#login;
  }

  /** Whether the server logged this session in as a moderator. */
  get moderator() {
    return this.#loginResult.moderator === true;
  }

  /**
   * The ICE servers confd gave this session at its latest login (its
   * iceServers extension, with fresh TURN credentials), or null.
   */
  get iceServers() {
    return Array.isArray(this.#loginResult.iceServers) ? this.#loginResult.iceServers : null;
  }

  /**
   * connect opens the socket and logs in. It resolves at the first
   * successful login and rejects if the server cannot be reached or refuses
   * the credentials. Later drops reconnect by themselves.
   */
  connect() {
    if (this.#state !== 'idle') {
      return Promise.reject(new Error('connect may be called once'));
    }
    return new Promise((resolve, reject) => {
      this.#connected = { resolve, reject };
      this.#open();
    });
  }

  /** close ends the session for good; calls still up end locally. */
  close() {
    if (this.#stopped) {
      return;
    }
    this.#stopped = true;
    clearTimeout(this.#retryTimer);
    for (const call of [...this.#calls.values()]) {
      call[socketLost](true);
    }
    const ws = this.#ws;
    if (ws) {
      ws.close(1000, 'bye');
    } else {
      this.#finish(null);
    }
  }

  /**
   * request sends method with params (sessid added) and resolves with the
   * result, or rejects with a VertoError. Requests made while the client
   * is (re)connecting wait for the login.
   */
  request(method, params = {}) {
    return new Promise((resolve, reject) => {
      const job = { method, params, resolve, reject };
      if (this.#state === 'ready') {
        this.#run(job);
      } else if (this.#state === 'closed' || this.#state === 'idle') {
        reject(new VertoError(method, { code: 'closed', message: 'not connected' }));
      } else {
        this.#queue.push(job);
      }
    });
  }

  /** call makes an outbound Call (see Call); start() places it. */
  call(options) {
    const c = new Call(this, options);
    this.#calls.set(c.id, c);
    return c;
  }

  [forget](call) {
    if (this.#calls.get(call.id) === call) {
      this.#calls.delete(call.id);
    }
  }

  #setState(state) {
    if (this.#state !== state) {
      this.#state = state;
      this.dispatchEvent(new CustomEvent('state', { detail: { state } }));
    }
  }

  #open() {
    this.#setState(this.#everLoggedIn ? 'reconnecting' : 'connecting');
    let ws;
    try {
      ws = new WebSocket(this.#url);
    } catch (err) {
      this.#fail(new VertoError('login', { code: 'unreachable', message: err.message }));
      return;
    }
    this.#ws = ws;
    ws.addEventListener('open', () => this.#authenticate());
    ws.addEventListener('message', (ev) => this.#onFrame(ev.data));
    ws.addEventListener('close', (ev) => this.#onClose(ws, ev));
  }

  // #authenticate sends the credential login. confd, like FreeSWITCH,
  // answers -32000 to a login without credentials, so there is no point in
  // sending one first.
  #authenticate() {
    const params = {
      login: this.#login,
      passwd: this.#passwd,
      loginParams: this.#loginParams,
      userVariables: this.#userVariables,
    };
    this.#send('login', params).then(
      (result) => {
        this.#loginResult = result && typeof result === 'object' ? result : {};
        const reconnected = this.#everLoggedIn;
        this.#everLoggedIn = true;
        this.#attempt = 0;
        this.#setState('ready');
        this.dispatchEvent(new CustomEvent('login', { detail: { reconnected } }));
        this.#connected?.resolve();
        this.#connected = null;
        const queued = this.#queue.splice(0);
        queued.forEach((job) => this.#run(job));
      },
      (err) => {
        if (err.code !== 'disconnected') {
          this.#fail(err); // refused credentials do not get better by retrying
        }
      },
    );
  }

  #run(job) {
    this.#send(job.method, job.params).then(job.resolve, (err) => {
      if (err.code === AUTH_REQUIRED && this.#state === 'ready') {
        // The server forgot the login: log in again, then resend.
        this.#queue.push(job);
        this.#setState('authenticating');
        this.#authenticate();
        return;
      }
      if (err.code === AUTH_REQUIRED) {
        this.#queue.push(job);
        return;
      }
      job.reject(err);
    });
  }

  // #send writes one request on the open socket.
  #send(method, params) {
    return new Promise((resolve, reject) => {
      const ws = this.#ws;
      if (!ws || ws.readyState !== WebSocket.OPEN) {
        reject(new VertoError(method, { code: 'disconnected', message: 'not connected' }));
        return;
      }
      const id = this.#nextId++;
      const timer = setTimeout(() => {
        this.#pending.delete(id);
        reject(new VertoError(method, { code: 'timeout', message: `${method}: no reply from the server` }));
      }, this.#timeout);
      this.#pending.set(id, { method, resolve, reject, timer });
      ws.send(JSON.stringify({ jsonrpc: '2.0', method, params: { ...params, sessid: this.#sessid }, id }));
    });
  }

  #reply(id, result) {
    if (this.#ws?.readyState === WebSocket.OPEN) {
      this.#ws.send(JSON.stringify({ jsonrpc: '2.0', id, result }));
    }
  }

  #onFrame(data) {
    if (typeof data !== 'string' || data.startsWith('#')) {
      return; // speed-test frames and binary frames are not JSON-RPC
    }
    let msg;
    try {
      msg = JSON.parse(data);
    } catch {
      return;
    }
    for (const m of Array.isArray(msg) ? msg : [msg]) {
      if (!m || typeof m !== 'object') {
        continue;
      }
      if (typeof m.method === 'string') {
        this.#onServerRequest(m);
      } else {
        this.#onResponse(m);
      }
    }
  }

  #onResponse(m) {
    const p = this.#pending.get(m.id);
    if (!p) {
      return;
    }
    this.#pending.delete(m.id);
    clearTimeout(p.timer);
    if (m.error) {
      p.reject(new VertoError(p.method, m.error));
    } else {
      p.resolve(m.result ?? {});
    }
  }

  #onServerRequest({ id, method, params }) {
    const p = params && typeof params === 'object' ? params : {};
    // verto.js acknowledges requests about a call, and verto.ping; never
    // events, clientReady or punt.
    if (id !== undefined && id !== null && (p.callID || method === 'verto.ping')) {
      this.#reply(id, { method });
    }
    const call = p.callID ? this.#calls.get(p.callID) : undefined;
    switch (method) {
      case 'verto.answer':
      case 'verto.media':
      case 'verto.bye':
      case 'verto.display':
      case 'verto.info':
      case 'verto.mediaParams':
        call?.[serverRequest](method, p);
        break;
      case 'verto.attach':
        if (call) {
          call[serverRequest](method, p);
        } else {
          this.#unknownCall(method, p);
        }
        break;
      case 'verto.invite':
        this.#unknownCall(method, p);
        break;
      case 'verto.event':
        if (p.eventChannel === SLOTS_CHANNEL && p.data?.callID) {
          this.#calls.get(p.data.callID)?.[slotsUpdate](p.data.slots);
        }
        if (p.eventChannel === LAYERS_CHANNEL && p.data?.callID) {
          this.#calls.get(p.data.callID)?.[layersUpdate](p.data.active);
        }
        this.dispatchEvent(new CustomEvent('event', { detail: p }));
        break;
      case 'verto.clientReady': {
        const ids = Array.isArray(p.reattached_sessions) ? p.reattached_sessions : [];
        for (const c of [...this.#calls.values()]) {
          c[clientReady](ids);
        }
        this.dispatchEvent(new CustomEvent('ready', { detail: p }));
        break;
      }
      case 'verto.punt':
        this.#punt();
        break;
      default:
        break;
    }
    this.dispatchEvent(new CustomEvent('request', { detail: { method, params: p } }));
  }

  // #unknownCall handles a server offer for a call this page does not have
  // (a call left behind by an earlier page with this sessid, or the server
  // calling us). Listeners of "unknowncall" may take it by calling
  // preventDefault(); otherwise it is hung up so no ghost member lingers.
  #unknownCall(method, params) {
    const ev = new CustomEvent('unknowncall', { detail: { method, params }, cancelable: true });
    if (this.dispatchEvent(ev) && params.callID) {
      const cause = method === 'verto.invite' ? 'CALL_REJECTED' : 'NORMAL_CLEARING';
      this.request('verto.bye', { dialogParams: { callID: params.callID }, cause, causeCode: CAUSES[cause] }).catch(() => {});
    }
  }

  #punt() {
    this.#stopped = true;
    clearTimeout(this.#retryTimer);
    for (const call of [...this.#calls.values()]) {
      call[socketLost](true, 'the session was opened somewhere else');
    }
    this.dispatchEvent(new Event('punt'));
    this.#ws?.close(1000, 'punted');
  }

  #onClose(ws, ev) {
    if (ws !== this.#ws) {
      return;
    }
    this.#ws = null;
    if (!this.#stopped && this.#everLoggedIn) {
      // Calls first: a request failing below must find them recovering.
      for (const call of [...this.#calls.values()]) {
        call[socketLost](false);
      }
    }
    this.#rejectPending();
    if (this.#stopped) {
      this.#finish(null);
      return;
    }
    if (!this.#everLoggedIn) {
      this.#fail(new VertoError('login', { code: 'unreachable', message: `cannot reach the server (websocket closed, code ${ev.code})` }));
      return;
    }
    const delay = RECONNECT_DELAYS_MS[Math.min(this.#attempt, RECONNECT_DELAYS_MS.length - 1)];
    this.#attempt++;
    this.#setState('reconnecting');
    this.#retryTimer = setTimeout(() => this.#open(), delay);
  }

  #rejectPending() {
    const pending = [...this.#pending.values()];
    this.#pending.clear();
    for (const p of pending) {
      clearTimeout(p.timer);
      p.reject(new VertoError(p.method, { code: 'disconnected', message: 'connection lost' }));
    }
  }

  // #fail ends the session after an error it cannot recover from.
  #fail(err) {
    this.#stopped = true;
    clearTimeout(this.#retryTimer);
    for (const call of [...this.#calls.values()]) {
      call[socketLost](true, err.message);
    }
    const ws = this.#ws;
    this.#ws = null;
    ws?.close();
    this.#rejectPending();
    this.#finish(err);
  }

  #finish(err) {
    for (const job of this.#queue.splice(0)) {
      job.reject(new VertoError(job.method, { code: 'closed', message: 'the session is closed' }));
    }
    this.#connected?.reject(err ?? new VertoError('login', { code: 'closed', message: 'closed' }));
    this.#connected = null;
    this.#setState('closed');
    this.dispatchEvent(new CustomEvent('close', { detail: { error: err } }));
  }
}

/**
 * Call is one outbound Verto call. Its offer has one audio section and
 * `slots` video sections; the first video section also carries the camera.
 * confd fills the receive side of each video section (a "slot") with a
 * member's camera and says which with the confd.slots event.
 *
 * States: new, requesting (offer being made / invite sent), trying (invite
 * accepted), early, active, recovering (socket lost, waiting for
 * verto.attach), ended.
 *
 * Events: "state" (detail.state), "slots" (detail.slots), "media" (the
 * PeerConnection or its remote tracks changed: rebind them), "connection"
 * (detail.state: the PeerConnection's connectionState), "message" (other
 * server requests about the call), "ended" (detail: {cause, causeCode,
 * reason, by: "local"|"remote"}). The cause "LOST" means the call went
 * with the connection: the server did not keep it for a reattach.
 */
export class Call extends EventTarget {
  #client;
  #opts;
  #dialog;
  #pc = null;
  #state = 'new';
  #slots = [];
  #started = null;

  /**
   * @param {VertoClient} client
   * @param {object} o
   * @param {string} o.destination room number
   * @param {string} [o.callerName]
   * @param {string} [o.callerNumber]
   * @param {MediaStreamTrack|null} [o.audioTrack] microphone (none: receive only)
   * @param {MediaStreamTrack|null} [o.videoTrack] camera (none: receive only)
   * @param {number} [o.slots] receive-video sections to offer
   * @param {RTCIceServer[]} [o.iceServers]
   * @param {boolean} [o.screenShare] a screen share (dialogParams.screenShare)
   * @param {boolean} [o.receiveAudio] offer to receive audio without a microphone
   * @param {string} [o.pin] the room's PIN (dialogParams.pin)
   * @param {boolean} [o.simulcast] send the camera as three encodings (q, h, f); confd
   *   forwards each viewer the one that fits its tile and asks (confd.layers) to pause
   *   the ones nobody watches
   */
  constructor(client, {
    destination, callerName = '', callerNumber = '', audioTrack = null, videoTrack = null, slots = 1,
    iceServers = [], userVariables = {}, screenShare = false, receiveAudio = true, pin = '', simulcast = false,
  }) {
    super();
    this.id = uuid();
    this.#client = client;
    this.#opts = { audioTrack, videoTrack, slots: Math.max(0, slots | 0), iceServers, receiveAudio: receiveAudio || !!audioTrack, simulcast };
    this.#dialog = {
      callID: this.id,
      destination_number: String(destination),
      caller_id_name: callerName,
      caller_id_number: callerNumber,
      remote_caller_id_name: 'Outbound Call',
      remote_caller_id_number: String(destination),
      useVideo: this.#opts.slots > 0 || !!videoTrack,
      useStereo: false,
      screenShare: !!screenShare,
      useMic: audioTrack ? 'any' : 'none',
      useCamera: videoTrack ? 'any' : 'none',
      userVariables,
    };
    if (pin) {
      this.#dialog.pin = String(pin);
    }
  }

  get state() {
    return this.#state;
  }

  get ended() {
    return this.#state === 'ended';
  }

  /** The current RTCPeerConnection (replaced on reattach; null when none). */
  get pc() {
    return this.#pc;
  }

  /** The latest confd.slots list: [{slot, mid, memberID, name, floor, pinned}]. */
  get slots() {
    return this.#slots.map((s) => ({ ...s }));
  }

  /** The received track of the transceiver with this SDP mid. */
  trackForMid(mid) {
    if (!this.#pc || mid === undefined || mid === null || mid === '') {
      return null;
    }
    const t = this.#pc.getTransceivers().find((tr) => tr.mid === String(mid));
    return t ? t.receiver.track : null;
  }

  /** The received audio (the room's mix). */
  get remoteAudioTrack() {
    const t = this.#pc?.getTransceivers().find((tr) => tr.receiver.track.kind === 'audio');
    return t ? t.receiver.track : null;
  }

  /**
   * start makes the offer, waits for ICE gathering (Verto does not
   * trickle) and sends verto.invite. It resolves once the server accepted
   * the invite or the call ended; failures end the call ("ended" says why).
   */
  start() {
    if (!this.#started) {
      this.#started = this.#invite();
    }
    return this.#started;
  }

  async #invite() {
    this.#setState('requesting');
    const pc = this.#newPeer();
    try {
      const { audioTrack, videoTrack, slots, receiveAudio } = this.#opts;
      const streams = this.#localStreams();
      if (audioTrack || receiveAudio) {
        pc.addTransceiver(audioTrack ?? 'audio', { direction: audioTrack ? 'sendrecv' : 'recvonly', streams: audioTrack ? streams : [] });
      }
      const videos = Math.max(slots, videoTrack ? 1 : 0);
      for (let i = 0; i < videos; i++) {
        if (i === 0 && videoTrack) {
          const sendEncodings = this.#opts.simulcast ? SIMULCAST.map((e) => ({ ...e })) : undefined;
          pc.addTransceiver(videoTrack, { direction: slots > 0 ? 'sendrecv' : 'sendonly', streams, sendEncodings });
        } else {
          pc.addTransceiver('video', { direction: 'recvonly' });
        }
      }
      const sdp = await completeDescription(pc);
      if (pc !== this.#pc) {
        return; // hung up meanwhile
      }
      await this.#client.request('verto.invite', { sdp, dialogParams: this.#dialog });
      if (this.#state === 'requesting') {
        this.#setState('trying');
      }
    } catch (err) {
      if (pc === this.#pc) {
        this.#end({ cause: 'INCOMPATIBLE_DESTINATION', reason: err.message, by: 'local' });
      }
    }
  }

  /**
   * hangup sends verto.bye and releases the PeerConnection. The local
   * tracks are the caller's: they are not stopped.
   */
  hangup(cause = 'NORMAL_CLEARING') {
    if (this.ended) {
      return Promise.resolve();
    }
    const bye = this.#state === 'new'
      ? Promise.resolve()
      : this.#client.request('verto.bye', { dialogParams: this.#dialog, cause, causeCode: CAUSES[cause] }).catch(() => {});
    this.#end({ cause, causeCode: CAUSES[cause], by: 'local' });
    return bye;
  }

  /** pin asks confd to show memberID in slot (0 releases the slot). */
  pin(slot, memberID) {
    return this.#client.request('confd.pin', { callID: this.id, slot, memberID });
  }

  /**
   * sendDTMF sends digits with verto.info. confd reads 0 (own microphone),
   * *0 (own camera) and *1 (hand) as in-call controls.
   */
  sendDTMF(digits) {
    return this.#client.request('verto.info', { dtmf: String(digits), dialogParams: this.#dialog });
  }

  /** request sends a call-scoped request (callID added) on the client. */
  request(method, params = {}) {
    return this.#client.request(method, { callID: this.id, ...params });
  }

  /** The number of receive-video sections (slots) this call offers. */
  get slotCount() {
    return this.#opts.slots;
  }

  /** The local tracks sent: {audio, video}. */
  get localTracks() {
    return { audio: this.#opts.audioTrack, video: this.#opts.videoTrack };
  }

  /**
   * replaceTrack sends track (or nothing, with null) instead of the current
   * microphone or camera, without renegotiating when the call already sends
   * that kind; otherwise the call is re-offered (verto.modify updateMedia).
   */
  async replaceTrack(kind, track) {
    const key = kind === 'audio' ? 'audioTrack' : 'videoTrack';
    this.#opts[key] = track;
    const pc = this.#pc;
    if (!pc) {
      return; // recovering: the attach answer sends it
    }
    const t = pc.getTransceivers().find((tr) => tr.receiver.track.kind === kind && !tr.stopped);
    if (!t) {
      return;
    }
    await t.sender.replaceTrack(track);
    if (track && !t.direction.startsWith('send')) {
      t.sender.setStreams?.(...this.#localStreams());
      t.direction = 'sendrecv';
      await this.#renegotiate();
    }
  }

  /**
   * addSlots offers `more` receive-video sections in a re-offer
   * (verto.modify updateMedia); confd makes each a new slot.
   */
  async addSlots(more) {
    const pc = this.#pc;
    if (!pc || more <= 0 || this.#state !== 'active') {
      return false;
    }
    for (let i = 0; i < more; i++) {
      pc.addTransceiver('video', { direction: 'recvonly' });
    }
    this.#opts.slots += more;
    await this.#renegotiate();
    return true;
  }

  async #renegotiate() {
    const pc = this.#pc;
    if (!pc || this.#state !== 'active' || pc.signalingState !== 'stable') {
      return;
    }
    let res;
    try {
      const sdp = await completeDescription(pc);
      res = await this.#client.request('verto.modify', { action: 'updateMedia', sdp, dialogParams: this.#dialog });
    } catch (err) {
      if (pc.signalingState === 'have-local-offer') {
        await pc.setLocalDescription({ type: 'rollback' }).catch(() => {});
      }
      throw err;
    }
    if (pc === this.#pc && res.sdp && pc.signalingState === 'have-local-offer') {
      await pc.setRemoteDescription({ type: 'answer', sdp: res.sdp });
      this.dispatchEvent(new Event('media'));
    }
  }

  /** stats resolves with the PeerConnection's RTCStatsReport (null without one). */
  stats() {
    return this.#pc ? this.#pc.getStats() : Promise.resolve(null);
  }

  [serverRequest](method, p) {
    switch (method) {
      case 'verto.media':
      case 'verto.answer':
        if (p.sdp) {
          this.#applyAnswer(p.sdp, method === 'verto.answer' ? 'active' : 'early');
        } else if (method === 'verto.answer' && this.#state === 'early') {
          this.#setState('active');
        }
        break;
      case 'verto.bye':
        this.#end({ cause: p.cause || 'NORMAL_CLEARING', causeCode: p.causeCode, reason: p.reason || '', by: 'remote' });
        break;
      case 'verto.attach':
        this.#attach(p.sdp);
        break;
      default:
        this.dispatchEvent(new CustomEvent('message', { detail: { method, params: p } }));
    }
  }

  [slotsUpdate](slots) {
    if (this.ended || !Array.isArray(slots)) {
      return;
    }
    this.#slots = slots
      .map((s) => ({
        slot: Number(s.slot) || 0,
        mid: s.mid == null ? '' : String(s.mid),
        memberID: Number(s.memberID) || 0,
        name: typeof s.name === 'string' ? s.name : '',
        floor: !!s.floor,
        pinned: !!s.pinned,
      }))
      .sort((a, b) => a.slot - b.slot);
    this.dispatchEvent(new CustomEvent('slots', { detail: { slots: this.slots } }));
  }

  // [layersUpdate] pauses the simulcast encodings nobody watches and
  // resumes the ones a viewer wants (confd.layers). A browser that cannot
  // change them keeps sending; confd just does not forward those.
  async [layersUpdate](active) {
    const sender = this.#pc?.getTransceivers().find((t) => t.sender.track?.kind === 'video')?.sender;
    if (!sender || !Array.isArray(active)) {
      return;
    }
    const params = sender.getParameters();
    if (!params.encodings || params.encodings.length < 2) {
      return;
    }
    let changed = false;
    for (const e of params.encodings) {
      const on = !e.rid || active.includes(e.rid);
      if (e.active !== on) {
        e.active = on;
        changed = true;
      }
    }
    if (changed) {
      await sender.setParameters(params).catch(() => {});
    }
  }

  // [socketLost] runs when the client's socket closed. An answered call
  // waits for the server's verto.attach; one not answered yet is gone
  // (the server hangs those up), as is every call when the client stops.
  [socketLost](final, reason = 'connection lost') {
    if (this.ended || this.#state === 'new') {
      return;
    }
    if (final) {
      this.#end({ cause: 'DESTINATION_OUT_OF_ORDER', reason, by: 'local' });
      return;
    }
    if (!['active', 'recovering'].includes(this.#state)) {
      // The server hangs up calls that were not answered when the socket went.
      this.#end({ cause: 'LOST', reason: 'the connection was lost before the call was answered', by: 'local' });
      return;
    }
    this.#closePeer();
    this.#setState('recovering');
    this.dispatchEvent(new Event('media'));
  }

  // [clientReady] ends a recovering call the server did not reattach.
  [clientReady](reattached) {
    if (this.#state === 'recovering' && !this.#pc && !reattached.includes(this.id)) {
      this.#end({ cause: 'LOST', reason: 'the server did not keep the call', by: 'remote' });
    }
  }

  async #applyAnswer(sdp, state) {
    const pc = this.#pc;
    if (!pc || pc.signalingState !== 'have-local-offer') {
      return;
    }
    try {
      await pc.setRemoteDescription({ type: 'answer', sdp });
    } catch (err) {
      if (pc === this.#pc) {
        this.#client.request('verto.bye', { dialogParams: this.#dialog, cause: 'INCOMPATIBLE_DESTINATION', causeCode: CAUSES.INCOMPATIBLE_DESTINATION }).catch(() => {});
        this.#end({ cause: 'INCOMPATIBLE_DESTINATION', reason: `cannot use the server's answer: ${err.message}`, by: 'local' });
      }
      return;
    }
    if (pc === this.#pc && !this.ended) {
      this.#setState(state);
      this.dispatchEvent(new Event('media'));
    }
  }

  // #attach answers the server's fresh offer after a reconnect on a new
  // PeerConnection, sending the same local tracks again: the microphone on
  // the first audio section, the camera on the first video section.
  async #attach(offer) {
    if (this.ended) {
      return;
    }
    this.#closePeer();
    this.#setState('recovering');
    const pc = this.#newPeer();
    try {
      if (!offer) {
        throw new Error('verto.attach without SDP');
      }
      await pc.setRemoteDescription({ type: 'offer', sdp: offer });
      const { audioTrack, videoTrack } = this.#opts;
      const streams = this.#localStreams();
      const used = new Set();
      for (const t of pc.getTransceivers()) {
        const kind = t.receiver.track.kind;
        const track = used.has(kind) ? null : kind === 'audio' ? audioTrack : videoTrack;
        used.add(kind);
        if (track) {
          await t.sender.replaceTrack(track);
          t.sender.setStreams?.(...streams);
          t.direction = 'sendrecv';
          if (kind === 'video' && this.#opts.simulcast) {
            await shapeSimulcast(t.sender);
          }
        } else {
          t.direction = 'recvonly';
        }
      }
      const sdp = await completeDescription(pc);
      if (pc !== this.#pc) {
        return;
      }
      await this.#client.request('verto.attach', { sdp, dialogParams: this.#dialog });
      if (pc === this.#pc && !this.ended) {
        this.#setState('active');
        this.dispatchEvent(new Event('media'));
      }
    } catch (err) {
      if (pc === this.#pc && !this.ended) {
        this.#end({ cause: 'INCOMPATIBLE_DESTINATION', reason: `cannot resume the call: ${err.message}`, by: 'local' });
      }
    }
  }

  #localStreams() {
    const tracks = [this.#opts.audioTrack, this.#opts.videoTrack].filter(Boolean);
    return tracks.length ? [new MediaStream(tracks)] : [];
  }

  #newPeer() {
    this.#closePeer();
    // The servers of the latest login first: a PeerConnection made after a
    // reconnect gets TURN credentials that have not expired.
    const iceServers = this.#client.iceServers ?? this.#opts.iceServers;
    const pc = new RTCPeerConnection({ iceServers, bundlePolicy: 'max-bundle' });
    pc.addEventListener('connectionstatechange', () => {
      if (pc === this.#pc) {
        this.dispatchEvent(new CustomEvent('connection', { detail: { state: pc.connectionState } }));
      }
    });
    this.#pc = pc;
    return pc;
  }

  #closePeer() {
    const pc = this.#pc;
    this.#pc = null;
    pc?.close();
  }

  #setState(state) {
    if (this.#state !== state) {
      this.#state = state;
      this.dispatchEvent(new CustomEvent('state', { detail: { state } }));
    }
  }

  #end(detail) {
    if (this.ended) {
      return;
    }
    this.#closePeer();
    this.#slots = [];
    this.#setState('ended');
    this.#client[forget](this);
    this.dispatchEvent(new CustomEvent('ended', { detail }));
  }
}

/**
 * completeDescription sets the local description and waits for ICE
 * gathering: until it completes, ICE_AFTER_FIRST_MS after the first
 * candidate, or ICE_CAP_MS at most. It returns the SDP with its candidates.
 */
export async function completeDescription(pc) {
  const gathered = iceGathered(pc);
  await pc.setLocalDescription();
  if (pc.iceGatheringState !== 'complete') {
    await gathered.done; // a re-offer on a gathered transport has nothing to wait for
  }
  gathered.stop();
  const sdp = pc.localDescription?.sdp ?? '';
  if (!/^a=candidate:/m.test(sdp)) {
    throw new Error('no network path for media (ICE found no candidates)');
  }
  return sdp;
}

function iceGathered(pc) {
  let stop = () => {};
  const done = new Promise((resolve) => {
    let first = 0;
    const done = () => {
      clearTimeout(first);
      clearTimeout(cap);
      pc.removeEventListener('icegatheringstatechange', onState);
      pc.removeEventListener('icecandidate', onCandidate);
      resolve();
    };
    const onState = () => {
      if (pc.iceGatheringState === 'complete') {
        done();
      }
    };
    const onCandidate = (ev) => {
      if (!ev.candidate) {
        done();
      } else if (!first) {
        first = setTimeout(done, ICE_AFTER_FIRST_MS);
      }
    };
    const cap = setTimeout(done, ICE_CAP_MS);
    pc.addEventListener('icegatheringstatechange', onState);
    pc.addEventListener('icecandidate', onCandidate);
    stop = done;
  });
  return { done, stop: () => stop() };
}
