// meeting.js: one meeting. It logs in (guest, account or join token),
// places the call with as many slots as the stage shows, follows the
// conference (participant list, chat, moderator responses) and drives the
// controls. Own mute, camera and hand state lives in the server (the
// member's row); the page sends the keypad codes confd reads (0, *0, *1)
// until the row agrees with what the user asked for, and adopts changes the
// server makes (a moderator's mute). A dropped websocket is recovered by
// verto.attach without a new join.

import { VertoClient, tabSessid } from './verto.js';
import { Conference } from './conference.js';
import { Stage } from './stage.js';
import { People } from './people.js';
import { Chat } from './chat.js';
import { $, delay, randomTag, readStore, typing, writeStore } from './dom.js';
import { LevelMeter, canPickOutput, canShareScreen, deviceIdOf, deviceProblem, fillSelect, listDevices, openMedia } from './media.js';

const DTMF = { audio: '0', video: '*0', hand: '*1' };
const PENDING_MS = 4000; // resend a keypad code when the row has not followed by then
const MAX_REJOINS = 3;
const STATS_MS = 2000;
const SPEAKER_KEY = 'confd.speaker';

const own = { audio: (m) => m.audioMuted, video: (m) => m.videoMuted, hand: (m) => m.handRaised };

/**
 * Meeting runs one meeting view. Event "end" (detail: {title, text, rejoin,
 * back?: {error, needPin}}) says it is over.
 */
export class Meeting extends EventTarget {
  client = null;
  call = null;
  conference = null;
  #config;
  #choice;
  #bridge;
  #ui;
  #stage;
  #people;
  #chat;
  #micMeter;
  #tracks;
  #want;
  #pending = { audio: 0, video: 0, hand: 0 };
  #screen = null; // {call, track}
  #panel = '';
  #unread = 0;
  #answered = false;
  #joinedAt = 0;
  #ended = false;
  #leaving = false;
  #rejoins = 0;
  #slotSizeOK = true;
  #lastSizes = '';
  #sizeTimer = 0;
  #growTimer = 0;
  #tick = 0;
  #renderQueued = false;
  #booted = false;
  #announced = new Map(); // member id → name, announced to the host page
  #talking = new Map();
  #selfMuted = null;
  #wasLost = false;
  #lastQuality = null;
  #listeners = [];
  #speakerId;

  /**
   * @param {object} o
   * @param {object} o.config /config.json
   * @param {object} o.choice what the pre-join view collected (prejoin.js)
   * @param {import('./bridge.js').Bridge|null} o.bridge the embed API, when embedded
   */
  constructor({ config, choice, bridge }) {
    super();
    this.#config = config;
    this.#choice = choice;
    this.#bridge = bridge;
    this.#tracks = { ...choice.tracks };
    this.#want = { audio: !!choice.want.audio || !this.#tracks.audio, video: !!choice.want.video || !this.#tracks.video, hand: false };
    this.#speakerId = choice.speakerId || '';
    this.#ui = {
      title: $('room-title'),
      lockBadge: $('lock-badge'),
      modBadge: $('mod-badge'),
      elapsed: $('elapsed'),
      quality: $('quality'),
      reconnect: $('reconnect'),
      reconnectText: $('reconnect-text'),
      panel: $('panel'),
      tabPeople: $('tab-people'),
      tabChat: $('tab-chat'),
      peoplePane: $('people-pane'),
      chatPane: $('chat-pane'),
      peopleCount: $('people-count'),
      peopleBadge: $('people-badge'),
      chatUnread: $('chat-unread'),
      tabUnread: $('tab-chat-unread'),
      mic: $('btn-mic'),
      micLevel: $('mic-level'),
      cam: $('btn-cam'),
      screen: $('btn-screen'),
      hand: $('btn-hand'),
      chat: $('btn-chat'),
      people: $('btn-people'),
      settings: $('btn-settings'),
      leave: $('btn-leave'),
      toasts: $('toasts'),
      audio: $('remote-audio'),
      settingsDialog: $('settings'),
      setMic: $('set-mic'),
      setCam: $('set-cam'),
      setSpeaker: $('set-speaker'),
      setSpeakerHint: $('set-speaker-hint'),
      ask: $('ask'),
      askForm: $('ask-form'),
      askTitle: $('ask-title'),
      askLabel: $('ask-label'),
      askInput: $('ask-input'),
      askList: $('ask-list'),
      askOK: $('ask-ok'),
    };
    this.#stage = new Stage({ onPin: (id, release) => this.#pin(id, release), onLayout: () => this.#layoutChanged() });
    this.#people = new People({ onCommand: (c, m, v) => this.#modCommand(c, m, v), ask: (o) => this.#ask(o), rooms: config.rooms });
    this.#chat = new Chat({ onSend: (text) => this.#sendChat(text) });
    this.#micMeter = new LevelMeter((level) => this.#ui.micLevel.style.setProperty('--level', level.toFixed(2)));
  }

  // -------------------------------------------------------------------------
  // Starting and ending

  async start() {
    const ui = this.#ui;
    const c = this.#choice;
    ui.title.textContent = c.roomName ? c.roomName : `Room ${c.room}`;
    document.title = `${ui.title.textContent} · confd`;
    ui.chatUnread.hidden = true;
    ui.tabUnread.hidden = true;
    ui.reconnect.hidden = true;
    ui.lockBadge.hidden = true;
    ui.modBadge.hidden = true;
    this.#chat.clear();
    this.#bindControls();
    this.#applyLocal('audio');
    this.#applyLocal('video');
    this.#renderControls();
    this.#renderSelf();
    this.#showPanel(window.innerWidth >= 1100 && !document.body.classList.contains('embed') ? 'people' : '');
    ui.title.focus();
    for (const p of c.problems ?? []) {
      this.#toast(p, 'warn', 9000);
    }
    try {
      await this.#connect();
    } catch (err) {
      this.#finish({ title: 'Could not connect', text: describeLogin(err), rejoin: true, back: { error: describeLogin(err) } });
      return;
    }
    this.#placeCall();
    this.#tick = setInterval(() => this.#everyTick(), STATS_MS);
  }

  async #connect() {
    const c = this.#choice;
    const domain = this.#config.domain;
    let login = `guest-${randomTag()}@${domain}`;
    let passwd = 'guest';
    let loginParams = {};
    if (c.token) {
      login = `token@${domain}`;
      passwd = c.token;
      loginParams = { token: c.token };
    } else if (c.login) {
      login = c.login.includes('@') ? c.login : `${c.login}@${domain}`;
      passwd = c.passwd;
    }
    const url = `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/verto`;
    const client = new VertoClient({ url, login, passwd, loginParams, sessid: await tabSessid() });
    this.client = client;
    client.addEventListener('state', () => this.#renderConnection());
    client.addEventListener('punt', () => this.#finish({ title: 'The meeting moved to another tab', text: 'This page was replaced by a newer one for the same session.', rejoin: false }));
    await client.connect();
  }

  #placeCall() {
    const c = this.#choice;
    this.#answered = false;
    const call = this.client.call({
      destination: c.room,
      callerName: c.name,
      audioTrack: this.#tracks.audio,
      videoTrack: this.#tracks.video,
      slots: this.#stage.wantedSlots(),
      iceServers: this.#config.iceServers,
      pin: c.pin,
    });
    this.call = call;
    this.conference?.close();
    const conf = new Conference(this.client, call.id);
    this.conference = conf;
    conf.addEventListener('join', (ev) => this.#onJoin(ev.detail));
    conf.addEventListener('part', () => this.#toast('You left the room.'));
    conf.addEventListener('members', (ev) => this.#onMembers(ev.detail));
    conf.addEventListener('chat', (ev) => this.#onChat(ev.detail));
    conf.addEventListener('response', (ev) => this.#onModResponse(ev.detail));
    conf.addEventListener('locked', (ev) => this.#onLocked(ev.detail.locked));
    conf.addEventListener('error', (ev) => this.#toast(ev.detail.message, 'warn'));
    call.addEventListener('state', () => this.#onCallState());
    call.addEventListener('slots', (ev) => {
      this.#stage.setSlots(ev.detail.slots, call);
      this.#scheduleSizes();
    });
    call.addEventListener('media', () => {
      this.#stage.rebind(call);
      this.#bindAudio();
    });
    call.addEventListener('connection', () => this.#renderConnection());
    call.addEventListener('ended', (ev) => this.#onEnded(call, ev.detail));
    call.start();
  }

  #onCallState() {
    const call = this.call;
    if (call?.state === 'active' && !this.#answered) {
      this.#answered = true;
      this.#joinedAt = Date.now();
      this.#scheduleSizes();
    }
    this.#renderConnection();
  }

  #onEnded(call, detail) {
    if (call !== this.call || this.#leaving || this.#ended) {
      return;
    }
    if (detail.cause === 'LOST' && this.client && this.client.state !== 'closed' && this.#rejoins < MAX_REJOINS) {
      // The server no longer has the call: join again on the same session.
      this.#rejoins++;
      this.#toast('The call was interrupted, so you are joining again.', 'warn');
      this.#placeCall();
      return;
    }
    const reason = detail.reason || '';
    if (!this.#answered && /PIN/i.test(reason)) {
      const error = this.#choice.pin ? 'That PIN is not right. Please check it and try again.' : 'This room needs its PIN.';
      this.#finish({ title: 'PIN needed', text: error, rejoin: true, back: { error, needPin: true } });
      return;
    }
    const text = this.#answered ? describeEnd(detail) : `Could not join: ${describeEnd(detail)}`;
    const title = detail.cause === 'MANAGER_REQUEST' ? 'You were removed from the meeting' : this.#answered ? 'The meeting ended' : 'Could not join';
    this.#finish({ title, text, rejoin: true, back: this.#answered ? null : { error: text } });
  }

  /** leave hangs up and ends the meeting view. */
  async leave() {
    if (this.#leaving || this.#ended) {
      return;
    }
    this.#leaving = true;
    this.#ui.leave.disabled = true;
    await Promise.race([Promise.all([this.#screen?.call.hangup(), this.call?.hangup()]), delay(1500)]);
    this.#finish({ title: 'You left the meeting', text: 'Thanks for joining.', rejoin: true });
  }

  /** close ends everything at once (the page is going away). */
  close() {
    this.#screen?.call.hangup();
    this.call?.hangup();
    this.#finish({ title: 'You left the meeting', text: '', rejoin: true });
  }

  #finish(detail) {
    if (this.#ended) {
      return;
    }
    this.#ended = true;
    this.#leaving = true;
    clearInterval(this.#tick);
    clearTimeout(this.#sizeTimer);
    clearTimeout(this.#growTimer);
    for (const [target, type, f] of this.#listeners) {
      target.removeEventListener(type, f);
    }
    this.#listeners = [];
    this.#stopScreen(false);
    this.conference?.close();
    this.client?.close();
    this.#micMeter.detach();
    this.#tracks.audio?.stop();
    this.#tracks.video?.stop();
    this.#stage.destroy();
    this.#people.closeMenu(false);
    this.#ui.audio.srcObject = null;
    this.#ui.leave.disabled = false;
    if (this.#ui.settingsDialog.open) {
      this.#ui.settingsDialog.close();
    }
    this.#bridge?.emit('left', { reason: detail.text || detail.title });
    this.dispatchEvent(new CustomEvent('end', { detail }));
  }

  // -------------------------------------------------------------------------
  // Controls

  #on(target, type, f) {
    target.addEventListener(type, f);
    this.#listeners.push([target, type, f]);
  }

  #bindControls() {
    const ui = this.#ui;
    this.#on(ui.mic, 'click', () => this.toggleMic());
    this.#on(ui.cam, 'click', () => this.toggleCam());
    this.#on(ui.screen, 'click', () => this.toggleScreen());
    this.#on(ui.hand, 'click', () => this.toggleHand());
    this.#on(ui.chat, 'click', () => this.#showPanel(this.#panel === 'chat' ? '' : 'chat', true));
    this.#on(ui.people, 'click', () => this.#showPanel(this.#panel === 'people' ? '' : 'people', true));
    this.#on(ui.tabPeople, 'click', () => this.#showPanel('people', true));
    this.#on(ui.tabChat, 'click', () => this.#showPanel('chat', true));
    this.#on($('panel-close'), 'click', () => this.#showPanel('', true));
    this.#on(ui.settings, 'click', () => this.#openSettings());
    this.#on(ui.leave, 'click', () => this.leave());
    this.#on(ui.setMic, 'change', () => this.#switchDevice('audio', ui.setMic.value));
    this.#on(ui.setCam, 'change', () => this.#switchDevice('video', ui.setCam.value));
    this.#on(ui.setSpeaker, 'change', () => this.#setSpeaker(ui.setSpeaker.value));
    this.#on(document, 'keydown', (ev) => this.#key(ev));
    this.#on(ui.tabPeople, 'keydown', (ev) => this.#tabKey(ev));
    this.#on(ui.tabChat, 'keydown', (ev) => this.#tabKey(ev));
    this.#on(window, 'online', () => this.#renderConnection());
    this.#on(window, 'offline', () => this.#renderConnection());
    ui.screen.hidden = !canShareScreen;
  }

  #key(ev) {
    if (ev.defaultPrevented || ev.ctrlKey || ev.metaKey || ev.altKey || typing(ev.target)) {
      return;
    }
    switch (ev.key.toLowerCase()) {
      case 'm':
        this.toggleMic();
        break;
      case 'v':
        this.toggleCam();
        break;
      case 'h':
        this.toggleHand();
        break;
      case 'escape':
        if (this.#panel && window.innerWidth < 900) {
          this.#showPanel('', true);
        }
        return;
      default:
        return;
    }
    ev.preventDefault();
  }

  #tabKey(ev) {
    if (ev.key === 'ArrowLeft' || ev.key === 'ArrowRight') {
      this.#showPanel(this.#panel === 'people' ? 'chat' : 'people', false);
      (this.#panel === 'people' ? this.#ui.tabPeople : this.#ui.tabChat).focus();
      ev.preventDefault();
    }
  }

  /** toggleMic mutes (true), unmutes (false) or toggles the microphone. */
  toggleMic(muted) {
    if (!this.#tracks.audio) {
      this.#toast('There is no microphone to unmute.', 'warn');
      return;
    }
    const next = typeof muted === 'boolean' ? muted : !this.#want.audio;
    if (!next && this.conference?.self?.muteLocked) {
      this.#toast('A moderator muted you, so you cannot unmute yourself. Raise your hand to ask to speak.', 'warn');
      return;
    }
    this.#want.audio = next;
    this.#applyLocal('audio');
    this.#reconcile();
    this.#renderControls();
  }

  /** toggleCam turns the camera off (true), on (false) or toggles it. */
  toggleCam(off) {
    if (!this.#tracks.video) {
      this.#toast('There is no camera to turn on.', 'warn');
      return;
    }
    this.#want.video = typeof off === 'boolean' ? off : !this.#want.video;
    this.#applyLocal('video');
    this.#reconcile();
    this.#renderControls();
  }

  /** toggleHand raises (true), lowers (false) or toggles the hand. */
  toggleHand(up) {
    this.#want.hand = typeof up === 'boolean' ? up : !this.#want.hand;
    this.#reconcile();
    this.#renderControls();
  }

  // #applyLocal makes the local track follow the wanted state at once; the
  // server's row follows the keypad code a moment later.
  #applyLocal(kind) {
    const t = this.#tracks[kind];
    if (t) {
      t.enabled = !this.#want[kind];
    }
    if (kind === 'audio') {
      if (t && !this.#want.audio) {
        this.#micMeter.attach(t);
      } else {
        this.#micMeter.detach();
      }
    }
    this.#renderSelf();
  }

  #reconcile() {
    const me = this.conference?.self;
    if (!me || this.call?.state !== 'active') {
      return;
    }
    for (const kind of ['audio', 'video', 'hand']) {
      if ((kind === 'audio' && !this.#tracks.audio) || (kind === 'video' && !this.#tracks.video)) {
        continue;
      }
      const server = own[kind](me);
      if (server === this.#want[kind]) {
        this.#pending[kind] = 0;
        continue;
      }
      if (kind === 'audio' && !this.#want.audio && me.muteLocked) {
        this.#want.audio = true;
        this.#applyLocal('audio');
        continue;
      }
      if (this.#pending[kind] && performance.now() - this.#pending[kind] < PENDING_MS) {
        continue;
      }
      this.#pending[kind] = performance.now();
      this.call.sendDTMF(DTMF[kind]).catch(() => { this.#pending[kind] = 0; });
    }
    this.#renderControls();
  }

  // #selfChanged follows the own row: confirmations of our keypad codes,
  // and changes made by others (a moderator's mute, lowered hands).
  #selfChanged(m, prev) {
    for (const kind of ['audio', 'video', 'hand']) {
      const now = own[kind](m);
      if (this.#pending[kind]) {
        if (now === this.#want[kind]) {
          this.#pending[kind] = 0;
        }
      } else if (prev && now !== own[kind](prev) && now !== this.#want[kind]) {
        this.#want[kind] = now;
        this.#applyLocal(kind);
        if (kind === 'audio' && now) {
          this.#toast(m.muteLocked ? 'A moderator muted you.' : 'You were muted.', 'warn');
        } else if (kind === 'audio') {
          this.#toast('A moderator unmuted you: others can hear you.');
        } else if (kind === 'video' && now) {
          this.#toast('A moderator turned off your camera.', 'warn');
        } else if (kind === 'hand' && !now) {
          this.#toast('Your hand was lowered.');
        }
      }
    }
    if (m.muteLocked && !this.#want.audio) {
      this.#want.audio = true;
      this.#applyLocal('audio');
    }
    if (this.#selfMuted !== m.audioMuted) {
      if (this.#selfMuted !== null || m.audioMuted) {
        this.#bridge?.emit('muted', { muted: m.audioMuted, byModerator: m.muteLocked });
      }
      this.#selfMuted = m.audioMuted;
    }
    if (prev && prev.videoMuted !== m.videoMuted) {
      this.#bridge?.emit('videoMuted', { muted: m.videoMuted });
    }
    if (prev && prev.handRaised !== m.handRaised) {
      this.#bridge?.emit('handRaised', { raised: m.handRaised });
    }
    if (prev?.lobby && !m.lobby) {
      this.#toast('You are in. Welcome!');
    }
    this.#stage.setLobby(m.lobby);
    this.#stage.setSelfTalking(m.talking && !m.audioMuted);
    this.#reconcile();
  }

  #renderControls() {
    const ui = this.#ui;
    const me = this.conference?.self;
    const audio = !!this.#tracks.audio;
    const video = !!this.#tracks.video;
    const muted = this.#want.audio || !audio;
    setControl(ui.mic, muted, !audio ? 'No microphone' : muted ? 'Unmute' : 'Mute', !audio);
    ui.mic.title = muted ? 'Unmute (m)' : 'Mute (m)';
    ui.mic.classList.toggle('locked', !!me?.muteLocked);
    const off = this.#want.video || !video;
    setControl(ui.cam, off, !video ? 'No camera' : off ? 'Start video' : 'Stop video', !video);
    ui.cam.title = off ? 'Start video (v)' : 'Stop video (v)';
    const sharing = !!this.#screen;
    setControl(ui.screen, false, sharing ? 'Stop sharing' : 'Share', false);
    ui.screen.classList.toggle('active', sharing);
    const hand = this.#want.hand;
    setControl(ui.hand, false, hand ? 'Lower hand' : 'Raise hand', false);
    ui.hand.classList.toggle('active', hand);
    ui.hand.title = hand ? 'Lower hand (h)' : 'Raise hand (h)';
    this.#renderSelf();
  }

  #renderSelf() {
    this.#stage.setSelf({
      track: this.#tracks.video,
      name: this.#choice.name,
      videoOff: this.#want.video,
      muted: this.#want.audio || !this.#tracks.audio,
      hand: this.#want.hand,
    });
  }

  // -------------------------------------------------------------------------
  // Screen share: a second call to NUMBER-screen, video only.

  async toggleScreen() {
    if (this.#screen) {
      this.#stopScreen(true);
      return;
    }
    if (!canShareScreen) {
      this.#toast('This browser cannot share a screen.', 'warn');
      return;
    }
    if (this.call?.state !== 'active') {
      return;
    }
    let track;
    try {
      const stream = await navigator.mediaDevices.getDisplayMedia({ video: { frameRate: { ideal: 15, max: 30 } }, audio: false });
      track = stream.getVideoTracks()[0];
    } catch (err) {
      if (err?.name !== 'NotAllowedError' && err?.name !== 'AbortError') {
        this.#toast(`Could not share the screen: ${err?.message ?? err}`, 'warn');
        this.#bridge?.emit('error', { message: `shareScreen: ${err?.message ?? err}` });
      }
      return;
    }
    if (!track || this.#ended) {
      track?.stop();
      return;
    }
    if ('contentHint' in track) {
      track.contentHint = 'detail';
    }
    const c = this.#choice;
    const call = this.client.call({
      destination: `${this.conference?.room || c.room}-screen`,
      callerName: `${c.name} (screen)`,
      videoTrack: track,
      slots: 0,
      receiveAudio: false,
      screenShare: true,
      iceServers: this.#config.iceServers,
      pin: c.pin,
    });
    this.#screen = { call, track };
    track.addEventListener('ended', () => this.#stopScreen(true));
    call.addEventListener('ended', (ev) => {
      if (this.#screen?.call !== call) {
        return;
      }
      const d = ev.detail;
      this.#stopScreen(false);
      if (d.by === 'remote' && d.cause === 'MANAGER_REQUEST') {
        this.#toast('A moderator stopped your screen share.', 'warn');
      } else if (d.by === 'remote' || d.reason) {
        this.#toast(`Screen sharing stopped: ${describeEnd(d)}`, 'warn');
      }
    });
    call.start();
    this.#bridge?.emit('screenShare', { sharing: true });
    this.#renderControls();
  }

  #stopScreen(hangup) {
    const s = this.#screen;
    if (!s) {
      return;
    }
    this.#screen = null;
    if (hangup) {
      s.call.hangup();
    }
    s.track.stop();
    this.#bridge?.emit('screenShare', { sharing: false });
    if (!this.#ended) {
      this.#renderControls();
    }
  }

  // -------------------------------------------------------------------------
  // The conference

  #onJoin(d) {
    const ui = this.#ui;
    const conf = this.conference;
    const room = this.#config.rooms.find((r) => String(r.number) === d.laName);
    const moved = this.#choice.room !== d.laName && this.#booted;
    ui.title.textContent = room?.name ? room.name : `Room ${d.laName}`;
    document.title = `${ui.title.textContent} · confd`;
    ui.modBadge.hidden = !conf.moderator;
    ui.lockBadge.hidden = true;
    if (moved) {
      this.#toast(`You were moved to ${ui.title.textContent}.`);
      this.#chat.clear();
      this.#bridge?.emit('roomChanged', { room: d.laName });
    }
    this.#choice = { ...this.#choice, room: d.laName, roomName: room?.name ?? '' };
    this.#booted = false;
    this.#bridge?.emit('joined', { room: d.laName, memberID: conf.memberID, name: this.#choice.name, moderator: conf.moderator });
    this.#queueRender();
  }

  #onMembers(d) {
    const conf = this.conference;
    const selfId = conf.memberID;
    const m = d.member;
    if (d.action === 'boot') {
      this.#booted = true;
    }
    if (d.action === 'clear') {
      for (const [id, name] of this.#announced) {
        this.#bridge?.emit('participantLeft', { id, name });
      }
      this.#announced.clear();
    }
    if (m && m.id === selfId && (d.action === 'add' || d.action === 'modify')) {
      this.#selfChanged(m, d.previous);
    }
    if (m && m.id !== selfId) {
      this.#otherChanged(d);
    }
    this.#queueRender();
  }

  #otherChanged({ action, member: m, previous, boot }) {
    if (action === 'add' && !this.#announced.has(m.id)) {
      this.#announced.set(m.id, m.name);
      this.#bridge?.emit('participantJoined', { id: m.id, name: m.name, kind: m.kind });
      if (this.#booted && !boot && m.key !== this.#screen?.call.id) {
        this.#toast(m.kind === 'screen' ? `${m.name.replace(/ \(screen\)$/, '')} is sharing a screen` : `${m.name} joined`);
      }
      if (m.lobby && this.conference.moderator) {
        this.#toast(`${m.name} is waiting in the lobby.`);
      }
    } else if (action === 'del') {
      if (this.#announced.delete(m.id)) {
        this.#bridge?.emit('participantLeft', { id: m.id, name: m.name });
      }
      this.#talking.delete(m.id);
      if (this.#booted && !boot && m.kind !== 'screen') {
        this.#toast(`${m.name} left`);
      }
    } else if (action === 'modify' && previous) {
      if (m.handRaised && !previous.handRaised) {
        this.#toast(`${m.name} raised a hand`);
      }
      if (m.lobby && !previous.lobby && this.conference.moderator) {
        this.#toast(`${m.name} is waiting in the lobby.`);
      }
    }
    if (action !== 'del') {
      const talking = m.talking && !m.audioMuted;
      if ((this.#talking.get(m.id) ?? false) !== talking) {
        this.#talking.set(m.id, talking);
        this.#bridge?.emit('talking', { id: m.id, name: m.name, talking });
      }
    }
  }

  #queueRender() {
    if (this.#renderQueued) {
      return;
    }
    this.#renderQueued = true;
    requestAnimationFrame(() => {
      this.#renderQueued = false;
      if (!this.#ended) {
        this.#renderMembers();
      }
    });
  }

  #renderMembers() {
    const conf = this.conference;
    const members = conf?.members ?? [];
    this.#stage.setMembers(members);
    this.#people.render({ members, selfId: conf?.memberID ?? 0, moderator: !!conf?.moderator, locked: conf?.locked });
    const count = members.filter((m) => !m.lobby && m.kind !== 'screen').length;
    this.#ui.peopleCount.textContent = String(count);
    this.#ui.peopleBadge.textContent = String(count);
    this.#ui.peopleBadge.hidden = count === 0;
    this.#renderControls();
  }

  #onChat(msg) {
    const mine = msg.from === this.client?.login && msg.fromDisplay === this.#choice.name;
    this.#chat.add(msg, mine);
    if (!msg.history) {
      this.#bridge?.emit('chat', { from: msg.from, name: msg.fromDisplay || msg.from, message: msg.message, self: mine });
    }
    if (!mine && !msg.history && (this.#panel !== 'chat' || document.hidden)) {
      this.#unread++;
      this.#renderUnread();
      if (this.#panel !== 'chat') {
        this.#toast(`${msg.fromDisplay || msg.from}: ${msg.message}`, 'chat');
      }
    }
  }

  async #sendChat(text) {
    try {
      await this.conference.sendChat(text);
    } catch (err) {
      this.#toast(`Could not send the message: ${err.message}`, 'warn');
      throw err;
    }
  }

  #renderUnread() {
    const n = this.#unread;
    for (const el of [this.#ui.chatUnread, this.#ui.tabUnread]) {
      el.textContent = n > 99 ? '99+' : String(n);
      el.hidden = n === 0;
    }
    this.#ui.chat.setAttribute('aria-label', n ? `Chat, ${n} unread` : 'Chat');
  }

  async #modCommand(command, member, value) {
    try {
      await this.conference.command(command, member ? member.id : null, value ?? null);
    } catch (err) {
      this.#toast(`Could not do that: ${err.message}`, 'warn');
    }
  }

  #onModResponse(r) {
    if (r.error) {
      this.#toast(`Moderator command failed: ${r.error}`, 'warn');
    } else if (/^\+OK muted all/.test(r.response)) {
      this.#toast('Everyone else is muted.');
    } else if (/^\+OK hands lowered/.test(r.response)) {
      this.#toast('All hands lowered.');
    } else if (/^\+OK Call transferred to (.+)$/.test(r.response)) {
      this.#toast(`Moved to room ${r.response.split(' ').pop()}.`);
    }
  }

  #onLocked(locked) {
    this.#ui.lockBadge.hidden = !locked;
    this.#toast(locked ? 'The room is locked: only moderators can join.' : 'The room is open again.');
    this.#queueRender();
  }

  async #pin(memberID, release) {
    try {
      await this.call?.pin(0, release ? 0 : memberID);
    } catch (err) {
      this.#toast(`Could not change the large view: ${err.message}`, 'warn');
    }
  }

  // -------------------------------------------------------------------------
  // Embed API commands from the host page

  command(name, args) {
    switch (name) {
      case 'mute':
        this.toggleMic(true);
        break;
      case 'unmute':
        this.toggleMic(false);
        break;
      case 'toggleAudio':
        this.toggleMic();
        break;
      case 'toggleVideo':
        this.toggleCam(typeof args[0] === 'boolean' ? args[0] : undefined);
        break;
      case 'shareScreen':
        this.toggleScreen();
        break;
      case 'sendChat':
        if (typeof args[0] === 'string' && args[0].trim()) {
          this.#sendChat(args[0].trim()).catch(() => {});
        }
        break;
      case 'raiseHand':
        this.toggleHand(typeof args[0] === 'boolean' ? args[0] : undefined);
        break;
      case 'leave':
        this.leave();
        break;
      default:
        break;
    }
  }

  // -------------------------------------------------------------------------
  // Side panel

  #showPanel(which, focus = false) {
    const ui = this.#ui;
    this.#panel = which;
    ui.panel.hidden = !which;
    document.body.classList.toggle('panel-open', !!which);
    ui.chat.setAttribute('aria-expanded', String(which === 'chat'));
    ui.people.setAttribute('aria-expanded', String(which === 'people'));
    ui.chat.classList.toggle('active', which === 'chat');
    ui.people.classList.toggle('active', which === 'people');
    ui.tabPeople.setAttribute('aria-selected', String(which === 'people'));
    ui.tabChat.setAttribute('aria-selected', String(which === 'chat'));
    ui.tabPeople.tabIndex = which === 'people' ? 0 : -1;
    ui.tabChat.tabIndex = which === 'chat' ? 0 : -1;
    ui.peoplePane.hidden = which !== 'people';
    ui.chatPane.hidden = which !== 'chat';
    if (which === 'chat') {
      this.#unread = 0;
      this.#renderUnread();
      if (focus) {
        this.#chat.focus();
      }
    } else if (which === 'people' && focus) {
      ui.tabPeople.focus();
    }
    requestAnimationFrame(() => this.#stage.layout());
  }

  // -------------------------------------------------------------------------
  // Connection: the reconnect banner, quality, slots and their sizes

  #renderConnection() {
    if (this.#ended) {
      return;
    }
    const ui = this.#ui;
    const cs = this.client?.state;
    const st = this.call?.state;
    const pc = this.call?.pc?.connectionState;
    const lost = cs === 'reconnecting' || cs === 'authenticating' || (cs === 'connecting' && this.#answered) || st === 'recovering';
    const media = this.#answered && st === 'active' && (pc === 'disconnected' || pc === 'failed');
    ui.reconnect.hidden = !lost && !media;
    if (lost) {
      ui.reconnectText.textContent = navigator.onLine === false
        ? 'You are offline. The meeting continues when the network is back…'
        : 'Connection lost. Reconnecting…';
    } else if (media) {
      ui.reconnectText.textContent = 'The media connection is interrupted. Trying to restore it…';
    }
    document.body.classList.toggle('reconnecting', lost || media);
    if (lost) {
      this.#wasLost = true;
    } else if (this.#wasLost && st === 'active' && cs === 'ready') {
      this.#wasLost = false;
      this.#toast('Reconnected.');
      this.#bridge?.emit('reconnected', {});
    }
  }

  #everyTick() {
    this.#reconcile();
    this.#renderElapsed();
    this.#measureQuality();
  }

  #renderElapsed() {
    if (!this.#joinedAt) {
      return;
    }
    const s = Math.floor((Date.now() - this.#joinedAt) / 1000);
    const hh = Math.floor(s / 3600);
    const mm = String(Math.floor((s % 3600) / 60)).padStart(hh ? 2 : 1, '0');
    const ss = String(s % 60).padStart(2, '0');
    this.#ui.elapsed.textContent = hh ? `${hh}:${mm}:${ss}` : `${mm}:${ss}`;
  }

  // #measureQuality rates the connection from the received audio's loss,
  // the round-trip time and jitter over the last interval.
  async #measureQuality() {
    const report = await this.call?.stats().catch(() => null);
    let level = 0;
    let text = 'measuring';
    if (report) {
      let rtt = null;
      let lost = 0;
      let got = 0;
      let jitter = 0;
      report.forEach((r) => {
        if (r.type === 'candidate-pair' && r.nominated && r.state === 'succeeded' && typeof r.currentRoundTripTime === 'number') {
          rtt = r.currentRoundTripTime;
        }
        if (r.type === 'inbound-rtp' && r.kind === 'audio') {
          lost += r.packetsLost || 0;
          got += r.packetsReceived || 0;
          jitter = Math.max(jitter, r.jitter || 0);
        }
      });
      const prev = this.#lastQuality;
      this.#lastQuality = { lost, got };
      if (prev && got > prev.got) {
        const dl = Math.max(0, lost - prev.lost);
        const loss = dl / (dl + got - prev.got);
        const r = rtt ?? 0;
        if (loss < 0.02 && r < 0.3 && jitter < 0.03) {
          level = 3;
          text = 'good';
        } else if (loss < 0.08 && r < 0.6 && jitter < 0.08) {
          level = 2;
          text = 'fair';
        } else {
          level = 1;
          text = 'poor';
        }
        text += ` (${Math.round(loss * 100)}% loss${rtt !== null ? `, ${Math.round(r * 1000)} ms round trip` : ''})`;
      }
    }
    const q = this.#ui.quality;
    q.dataset.level = String(level);
    q.setAttribute('aria-label', `Connection quality: ${text}`);
    q.title = `Connection quality: ${text}`;
  }

  #layoutChanged() {
    this.#scheduleSizes();
    clearTimeout(this.#growTimer);
    this.#growTimer = setTimeout(() => this.#growSlots(), 1000);
  }

  // #growSlots offers more slots when a larger window shows more tiles.
  async #growSlots() {
    const call = this.call;
    const want = this.#stage.wantedSlots();
    if (call?.state === 'active' && want > call.slotCount) {
      try {
        await call.addSlots(want - call.slotCount);
      } catch (err) {
        console.warn('confd: could not add slots', err);
      }
    }
  }

  #scheduleSizes() {
    clearTimeout(this.#sizeTimer);
    this.#sizeTimer = setTimeout(() => this.#sendSizes(), 300);
  }

  // #sendSizes tells the server how large each slot is drawn (confd.slotSize),
  // if the server knows the request: an unknown method is not asked again.
  async #sendSizes() {
    const call = this.call;
    if (!this.#slotSizeOK || call?.state !== 'active') {
      return;
    }
    const slots = this.#stage.slotSizes().filter((s) => s.slot < call.slotCount);
    const key = JSON.stringify(slots);
    if (key === this.#lastSizes) {
      return;
    }
    this.#lastSizes = key;
    try {
      await call.request('confd.slotSize', { slots });
    } catch (err) {
      if (err?.code === -32601) {
        this.#slotSizeOK = false;
      } else {
        this.#lastSizes = '';
      }
    }
  }

  #bindAudio() {
    const audio = this.#ui.audio;
    const track = this.call?.remoteAudioTrack ?? null;
    if ((audio.srcObject?.getAudioTracks()[0] ?? null) === track) {
      return;
    }
    audio.srcObject = track ? new MediaStream([track]) : null;
    if (this.#speakerId && canPickOutput) {
      audio.setSinkId(this.#speakerId).catch(() => {});
    }
    if (track) {
      audio.play().catch(() => {
        this.#toast('Your browser blocked the meeting sound. Click anywhere to hear it.', 'warn', 10000);
        this.#on(document, 'pointerdown', () => audio.play().catch(() => {}));
      });
    }
  }

  // -------------------------------------------------------------------------
  // Settings: devices

  async #openSettings() {
    const ui = this.#ui;
    const d = await listDevices();
    fillSelect(ui.setMic, d.audioinput, deviceIdOf(this.#tracks.audio), 'No microphone found');
    fillSelect(ui.setCam, d.videoinput, deviceIdOf(this.#tracks.video), 'No camera found');
    ui.setSpeakerHint.hidden = canPickOutput;
    ui.setSpeaker.hidden = !canPickOutput;
    if (canPickOutput) {
      fillSelect(ui.setSpeaker, d.audiooutput, this.#speakerId || readStore(SPEAKER_KEY) || '', 'System default');
    }
    ui.settingsDialog.showModal();
  }

  async #switchDevice(kind, deviceId) {
    const got = await openMedia({ audio: kind === 'audio', video: kind === 'video', audioId: deviceId, videoId: deviceId });
    const track = got[kind];
    if (!track) {
      this.#toast(deviceProblem(kind === 'audio' ? 'microphone' : 'camera', got[`${kind}Error`]), 'warn');
      return;
    }
    writeStore(kind === 'audio' ? 'confd.mic' : 'confd.cam', deviceId);
    const old = this.#tracks[kind];
    this.#tracks[kind] = track;
    try {
      await this.call?.replaceTrack(kind, track);
    } catch (err) {
      this.#toast(`Could not switch the ${kind === 'audio' ? 'microphone' : 'camera'}: ${err.message}`, 'warn');
    }
    old?.stop();
    if (!old) {
      this.#want[kind] = false;
    }
    this.#micMeter.detach();
    this.#applyLocal(kind);
    this.#reconcile();
    this.#renderControls();
  }

  async #setSpeaker(id) {
    this.#speakerId = id;
    writeStore(SPEAKER_KEY, id);
    try {
      await this.#ui.audio.setSinkId(id);
    } catch (err) {
      this.#toast(`Could not use that speaker: ${err.message}`, 'warn');
    }
  }

  // #ask shows a small dialog with a text field; null when cancelled.
  #ask({ title, label, value = '', options = [], ok = 'OK' }) {
    const ui = this.#ui;
    ui.askTitle.textContent = title;
    ui.askLabel.textContent = label;
    ui.askInput.value = value;
    ui.askOK.textContent = ok;
    ui.askList.replaceChildren(...options.map((o) => new Option(o, o)));
    ui.ask.returnValue = '';
    ui.ask.showModal();
    ui.askInput.select();
    return new Promise((resolve) => {
      ui.ask.addEventListener('close', () => resolve(ui.ask.returnValue === 'ok' ? ui.askInput.value : null), { once: true });
    });
  }

  // -------------------------------------------------------------------------
  // Toasts

  #toast(text, kind = '', ms = 5000) {
    const box = this.#ui.toasts;
    const el = document.createElement('p');
    el.className = `toast ${kind}`.trim();
    el.textContent = text;
    box.append(el);
    while (box.children.length > 3) {
      box.firstElementChild.remove();
    }
    setTimeout(() => {
      el.classList.add('going');
      setTimeout(() => el.remove(), 300);
    }, ms);
  }
}

function setControl(button, off, label, disabled) {
  button.classList.toggle('off', off);
  button.disabled = disabled;
  button.dataset.state = off ? 'off' : 'on';
  button.querySelector('.ctl-label').textContent = label;
}

function describeEnd({ cause, reason }) {
  switch (cause) {
    case 'MANAGER_REQUEST':
      return 'A moderator removed you from the meeting.';
    case 'SYSTEM_SHUTDOWN':
      return 'The server is shutting down.';
    case 'RECOVERY_ON_TIMER_EXPIRE':
      return 'The connection was lost for too long.';
    case 'NORMAL_CLEARING':
      return reason || 'The meeting ended.';
    default:
      return reason ? reason.charAt(0).toUpperCase() + reason.slice(1) : String(cause || 'unknown reason').toLowerCase().replaceAll('_', ' ');
  }
}

function describeLogin(err) {
  const m = err?.message || String(err);
  if (/token/i.test(m)) {
    return `Your invitation link does not work: ${m.replace(/^Authentication Failure:\s*/, '')}.`;
  }
  if (/Login Incorrect|Authentication Failure/i.test(m)) {
    return 'The login or password is not right.';
  }
  if (err?.code === 'unreachable') {
    return 'The server cannot be reached. Check your network and try again.';
  }
  return m;
}
