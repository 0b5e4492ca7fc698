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
import { Panel } from './panel.js';
import { SelfState } from './selfstate.js';
import { SPEAKER_KEY, Settings, ask } from './dialogs.js';
import { toast } from './toast.js';
import * as quality from './quality.js';
import { $, delay, randomTag, typing, writeStore } from './dom.js';
import { LevelMeter, canPickOutput, canShareScreen, deviceProblem, openMedia } from './media.js';
import { shareScreen } from './screen.js';
import { SlotSync } from './slotsync.js';

const MAX_REJOINS = 3;
const STATS_MS = 2000;

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
  #panel;
  #settings;
  #micMeter;
  #tracks;
  #self;
  #screen = null; // {call, track, stop}
  #sharing = false; // asking the user for a screen
  #slots;
  #answered = false;
  #joinedAt = 0;
  #ended = false;
  #leaving = false;
  #rejoins = 0;
  #tick = 0;
  #renderQueued = false;
  #booted = false;
  #announced = new Map(); // member id → name, announced to the host page
  #talking = new Map();
  #selfMuted = null;
  #wasLost = false;
  #qualitySample = null;
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
    this.#self = new SelfState({ audio: !!choice.want.audio || !this.#tracks.audio, video: !!choice.want.video || !this.#tracks.video, hand: false });
    this.#speakerId = choice.speakerId || '';
    this.#ui = {
      title: $('room-title'),
      lockBadge: $('lock-badge'),
      recBadge: $('rec-badge'),
      modBadge: $('mod-badge'),
      elapsed: $('elapsed'),
      quality: $('quality'),
      reconnect: $('reconnect'),
      reconnectText: $('reconnect-text'),
      peopleCount: $('people-count'),
      peopleBadge: $('people-badge'),
      mic: $('btn-mic'),
      micLevel: $('mic-level'),
      cam: $('btn-cam'),
      screen: $('btn-screen'),
      hand: $('btn-hand'),
      settings: $('btn-settings'),
      leave: $('btn-leave'),
      audio: $('remote-audio'),
    };
    this.#stage = new Stage({ onPin: (id, release) => this.#pin(id, release), onLayout: () => this.#slots.layoutChanged() });
    this.#slots = new SlotSync(this.#stage);
    this.#people = new People({ onCommand: (c, m, v) => this.#modCommand(c, m, v), ask, rooms: config.rooms });
    this.#chat = new Chat({ onSend: (text) => this.#sendChat(text) });
    this.#panel = new Panel({
      onChange: (which, focus) => {
        if (which === 'chat' && focus) {
          this.#chat.focus();
        }
        requestAnimationFrame(() => this.#stage.layout());
      },
    });
    this.#settings = new Settings({ onDevice: (kind, id) => this.#switchDevice(kind, id), onSpeaker: (id) => this.#setSpeaker(id) });
    this.#micMeter = new LevelMeter((level) => this.#ui.micLevel.style.setProperty('--level', level.toFixed(2)));
  }

  // -------------------------------------------------------------------------
  // Starting and ending

  async start() {
    const ui = this.#ui;
    const c = this.#choice;
    ui.title.textContent = c.roomName ? c.roomName : `Room ${c.room}`;
    document.title = `${ui.title.textContent} · confd`;
    ui.reconnect.hidden = true;
    ui.lockBadge.hidden = true;
    ui.recBadge.hidden = true;
    ui.modBadge.hidden = true;
    this.#chat.clear();
    this.#bindControls();
    this.#applyLocal();
    this.#panel.show(window.innerWidth >= 1100 && !document.body.classList.contains('embed') ? 'people' : '');
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
      simulcast: true,
    });
    this.call = call;
    this.#slots.use(call);
    this.conference?.close();
    const conf = new Conference(this.client, call.id);
    this.conference = conf;
    conf.addEventListener('join', (ev) => this.#onJoin(ev.detail));
    conf.addEventListener('part', () => this.#toast('You left the room.'));
    conf.addEventListener('members', (ev) => this.#onMembers(ev.detail));
    conf.addEventListener('chat', (ev) => this.#onChat(ev.detail));
    conf.addEventListener('response', (ev) => this.#onModResponse(ev.detail));
    conf.addEventListener('locked', (ev) => this.#onLocked(ev.detail.locked, ev.detail.joined));
    conf.addEventListener('error', (ev) => this.#toast(ev.detail.message, 'warn'));
    call.addEventListener('state', () => this.#onCallState());
    call.addEventListener('slots', (ev) => {
      this.#stage.setSlots(ev.detail.slots, call);
      this.#slots.sizesChanged();
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
      this.#slots.sizesChanged();
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
    this.#screen?.stop();
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
    this.#slots.stop();
    for (const [target, type, f] of this.#listeners) {
      target.removeEventListener(type, f);
    }
    this.#listeners = [];
    this.#screen?.stop();
    this.#screen = null;
    this.conference?.close();
    this.client?.close();
    this.#micMeter.detach();
    this.#tracks.audio?.stop();
    this.#tracks.video?.stop();
    this.#stage.destroy();
    this.#people.destroy();
    this.#chat.destroy();
    this.#ui.audio.srcObject = null;
    this.#ui.leave.disabled = false;
    this.#settings.close();
    this.#panel.destroy();
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
    this.#on(ui.settings, 'click', () => this.#settings.open({ ...this.#tracks, speakerId: this.#speakerId }));
    this.#on(ui.leave, 'click', () => this.leave());
    this.#on(document, 'keydown', (ev) => this.#key(ev));
    this.#on(window, 'online', () => this.#renderConnection());
    this.#on(window, 'offline', () => this.#renderConnection());
    ui.screen.hidden = !canShareScreen;
  }

  #key(ev) {
    if (ev.defaultPrevented || ev.repeat || ev.ctrlKey || ev.metaKey || ev.altKey || typing(ev.target)) {
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
        if (this.#panel.which && window.innerWidth < 900) {
          this.#panel.show('', true);
        }
        return;
      default:
        return;
    }
    ev.preventDefault();
  }

  /** toggleMic mutes (true), unmutes (false) or toggles the microphone. */
  toggleMic(muted) {
    if (!this.#tracks.audio) {
      this.#toast('There is no microphone to unmute.', 'warn');
      return;
    }
    const next = typeof muted === 'boolean' ? muted : !this.#self.want.audio;
    if (!this.#self.ask('audio', next, this.conference?.self)) {
      this.#toast('A moderator muted you, so you cannot unmute yourself. Raise your hand to ask to speak.', 'warn');
      return;
    }
    this.#changed();
  }

  /** toggleCam turns the camera off (true), on (false) or toggles it. */
  toggleCam(off) {
    if (!this.#tracks.video) {
      this.#toast('There is no camera to turn on.', 'warn');
      return;
    }
    this.#self.ask('video', typeof off === 'boolean' ? off : !this.#self.want.video);
    this.#changed();
  }

  /** toggleHand raises (true), lowers (false) or toggles the hand. */
  toggleHand(up) {
    this.#self.ask('hand', typeof up === 'boolean' ? up : !this.#self.want.hand);
    this.#changed();
  }

  #changed() {
    this.#applyLocal();
    this.#reconcile();
  }

  // #applyLocal makes the local tracks follow the wanted state at once; the
  // server's row follows the keypad codes a moment later.
  #applyLocal() {
    const { audio, video } = this.#tracks;
    const want = this.#self.want;
    if (audio) {
      audio.enabled = !want.audio;
    }
    if (video) {
      video.enabled = !want.video;
    }
    if (audio && !want.audio) {
      this.#micMeter.attach(audio);
    } else {
      this.#micMeter.detach();
    }
    this.#renderControls();
  }

  // #reconcile sends the keypad codes that bring the row to what the user wants.
  #reconcile() {
    const me = this.conference?.self;
    const call = this.call;
    if (!me || call?.state !== 'active') {
      return;
    }
    const codes = this.#self.codes(me, { audio: !!this.#tracks.audio, video: !!this.#tracks.video });
    for (const { kind, digits } of codes) {
      call.sendDTMF(digits).catch(() => this.#self.failed(kind));
    }
    this.#applyLocal();
  }

  // #selfChanged follows the own row: confirmations of our keypad codes,
  // and changes made by others (a moderator's mute, lowered hands).
  #selfChanged(m, prev) {
    for (const { kind, value } of this.#self.follow(m, prev)) {
      if (kind === 'audio' && value) {
        this.#toast(m.muteLocked ? 'A moderator muted you.' : 'You were muted.', 'warn');
      } else if (kind === 'audio') {
        this.#toast('A moderator unmuted you: others can hear you.');
      } else if (kind === 'video' && value) {
        this.#toast('A moderator turned off your camera.', 'warn');
      } else if (kind === 'hand' && !value) {
        this.#toast('Your hand was lowered.');
      }
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
    const muted = this.#self.want.audio || !audio;
    setControl(ui.mic, muted, !audio ? 'No microphone' : muted ? 'Unmute' : 'Mute', !audio);
    ui.mic.title = muted ? 'Unmute (m)' : 'Mute (m)';
    ui.mic.classList.toggle('locked', !!me?.muteLocked);
    const off = this.#self.want.video || !video;
    setControl(ui.cam, off, !video ? 'No camera' : off ? 'Start video' : 'Stop video', !video);
    ui.cam.title = off ? 'Start video (v)' : 'Stop video (v)';
    const sharing = !!this.#screen;
    setControl(ui.screen, false, sharing ? 'Stop sharing' : 'Share', false);
    ui.screen.classList.toggle('active', sharing);
    const hand = this.#self.want.hand;
    setControl(ui.hand, false, hand ? 'Lower hand' : 'Raise hand', false);
    ui.hand.classList.toggle('active', hand);
    ui.hand.title = hand ? 'Lower hand (h)' : 'Raise hand (h)';
    this.#renderSelf();
  }

  #renderSelf() {
    this.#stage.setSelf({
      track: this.#tracks.video,
      name: this.#choice.name,
      videoOff: this.#self.want.video,
      muted: this.#self.want.audio || !this.#tracks.audio,
      hand: this.#self.want.hand,
    });
  }

  // -------------------------------------------------------------------------
  // Screen share: a second call to NUMBER-screen, video only.

  async toggleScreen() {
    if (this.#screen) {
      this.#screen.stop();
      this.#screenEnded();
      return;
    }
    if (!canShareScreen) {
      this.#toast('This browser cannot share a screen.', 'warn');
      return;
    }
    if (this.call?.state !== 'active' || this.#sharing) {
      return;
    }
    this.#sharing = true;
    const c = this.#choice;
    let share = null;
    try {
      share = await shareScreen({
        client: this.client, room: this.conference?.room || c.room, name: c.name, pin: c.pin, iceServers: this.#config.iceServers,
        onEnded: (d) => {
          if (this.#screen !== share) {
            return;
          }
          this.#screenEnded();
          if (d.by === 'remote' && d.cause === 'MANAGER_REQUEST') {
            this.#toast('A moderator stopped your screen share.', 'warn');
          } else if (d.by === 'remote' || d.reason) {
            this.#toast(`Screen sharing stopped: ${describeEnd(d)}`, 'warn');
          }
        },
      });
    } catch (err) {
      this.#toast(`Could not share the screen: ${err?.message ?? err}`, 'warn');
      this.#bridge?.emit('error', { message: `shareScreen: ${err?.message ?? err}` });
    } finally {
      this.#sharing = false;
    }
    if (!share) {
      return;
    }
    if (this.#ended) {
      share.stop();
      return;
    }
    this.#screen = share;
    this.#bridge?.emit('screenShare', { sharing: true });
    this.#renderControls();
  }

  #screenEnded() {
    this.#screen = null;
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
    this.#renderRecording(members);
    this.#renderControls();
  }

  // #renderRecording shows the red mark while the room is recorded, and
  // says so when that changes.
  #renderRecording(members) {
    const on = members.some((m) => m.recording);
    const badge = this.#ui.recBadge;
    if (on === !badge.hidden) {
      return;
    }
    badge.hidden = !on;
    if (members.length > 0) {
      this.#toast(on ? 'This meeting is now being recorded.' : 'The recording has stopped.', on ? 'warn' : undefined);
    }
  }

  #onChat(msg) {
    const mine = msg.from === this.client?.login && msg.fromDisplay === this.#choice.name;
    this.#chat.add(msg, mine);
    if (!msg.history) {
      this.#bridge?.emit('chat', { from: msg.from, name: msg.fromDisplay || msg.from, message: msg.message, self: mine });
    }
    if (!mine && !msg.history && (this.#panel.which !== 'chat' || document.hidden)) {
      this.#panel.unread();
      if (this.#panel.which !== 'chat') {
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

  // #onLocked shows the lock; joining an open room is not news.
  #onLocked(locked, joined) {
    this.#ui.lockBadge.hidden = !locked;
    if (locked || !joined) {
      this.#toast(locked ? 'The room is locked: only moderators can join.' : 'The room is open again.');
    }
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
      this.#slots.reset(); // the reattached call has new slots
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

  async #measureQuality() {
    const report = await this.call?.stats().catch(() => null);
    const r = quality.rate(report, this.#qualitySample);
    this.#qualitySample = r.sample;
    quality.show(this.#ui.quality, r);
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
      this.#self.ask(kind, false); // a new device starts on
    }
    this.#micMeter.detach();
    this.#changed();
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

  #toast(text, kind, ms) {
    toast(text, kind, ms);
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
