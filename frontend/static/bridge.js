// bridge.js: the embedded page's side of the embed API (embed.js is the
// host page's side). Events go to the host page with postMessage, to the
// host's origin only; commands are taken only from the parent window and
// from that origin. Messages: {confd: 1, type: 'event', name, data} out,
// {confd: 1, type: 'command', name, args} in.
//
// The host's origin comes from the fragment embed.js writes. The server
// lets only configured origins frame /embed/ pages (CSP frame-ancestors),
// and where the browser tells (location.ancestorOrigins) the bridge also
// checks that the parent is that origin.

const COMMANDS = new Set(['join', 'mute', 'unmute', 'toggleAudio', 'toggleVideo', 'shareScreen', 'sendChat', 'raiseHand', 'leave']);

function validOrigin(o) {
  try {
    return !!o && o !== 'null' && new URL(o).origin === o;
  } catch {
    return false;
  }
}

export class Bridge {
  #origin = '';
  #handlers = [];

  constructor(origin) {
    const parent = window.parent !== window ? window.parent : null;
    const ancestors = location.ancestorOrigins;
    if (!parent || !validOrigin(origin)) {
      return; // not framed, or no host origin: nothing to talk to
    }
    if (ancestors && ancestors.length && ancestors[0] !== origin) {
      console.warn(`confd embed: the parent page is ${ancestors[0]}, not ${origin}; the embed API is off`);
      return;
    }
    this.#origin = origin;
    window.addEventListener('message', (ev) => this.#receive(ev));
  }

  /** Whether a host page listens. */
  get active() {
    return this.#origin !== '';
  }

  /** onCommand registers f(name, args) for the host's commands. */
  onCommand(f) {
    this.#handlers.push(f);
  }

  /** ready tells the host that the page loaded and takes commands. */
  ready(data) {
    this.emit('ready', data);
  }

  emit(name, data = {}) {
    if (!this.active) {
      return;
    }
    window.parent.postMessage({ confd: 1, type: 'event', name, data }, this.#origin);
  }

  #receive(ev) {
    if (ev.source !== window.parent || ev.origin !== this.#origin) {
      return;
    }
    const m = ev.data;
    if (!m || m.confd !== 1 || m.type !== 'command' || !COMMANDS.has(m.name)) {
      return;
    }
    const args = Array.isArray(m.args) ? m.args : [];
    for (const f of this.#handlers) {
      f(m.name, args);
    }
  }
}
