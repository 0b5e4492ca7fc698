// stage.js: the video tiles. Each slot confd fills (confd.slots) has a
// tile; slot 0, the floor or the presentation, is large and the others
// sit in a strip beside it (wide windows) or below it (narrow ones), with
// the self view last. With one other person the self view floats over the
// large tile; alone, it fills the stage. The layout is computed here so the
// page can ask for as many slots as it shows and tell the server how large
// each one is drawn.

import { $, paintAvatar } from './dom.js';

const LIVE_MS = 2000; // a tile without a new frame for this long shows the avatar
const MAX_SLOTS = 9;

const clamp = (x, lo, hi) => Math.min(hi, Math.max(lo, x));

export class Stage {
  #root = $('stage');
  #mainArea = $('main-area');
  #strip = $('strip');
  #note = $('stage-note');
  #noteTitle = $('stage-note-title');
  #noteText = $('stage-note-text');
  #template = $('tile-template');
  #tiles = [];
  #self;
  #members = new Map(); // member id → member
  #slots = [];
  #onPin;
  #onLayout;
  #timer = 0;
  #ro = null;
  #geometry = { capacity: 2, sizes: [] };
  #mode = '';
  #lobby = false;

  /**
   * @param {object} o
   * @param {(memberID: number, release: boolean) => void} o.onPin pin a member to the large tile
   * @param {() => void} o.onLayout the layout changed (sizes or capacity)
   */
  constructor({ onPin, onLayout }) {
    this.#onPin = onPin;
    this.#onLayout = onLayout;
    this.#self = this.#makeTile(-1);
    this.#self.el.classList.add('self');
    this.#self.video.classList.add('mirror');
    this.#self.pin.remove();
    this.#ro = new ResizeObserver(() => this.layout());
    this.#ro.observe(this.#root);
    this.#timer = setInterval(() => this.#checkFrames(), 500);
  }

  destroy() {
    clearInterval(this.#timer);
    this.#ro?.disconnect();
    for (const t of [...this.#tiles, this.#self]) {
      t.video.srcObject = null;
      t.el.remove();
    }
    this.#tiles = [];
  }

  /** setSelf shows the local camera (or the avatar) and the own state. */
  setSelf({ track, name, videoOff, muted, hand }) {
    const t = this.#self;
    this.#bind(t, track);
    t.name.textContent = `${name} (you)`;
    paintAvatar(t.avatar, name);
    t.el.classList.toggle('video-off', !track || videoOff);
    t.el.classList.toggle('muted', !!muted);
    t.el.classList.toggle('hand', !!hand);
    t.el.setAttribute('aria-label', `You${muted ? ', muted' : ''}${hand ? ', hand raised' : ''}`);
  }

  /** setSelfTalking highlights the self view while the server hears us. */
  setSelfTalking(talking) {
    this.#self.el.classList.toggle('talking', !!talking);
  }

  /** setSlots takes a confd.slots list and the call that carries the slots. */
  setSlots(slots, call) {
    this.#slots = slots;
    while (this.#tiles.length < slots.length) {
      this.#tiles.push(this.#makeTile(this.#tiles.length));
    }
    for (const t of this.#tiles) {
      const s = slots.find((x) => x.slot === t.slot);
      t.memberID = s?.memberID ?? 0;
      t.slotName = s?.name ?? '';
      t.pinned = !!s?.pinned;
      t.floor = !!s?.floor;
      t.mid = s?.mid ?? '';
      this.#bind(t, t.memberID ? call?.trackForMid(t.mid) ?? null : null);
    }
    this.#paint();
    this.layout();
  }

  /** rebind attaches the call's current tracks (after a renegotiation or a reattach). */
  rebind(call) {
    for (const t of this.#tiles) {
      this.#bind(t, t.memberID ? call?.trackForMid(t.mid) ?? null : null);
    }
  }

  /** setMembers takes the participant list for names, banners and icons. */
  setMembers(members) {
    this.#members = new Map(members.map((m) => [m.id, m]));
    this.#paint();
  }

  /** setLobby shows that a moderator has to let us in. */
  setLobby(waiting) {
    this.#lobby = waiting;
    this.layout();
  }

  /** The member shown large (0: none). */
  get mainMemberID() {
    return this.#tiles[0]?.memberID ?? 0;
  }

  /** wantedSlots is how many slots this layout can show. */
  wantedSlots() {
    return clamp(this.#geometry.capacity, 2, MAX_SLOTS);
  }

  /** slotSizes is each slot's drawn size in device pixels (0×0 when hidden). */
  slotSizes() {
    return this.#geometry.sizes;
  }

  #makeTile(slot) {
    const el = this.#template.content.firstElementChild.cloneNode(true);
    const t = {
      slot,
      el,
      video: el.querySelector('video'),
      avatar: el.querySelector('.avatar'),
      name: el.querySelector('.name'),
      banner: el.querySelector('.tile-banner'),
      pin: el.querySelector('.tile-pin'),
      memberID: 0,
      slotName: '',
      pinned: false,
      floor: false,
      mid: '',
      track: null,
      frames: 0,
      lastFrame: 0,
    };
    el.dataset.slot = String(slot);
    el.hidden = true;
    t.pin.addEventListener('click', () => {
      if (t.memberID) {
        this.#onPin(t.memberID, t.slot === 0 && t.pinned);
      }
    });
    t.video.addEventListener('resize', () => this.#checkFrames());
    return t;
  }

  #bind(t, track) {
    if (t.track === track) {
      return;
    }
    t.track = track;
    t.frames = 0;
    t.lastFrame = 0;
    t.el.classList.remove('live');
    t.video.srcObject = track ? new MediaStream([track]) : null;
    if (track) {
      t.video.play().catch(() => {});
    }
  }

  // #checkFrames marks tiles whose video is moving: confd keeps a slot's
  // stream when its member stops sending, so only frames tell.
  #checkFrames() {
    const now = performance.now();
    for (const t of [...this.#tiles, this.#self]) {
      if (!t.track) {
        t.el.classList.remove('live');
        continue;
      }
      const q = t.video.getVideoPlaybackQuality?.();
      const frames = q ? q.totalVideoFrames : (t.video.webkitDecodedFrameCount ?? 0);
      if (frames > t.frames) {
        t.frames = frames;
        t.lastFrame = now;
      }
      const live = t.video.videoWidth > 0 && (t === this.#self || now - t.lastFrame < LIVE_MS);
      t.el.classList.toggle('live', live);
      if (t.video.paused && t.video.srcObject) {
        t.video.play().catch(() => {});
      }
    }
  }

  #paint() {
    for (const t of this.#tiles) {
      const m = this.#members.get(t.memberID);
      const name = m?.name || t.slotName || (t.memberID ? `Member ${t.memberID}` : '');
      t.el.dataset.memberId = String(t.memberID);
      t.name.textContent = name;
      paintAvatar(t.avatar, name);
      t.banner.textContent = m?.banner ?? '';
      t.banner.hidden = !m?.banner;
      t.el.classList.toggle('muted', !!m?.audioMuted);
      t.el.classList.toggle('hand', !!m?.handRaised);
      t.el.classList.toggle('talking', !!m?.talking && !m?.audioMuted);
      t.el.classList.toggle('presenting', !!m?.screenShare);
      t.el.classList.toggle('pinned', t.pinned);
      const large = t.slot === 0;
      t.pin.hidden = large && !t.pinned;
      const pinLabel = large ? `Stop keeping ${name} in the large view` : `Show ${name} in the large view`;
      t.pin.setAttribute('aria-label', pinLabel);
      t.pin.title = large ? 'Unpin' : 'Show large';
      const state = [m?.screenShare ? 'presenting' : '', m?.audioMuted ? 'muted' : '', m?.handRaised ? 'hand raised' : '', m?.talking ? 'speaking' : '']
        .filter(Boolean).join(', ');
      t.el.setAttribute('aria-label', state ? `${name}, ${state}` : name);
    }
  }

  /** layout places the tiles for the stage's current size. */
  layout() {
    const W = this.#root.clientWidth;
    const H = this.#root.clientHeight;
    if (!W || !H) {
      return;
    }
    const gap = W < 600 ? 6 : 10;
    const remote = this.#tiles.filter((t) => t.memberID && !this.#lobby);
    const main = remote.find((t) => t.slot === 0) ?? remote[0] ?? null;
    const smalls = remote.filter((t) => t !== main);
    for (const t of this.#tiles) {
      t.el.hidden = !remote.includes(t);
    }
    this.#self.el.hidden = false;

    // The strip's geometry, also used for the capacity while it is empty.
    const side = W / H >= 1.2 && W >= 640;
    let tw;
    let th;
    if (side) {
      tw = Math.round(clamp(W * 0.2, 150, 300));
      th = Math.round((tw * 9) / 16);
    } else if (W < 600) {
      tw = Math.floor((W - 2 * gap) / 3);
      th = Math.round((tw * 3) / 4);
    } else {
      th = Math.round(clamp(H * 0.18, 72, 150));
      tw = Math.round((th * 16) / 9);
    }
    const fit = side ? Math.floor((H + gap) / (th + gap)) : Math.floor((W + gap) / (tw + gap));
    const capacity = 1 + Math.max(1, fit - 1); // the large tile, and the strip without the self view

    const mode = this.#lobby ? 'lobby' : !main ? 'alone' : smalls.length ? (side ? 'side' : 'bottom') : 'pip';
    this.#root.dataset.mode = mode;
    let mainRect = { x: 0, y: 0, w: W, h: H };
    if (mode === 'side' || mode === 'bottom') {
      const count = smalls.length + 1;
      if (side) {
        const need = count * th + (count - 1) * gap;
        if (need > H) {
          th = Math.max(60, Math.floor((H - (count - 1) * gap) / count));
          tw = Math.round((th * 16) / 9);
        }
        mainRect = { x: 0, y: 0, w: W - tw - gap, h: H };
        place(this.#strip, { x: W - tw, y: 0, w: tw, h: H });
      } else {
        mainRect = { x: 0, y: 0, w: W, h: H - th - gap };
        place(this.#strip, { x: 0, y: H - th, w: W, h: th });
      }
      this.#strip.classList.toggle('vertical', side);
      this.#strip.style.gap = `${gap}px`;
      this.#strip.hidden = false;
      const order = [...smalls, this.#self];
      for (const t of order) {
        t.el.style.width = `${tw}px`;
        t.el.style.height = `${th}px`;
      }
      const shown = [...this.#strip.children].filter((el) => !el.hidden);
      if (order.some((t, i) => shown[i] !== t.el)) {
        for (const t of order) {
          this.#strip.append(t.el);
          t.video.play().catch(() => {});
        }
      }
    } else {
      this.#strip.hidden = true;
    }
    place(this.#mainArea, mainRect);
    if (main) {
      this.#adopt(this.#mainArea, main);
      main.el.classList.add('large');
      main.el.style.width = '';
      main.el.style.height = '';
    }
    for (const t of this.#tiles) {
      if (t !== main) {
        t.el.classList.remove('large');
      }
    }
    const selfEl = this.#self.el;
    selfEl.classList.toggle('pip', mode === 'pip');
    selfEl.classList.toggle('large', mode === 'alone' || mode === 'lobby');
    if (mode === 'pip') {
      const portrait = mainRect.w < mainRect.h;
      const pw = Math.round(portrait ? clamp(mainRect.w * 0.3, 90, 150) : clamp(mainRect.w * 0.2, 120, 260));
      selfEl.style.width = `${pw}px`;
      selfEl.style.height = `${Math.round(portrait ? (pw * 4) / 3 : (pw * 9) / 16)}px`;
      this.#adopt(this.#mainArea, this.#self);
    } else if (mode === 'alone' || mode === 'lobby') {
      selfEl.style.width = '';
      selfEl.style.height = '';
      this.#adopt(this.#mainArea, this.#self);
    }
    this.#note.hidden = mode !== 'alone' && mode !== 'lobby';
    if (mode === 'lobby') {
      this.#noteTitle.textContent = 'Waiting to be let in';
      this.#noteText.textContent = 'A moderator will admit you in a moment.';
    } else if (mode === 'alone') {
      this.#noteTitle.textContent = 'Waiting for others to join';
      this.#noteText.textContent = 'You are the only one here.';
    }

    const sizes = this.#tiles.map((t) => {
      const r = t.el.hidden ? null : t.el.getBoundingClientRect();
      const dpr = window.devicePixelRatio || 1;
      return { slot: t.slot, width: r ? Math.round(r.width * dpr) : 0, height: r ? Math.round(r.height * dpr) : 0 };
    });
    const changed = mode !== this.#mode || capacity !== this.#geometry.capacity
      || JSON.stringify(sizes) !== JSON.stringify(this.#geometry.sizes);
    this.#mode = mode;
    this.#geometry = { capacity, sizes };
    if (changed) {
      this.#onLayout();
    }
  }

  #adopt(parent, t) {
    if (t.el.parentElement !== parent) {
      parent.append(t.el);
      t.video.play().catch(() => {});
    }
  }
}

function place(el, r) {
  el.style.left = `${r.x}px`;
  el.style.top = `${r.y}px`;
  el.style.width = `${r.w}px`;
  el.style.height = `${r.h}px`;
}
