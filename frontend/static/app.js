// app.js: confd's minimal meeting page. A pre-join form, then one call to a
// room: the microphone and camera go out, and up to SLOTS other members'
// cameras come back in the slots confd fills (confd.slots says who is in
// which). The Verto protocol lives in verto.js.

import { VertoClient, tabSessid } from './verto.js';

const SLOTS = 4; // receive-video sections offered: slot 0 large, the rest small
const DEFAULT_ROOM = '3500';
const NAME_KEY = 'confd.name';
const MAX_REJOINS = 3;
const VIDEO = { width: { ideal: 960 }, height: { ideal: 540 }, frameRate: { ideal: 30 } };

const $ = (id) => document.getElementById(id);
const ui = {
  joinView: $('join-view'),
  form: $('join-form'),
  name: $('name'),
  room: $('room'),
  login: $('login'),
  passwd: $('passwd'),
  joinButton: $('join-button'),
  joinStatus: $('join-status'),
  callView: $('call-view'),
  roomTitle: $('room-title'),
  callStatus: $('call-status'),
  notice: $('notice'),
  noticeText: $('notice-text'),
  noticeClose: $('notice-close'),
  mainSlot: $('main-slot'),
  strip: $('strip'),
  alone: $('alone'),
  self: $('self'),
  selfVideo: $('self-video'),
  selfCaption: $('self-caption'),
  mic: $('mic'),
  cam: $('cam'),
  leave: $('leave'),
  remoteAudio: $('remote-audio'),
  tileTemplate: $('tile-template'),
};

let config = { domain: location.hostname || 'localhost', iceServers: [], rooms: [{ number: DEFAULT_ROOM, name: 'Default room' }] };
let client = null;
let call = null;
let local = null; // MediaStream from getUserMedia, or null (receive only)
let room = null; // {number, name}
let displayName = '';
let leaving = false;
let rejoins = 0;
let tiles = [];
let rejoinNotice = false; // the notice says we are joining again

// A handle for debugging from the console (and for browser tests).
window.confd = Object.freeze({
  get client() { return client; },
  get call() { return call; },
  get local() { return local; },
});

init();

async function init() {
  ui.name.value = readLocal(NAME_KEY) ?? '';
  ui.form.addEventListener('submit', onJoin);
  ui.mic.addEventListener('click', toggleMic);
  ui.cam.addEventListener('click', toggleCam);
  ui.leave.addEventListener('click', leave);
  ui.noticeClose.addEventListener('click', () => { ui.notice.hidden = true; });
  window.addEventListener('pagehide', () => {
    call?.hangup();
    client?.close();
  });
  try {
    const res = await fetch('/config.json', { cache: 'no-store' });
    if (!res.ok) {
      throw new Error(`HTTP ${res.status}`);
    }
    const c = await res.json();
    config = {
      domain: c.domain || config.domain,
      iceServers: Array.isArray(c.iceServers) ? c.iceServers : [],
      rooms: Array.isArray(c.rooms) && c.rooms.length ? c.rooms : config.rooms,
    };
  } catch (err) {
    setJoinStatus(`Could not load the server settings (${err.message}); using defaults.`);
  }
  fillRooms();
  ui.joinButton.disabled = false;
  (ui.name.value ? ui.joinButton : ui.name).focus();
}

function fillRooms() {
  const wanted = new URLSearchParams(location.search).get('room');
  ui.room.replaceChildren(...config.rooms.map((r) => {
    const number = String(r.number);
    const label = r.name && r.name !== number ? `${r.name} (${number})` : number;
    return new Option(label, number);
  }));
  const numbers = config.rooms.map((r) => String(r.number));
  ui.room.value = [wanted, DEFAULT_ROOM].find((n) => n && numbers.includes(n)) ?? numbers[0];
}

// ---------------------------------------------------------------------------
// Joining

async function onJoin(ev) {
  ev.preventDefault();
  const name = ui.name.value.trim();
  if (!name) {
    setJoinStatus('Please enter your name.');
    ui.name.focus();
    return;
  }
  writeLocal(NAME_KEY, name);
  displayName = name;
  room = config.rooms.find((r) => String(r.number) === ui.room.value) ?? { number: ui.room.value, name: '' };
  setBusy(true);

  setJoinStatus('Asking for your camera and microphone…');
  const media = await getLocalMedia();
  local = media.stream;

  setJoinStatus('Connecting…');
  try {
    await connect();
  } catch (err) {
    stopLocal();
    setBusy(false);
    setJoinStatus(`Could not connect: ${describeError(err)}`);
    return;
  }
  showCallView(media.warning);
  rejoins = 0;
  placeCall();
}

function setBusy(busy) {
  for (const el of ui.form.elements) {
    el.disabled = busy;
  }
  ui.form.setAttribute('aria-busy', String(busy));
}

function setJoinStatus(text) {
  ui.joinStatus.textContent = text;
}

async function connect() {
  if (client && client.state !== 'closed') {
    return;
  }
  const typed = ui.login.value.trim();
  const login = typed ? (typed.includes('@') ? typed : `${typed}@${config.domain}`) : `guest-${randomTag()}@${config.domain}`;
  const passwd = typed ? ui.passwd.value : 'guest';
  const url = `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/verto`;
  const c = new VertoClient({ url, login, passwd, sessid: await tabSessid() });
  client = c;
  c.addEventListener('state', renderStatus);
  await c.connect();
}

function placeCall() {
  if (!client || client.state === 'closed') {
    endToJoin('The connection to the server was lost.');
    return;
  }
  const c = client.call({
    destination: room.number,
    callerName: displayName,
    callerNumber: client.login.split('@')[0],
    audioTrack: local?.getAudioTracks()[0] ?? null,
    videoTrack: local?.getVideoTracks()[0] ?? null,
    slots: SLOTS,
    iceServers: config.iceServers,
  });
  call = c;
  let answered = false;
  c.addEventListener('state', () => {
    if (c.state === 'active') {
      answered = true;
      rejoins = 0;
      if (rejoinNotice) {
        ui.notice.hidden = true;
        rejoinNotice = false;
      }
    }
    renderStatus();
  });
  c.addEventListener('connection', renderStatus);
  c.addEventListener('slots', renderSlots);
  c.addEventListener('media', () => {
    bindAudio();
    renderSlots();
  });
  c.addEventListener('ended', (ev) => onEnded(c, ev.detail, answered));
  renderStatus();
  c.start();
}

function onEnded(c, detail, answered) {
  if (c !== call) {
    return;
  }
  if (leaving) {
    return;
  }
  if (detail.cause === 'LOST' && client && client.state !== 'closed' && rejoins < MAX_REJOINS) {
    // The call went with the connection (the server no longer has it, or
    // it was not answered yet): join again. The invite waits for the
    // client to be logged in again.
    rejoins++;
    showNotice('The call was interrupted, so you are joining again.');
    rejoinNotice = true;
    placeCall();
    return;
  }
  endToJoin(answered ? `The call ended: ${describeEnd(detail)}` : `Could not join: ${describeEnd(detail)}`);
}

async function leave() {
  if (leaving) {
    return;
  }
  leaving = true;
  ui.leave.disabled = true;
  const c = call;
  await Promise.race([c?.hangup(), delay(1500)]);
  endToJoin('You left the meeting.');
}

// endToJoin releases the call, the socket and the devices and shows the form.
function endToJoin(message) {
  leaving = true;
  call?.hangup();
  call = null;
  client?.close();
  client = null;
  stopLocal();
  for (const t of tiles) {
    t.video.srcObject = null;
  }
  ui.remoteAudio.srcObject = null;
  ui.selfVideo.srcObject = null;
  ui.callView.hidden = true;
  ui.joinView.hidden = false;
  document.title = 'confd';
  setBusy(false);
  setJoinStatus(message);
  ui.joinButton.focus();
  leaving = false;
}

// ---------------------------------------------------------------------------
// Devices

// getLocalMedia asks for the microphone and camera. When that fails it
// tries each alone, and says what is missing; with neither the call is
// receive-only.
async function getLocalMedia() {
  if (!navigator.mediaDevices?.getUserMedia) {
    return {
      stream: null,
      warning: 'This browser only allows the camera and microphone on https:// pages (or http://localhost). You joined to watch and listen only.',
    };
  }
  try {
    return { stream: await navigator.mediaDevices.getUserMedia({ audio: true, video: VIDEO }), warning: '' };
  } catch (err) {
    if (isRefusal(err)) {
      return { stream: null, warning: refusalText('camera and microphone') };
    }
    const [audio, video] = [await tryDevice({ audio: true }), await tryDevice({ video: VIDEO })];
    const tracks = [...(audio.stream?.getTracks() ?? []), ...(video.stream?.getTracks() ?? [])];
    const stream = tracks.length ? new MediaStream(tracks) : null;
    const problems = [];
    if (!audio.stream) {
      problems.push(deviceProblem('microphone', audio.error));
    }
    if (!video.stream) {
      problems.push(deviceProblem('camera', video.error));
    }
    const outcome = !stream ? 'You joined to watch and listen only.'
      : !audio.stream ? 'Others can see you but not hear you.'
        : 'Others can hear you but not see you.';
    return { stream, warning: `${problems.join(' ')} ${outcome}` };
  }
}

async function tryDevice(constraints) {
  try {
    return { stream: await navigator.mediaDevices.getUserMedia(constraints), error: null };
  } catch (error) {
    return { stream: null, error };
  }
}

function isRefusal(err) {
  return err?.name === 'NotAllowedError' || err?.name === 'SecurityError';
}

function refusalText(what) {
  return `Access to your ${what} was blocked. You joined to watch and listen only; to take part, allow access in the site settings (next to the address bar) and join again.`;
}

function deviceProblem(what, err) {
  switch (err?.name) {
    case 'NotFoundError':
    case 'OverconstrainedError':
      return `No ${what} was found.`;
    case 'NotReadableError':
    case 'AbortError':
      return `The ${what} is in use by another application or could not be started.`;
    case 'NotAllowedError':
    case 'SecurityError':
      return `Access to the ${what} was blocked.`;
    default:
      return `The ${what} could not be used${err?.message ? ` (${err.message})` : ''}.`;
  }
}

function stopLocal() {
  local?.getTracks().forEach((t) => t.stop());
  local = null;
}

// ---------------------------------------------------------------------------
// The call view

function showCallView(warning) {
  ui.joinView.hidden = true;
  ui.callView.hidden = false;
  const title = room.name ? `${room.name} · ${room.number}` : `Room ${room.number}`;
  ui.roomTitle.textContent = title;
  document.title = `${title} · confd`;
  ui.notice.hidden = true;
  if (warning) {
    showNotice(warning);
  }
  makeTiles();
  renderSelf();
  renderControls();
  ui.leave.disabled = false;
  ui.roomTitle.focus(); // screen readers announce where they are
}

function showNotice(text) {
  rejoinNotice = false;
  ui.noticeText.textContent = text;
  ui.notice.hidden = false;
}

function makeTiles() {
  for (const t of tiles) {
    t.el.remove();
  }
  tiles = [];
  for (let i = 0; i < SLOTS; i++) {
    const el = ui.tileTemplate.content.firstElementChild.cloneNode(true);
    const t = {
      slot: i,
      el,
      video: el.querySelector('video'),
      avatar: el.querySelector('.avatar'),
      name: el.querySelector('.name'),
      badge: el.querySelector('.badge'),
      pin: el.querySelector('.pin'),
      track: null,
      memberID: 0,
      pinned: false,
    };
    el.hidden = true;
    el.dataset.slot = String(i);
    el.classList.toggle('main', i === 0);
    const live = () => el.classList.toggle('live', t.video.videoWidth > 0);
    t.video.addEventListener('loadedmetadata', live);
    t.video.addEventListener('resize', live);
    t.pin.addEventListener('click', () => pinTile(t));
    if (i === 0) {
      ui.mainSlot.prepend(el);
    } else {
      ui.strip.append(el);
    }
    tiles.push(t);
  }
}

function renderSlots() {
  const slots = call?.slots ?? [];
  let shown = 0;
  let inStrip = 0;
  for (const t of tiles) {
    const s = slots.find((x) => x.slot === t.slot);
    const filled = !!s && s.memberID !== 0;
    t.el.hidden = !filled;
    if (!filled) {
      t.memberID = 0;
      bindTrack(t, null);
      continue;
    }
    shown++;
    if (t.slot > 0) {
      inStrip++;
    }
    const name = s.name || `Member ${s.memberID}`;
    t.memberID = s.memberID;
    t.pinned = s.pinned;
    t.name.textContent = name;
    t.avatar.textContent = initials(name);
    t.badge.hidden = !s.pinned;
    t.el.classList.toggle('floor', s.floor);
    if (t.slot === 0) {
      t.pin.hidden = !s.pinned;
      t.pin.setAttribute('aria-label', `Unpin ${name}`);
      t.pin.title = 'Unpin';
    } else {
      t.pin.hidden = false;
      t.pin.setAttribute('aria-label', `Show ${name} in the large view`);
      t.pin.title = 'Show large';
    }
    bindTrack(t, call.trackForMid(s.mid));
  }
  ui.alone.hidden = shown > 0;
  ui.alone.textContent = `Waiting for others to join room ${room?.number ?? ''}…`;
  ui.strip.hidden = inStrip === 0;
  ui.mainSlot.classList.toggle('empty', tiles[0]?.el.hidden ?? true);
  renderStatus();
}

function bindTrack(t, track) {
  if (t.track === track) {
    return;
  }
  t.track = track;
  t.el.classList.remove('live');
  t.video.srcObject = track ? new MediaStream([track]) : null;
  if (track) {
    t.video.play().catch(() => {});
  }
}

async function pinTile(t) {
  if (!call || !t.memberID) {
    return;
  }
  try {
    // Slot 0 is the large view: pin this member there, or release it.
    await call.pin(0, t.slot === 0 && t.pinned ? 0 : t.memberID);
  } catch (err) {
    showNotice(`Could not change the large view: ${describeError(err)}`);
  }
}

function bindAudio() {
  const track = call?.remoteAudioTrack ?? null;
  const current = ui.remoteAudio.srcObject?.getAudioTracks()[0] ?? null;
  if (track === current) {
    return;
  }
  ui.remoteAudio.srcObject = track ? new MediaStream([track]) : null;
  if (track) {
    ui.remoteAudio.play().catch(() => {
      showNotice('Your browser blocked the meeting sound. Click anywhere on the page to hear it.');
      document.addEventListener('click', () => ui.remoteAudio.play().catch(() => {}), { once: true });
    });
  }
}

function renderSelf() {
  const video = local?.getVideoTracks()[0];
  ui.selfVideo.srcObject = video ? new MediaStream([video]) : null;
  ui.self.classList.toggle('none', !video);
  ui.self.classList.toggle('off', !!video && !video.enabled);
  ui.selfCaption.textContent = video ? 'You' : 'You · no camera';
}

function renderControls() {
  const audio = local?.getAudioTracks()[0];
  const video = local?.getVideoTracks()[0];
  setControl(ui.mic, !!audio, audio?.enabled ?? false, audio ? (audio.enabled ? 'Mute' : 'Unmute') : 'No microphone');
  setControl(ui.cam, !!video, video?.enabled ?? false, video ? (video.enabled ? 'Stop video' : 'Start video') : 'No camera');
}

function setControl(button, available, on, label) {
  button.disabled = !available;
  button.classList.toggle('off', available && !on);
  button.querySelector('.label').textContent = label;
}

function toggleMic() {
  const audio = local?.getAudioTracks()[0];
  if (audio) {
    audio.enabled = !audio.enabled;
    renderControls();
  }
}

function toggleCam() {
  const video = local?.getVideoTracks()[0];
  if (video) {
    video.enabled = !video.enabled;
    renderControls();
    renderSelf();
  }
}

function renderStatus() {
  if (ui.callView.hidden) {
    return;
  }
  const cs = client?.state;
  const state = call?.state;
  let text = '';
  let warn = false;
  if (cs === 'reconnecting' || cs === 'connecting' || cs === 'authenticating' || state === 'recovering') {
    text = 'Connection lost. Reconnecting…';
    warn = true;
  } else if (state === 'requesting' || state === 'trying' || state === 'early' || state === 'new') {
    text = 'Joining…';
  } else if (state === 'active') {
    const pcState = call.pc?.connectionState;
    if (pcState === 'failed' || pcState === 'disconnected') {
      text = 'Media connection interrupted…';
      warn = true;
    } else if (pcState === 'connected') {
      const others = tiles.filter((t) => !t.el.hidden).length;
      text = others ? `Connected · ${others} on screen` : 'Connected';
    } else {
      text = 'Connecting media…';
    }
  }
  ui.callStatus.textContent = text;
  ui.callStatus.classList.toggle('warn', warn);
}

// ---------------------------------------------------------------------------
// Helpers

function describeEnd({ cause, reason }) {
  switch (cause) {
    case 'MANAGER_REQUEST':
      return 'you were removed from the meeting.';
    case 'SYSTEM_SHUTDOWN':
      return 'the server is shutting down.';
    case 'NORMAL_CLEARING':
      return reason || 'the server hung up.';
    default:
      return reason || String(cause || 'unknown reason').toLowerCase().replaceAll('_', ' ');
  }
}

function describeError(err) {
  return err?.message || String(err);
}

function initials(name) {
  const parts = name.trim().split(/\s+/).filter(Boolean);
  const letters = parts.length > 1 ? [parts[0], parts[parts.length - 1]] : parts;
  return letters.map((p) => [...p][0] ?? '').join('').toUpperCase() || '?';
}

function randomTag() {
  return Array.from(crypto.getRandomValues(new Uint8Array(4)), (b) => b.toString(16).padStart(2, '0')).join('');
}

function delay(ms) {
  return new Promise((resolve) => { setTimeout(resolve, ms); });
}

function readLocal(key) {
  try {
    return localStorage.getItem(key);
  } catch {
    return null;
  }
}

function writeLocal(key, value) {
  try {
    localStorage.setItem(key, value);
  } catch {
    // Storage may be disabled; the name is then not remembered.
  }
}
