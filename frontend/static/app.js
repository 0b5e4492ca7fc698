// app.js: confd's meeting page. It reads how it was opened (the room,
// name, PIN and join token from the URL; /embed/<room> for an iframe),
// shows the pre-join check, runs the meeting and, embedded, talks to the
// host page through the bridge. The Verto protocol lives in verto.js and
// conference.js; the views in prejoin.js, meeting.js, stage.js,
// people.js and chat.js.

import { $ } from './dom.js';
import { Bridge } from './bridge.js';
import { Prejoin } from './prejoin.js';
import { Meeting } from './meeting.js';

const DEFAULT_CONFIG = { domain: location.hostname || 'localhost', iceServers: [], rooms: [{ number: '3500', name: 'Default room' }] };

const launch = readLaunch();
const bridge = launch.embed ? new Bridge(launch.origin) : null;
let config = DEFAULT_CONFIG;
let prejoin = null;
let meeting = null;
let lastChoice = null;

// A handle for debugging from the console (and for browser tests).
window.confd = Object.freeze({
  get meeting() { return meeting; },
  get client() { return meeting?.client ?? null; },
  get call() { return meeting?.call ?? null; },
  get conference() { return meeting?.conference ?? null; },
});

init();

/**
 * readLaunch reads the page's parameters: ?room=&name=&pin= and the join
 * token from #token= (or ?token=). An embedded page (/embed/<room>) takes
 * its settings from the fragment, which embed.js writes and which never
 * reaches a server: #name=&token=&origin=<host page>&prejoin=0|1.
 */
function readLaunch() {
  const q = new URLSearchParams(location.search);
  const f = new URLSearchParams(location.hash.replace(/^#/, ''));
  const m = location.pathname.match(/^\/embed\/([^/]+)\/?$/);
  const get = (k) => f.get(k) ?? q.get(k) ?? '';
  const out = {
    embed: !!m,
    room: m ? decodeURIComponent(m[1]) : q.get('room') ?? '',
    name: get('name'),
    pin: get('pin'),
    token: get('token'),
    origin: f.get('origin') ?? '',
    autoJoin: m ? f.get('prejoin') === '0' : q.get('prejoin') === '0',
    audioMuted: get('muted') === '1',
    videoMuted: get('video') === '0',
  };
  if (out.token || out.pin) {
    // Keep secrets out of the address bar, bookmarks and shared links.
    const clean = new URL(location.href);
    clean.searchParams.delete('token');
    clean.searchParams.delete('pin');
    clean.hash = '';
    history.replaceState(null, '', clean.pathname + clean.search);
  }
  return out;
}

async function init() {
  document.body.classList.toggle('embed', launch.embed);
  try {
    const res = await fetch('/config.json', { cache: 'no-store' });
    if (!res.ok) {
      throw new Error(`HTTP ${res.status}`);
    }
    const c = await res.json();
    config = {
      domain: c.domain || DEFAULT_CONFIG.domain,
      iceServers: Array.isArray(c.iceServers) ? c.iceServers : [],
      rooms: Array.isArray(c.rooms) && c.rooms.length ? c.rooms : DEFAULT_CONFIG.rooms,
    };
  } catch (err) {
    config = DEFAULT_CONFIG;
    $('join-status').textContent = `Could not load the server settings (${err.message}); using defaults.`;
  }
  prejoin = new Prejoin({ config, launch, onJoin: join });
  $('rejoin').addEventListener('click', () => {
    if (lastChoice) {
      showView('prejoin');
      prejoin.show({ keep: true });
    }
  });
  $('back-home').addEventListener('click', () => {
    location.href = launch.embed ? location.pathname : '/';
  });
  bridge?.onCommand((name, args) => command(name, args));
  bridge?.ready({ room: launch.room });
  window.addEventListener('pagehide', () => meeting?.close());
  showView('prejoin');
  await prejoin.show({ auto: launch.autoJoin });
}

function showView(name) {
  $('prejoin').hidden = name !== 'prejoin';
  $('meeting').hidden = name !== 'meeting';
  $('ended').hidden = name !== 'ended';
}

// join starts the meeting with what the pre-join view collected.
async function join(choice) {
  lastChoice = choice;
  showView('meeting');
  meeting = new Meeting({ config, choice, bridge, embed: launch.embed });
  meeting.addEventListener('end', (ev) => ended(ev.detail));
  await meeting.start();
}

function ended({ title, text, rejoin, back }) {
  meeting = null;
  if (back) {
    // Joining failed in a way the form can fix (a PIN, a login): back to it.
    showView('prejoin');
    prejoin.show({ error: back.error, needPin: !!back.needPin });
    return;
  }
  showView('ended');
  $('ended-title').textContent = title;
  $('ended-text').textContent = text;
  $('rejoin').hidden = !rejoin;
  $('back-home').hidden = launch.embed;
  document.title = 'confd';
  $('ended-title').focus();
}

// command runs a host page's command (embed API).
function command(name, args) {
  if (name === 'join' && !meeting) {
    prejoin.join();
    return;
  }
  if (!meeting) {
    bridge?.emit('error', { message: `${name}: not in a meeting` });
    return;
  }
  meeting.command(name, args);
}
