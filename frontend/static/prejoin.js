// prejoin.js: the view before joining. A camera preview with microphone and
// camera toggles, device pickers and a level meter; clear words when a
// device is missing or access was refused; the room, the name, a PIN, an
// account or a join token from the URL.

import { $, paintAvatar, readStore, writeStore } from './dom.js';
import { LevelMeter, canPickOutput, deviceIdOf, deviceProblem, fillSelect, listDevices, openMedia, refused } from './media.js';

const KEY = { name: 'confd.name', room: 'confd.room', mic: 'confd.mic', cam: 'confd.cam', speaker: 'confd.speaker' };

/** tokenClaims reads a JWT's claims without checking it (the server does). */
export function tokenClaims(token) {
  try {
    const part = token.split('.')[1].replace(/-/g, '+').replace(/_/g, '/');
    const bin = atob(part.padEnd(part.length + ((4 - (part.length % 4)) % 4), '='));
    const c = JSON.parse(new TextDecoder().decode(Uint8Array.from(bin, (ch) => ch.charCodeAt(0))));
    return c && typeof c === 'object' ? c : {};
  } catch {
    return {};
  }
}

export class Prejoin {
  #config;
  #launch;
  #onJoin;
  #ui;
  #tracks = { audio: null, video: null };
  #errors = { audio: null, video: null };
  #on = { audio: true, video: true };
  #meter;
  #claims = {};
  #joining = false;
  #opening = null;

  constructor({ config, launch, onJoin }) {
    this.#config = config;
    this.#launch = launch;
    this.#onJoin = onJoin;
    this.#on = { audio: !launch.audioMuted, video: !launch.videoMuted };
    this.#claims = launch.token ? tokenClaims(launch.token) : {};
    const ui = {
      form: $('join-form'),
      title: $('join-title'),
      sub: $('join-sub'),
      room: $('room'),
      roomField: $('room-field'),
      roomList: $('room-list'),
      name: $('name'),
      pin: $('pin'),
      pinField: $('pin-field'),
      pinOpt: $('pin-opt'),
      more: $('more-options'),
      login: $('login'),
      passwd: $('passwd'),
      tokenNote: $('token-note'),
      join: $('join-button'),
      status: $('join-status'),
      video: $('preview-video'),
      off: $('preview-off'),
      note: $('preview-note'),
      avatar: $('preview-avatar'),
      mic: $('pre-mic'),
      cam: $('pre-cam'),
      meter: $('pre-meter'),
      micSelect: $('pre-mic-select'),
      camSelect: $('pre-cam-select'),
      speakerSelect: $('pre-speaker-select'),
      speakerField: $('pre-speaker-field'),
      error: $('device-error'),
      errorText: $('device-error-text'),
      retry: $('device-retry'),
    };
    this.#ui = ui;
    const bars = [...ui.meter.querySelectorAll('i')];
    this.#meter = new LevelMeter((level) => {
      const lit = Math.round(level * bars.length);
      bars.forEach((b, i) => b.classList.toggle('lit', i < lit));
      ui.meter.setAttribute('aria-valuenow', String(Math.round(level * 100)));
    });

    this.#fillRooms();
    // A join token's name is the one the inviting site vouches for.
    ui.name.value = this.#claims.name || launch.name || readStore(KEY.name) || '';
    if (launch.token) {
      ui.tokenNote.hidden = false;
      const roomName = this.#claims.room ? ` to room ${this.#claims.room}` : '';
      ui.tokenNote.textContent = `You were invited${roomName}${this.#claims.name ? ` as ${this.#claims.name}` : ''}${this.#claims.role === 'moderator' ? ', as a moderator' : ''}.`;
      if (this.#claims.name) {
        ui.name.readOnly = true;
      }
      ui.more.hidden = true;
    }
    if (launch.embed) {
      ui.roomField.hidden = true;
      ui.more.hidden = true;
    }
    ui.room.addEventListener('input', () => this.#roomChanged());
    ui.name.addEventListener('input', () => {
      paintAvatar(ui.avatar, ui.name.value || '?');
      ui.name.removeAttribute('aria-invalid');
    });
    ui.form.addEventListener('submit', (ev) => {
      ev.preventDefault();
      this.join();
    });
    ui.mic.addEventListener('click', () => this.#toggle('audio'));
    ui.cam.addEventListener('click', () => this.#toggle('video'));
    ui.micSelect.addEventListener('change', () => this.#pick('audio', ui.micSelect.value));
    ui.camSelect.addEventListener('change', () => this.#pick('video', ui.camSelect.value));
    ui.speakerSelect.addEventListener('change', () => writeStore(KEY.speaker, ui.speakerSelect.value));
    ui.retry.addEventListener('click', () => this.#open(true));
    navigator.mediaDevices?.addEventListener?.('devicechange', () => this.#fillDevices());
    this.#roomChanged();
    paintAvatar(ui.avatar, ui.name.value || '?');
  }

  /**
   * show opens the camera and microphone for the preview. With auto, it
   * joins as soon as they are open (embedding pages that skip the check).
   */
  async show({ auto = false, keep = false, error = '', needPin = false } = {}) {
    const ui = this.#ui;
    this.#joining = false;
    this.#setBusy(false);
    ui.status.textContent = error;
    if (needPin) {
      ui.pinField.hidden = false;
      ui.pin.value = '';
      ui.pin.setAttribute('aria-invalid', 'true');
    }
    ui.join.disabled = false;
    await this.#open(!keep || !this.#tracks.audio);
    if (needPin) {
      ui.pin.focus();
    } else if (auto && (ui.name.value.trim() || this.#launch.token)) {
      this.join();
    } else if (!this.#launch.embed) {
      // Embedded, the host page keeps the focus until the user comes in.
      (ui.name.value || ui.name.readOnly ? ui.join : ui.name).focus();
    }
  }

  /** join checks the form and hands the choice (and the tracks) over. */
  join() {
    const ui = this.#ui;
    if (this.#joining) {
      return;
    }
    const name = ui.name.value.trim() || this.#claims.name || '';
    const room = this.#launch.embed ? this.#launch.room : ui.room.value.trim();
    if (!room) {
      this.#invalid(ui.room, 'Please enter a room.');
      return;
    }
    if (!name) {
      this.#invalid(ui.name, 'Please enter your name.');
      return;
    }
    const pin = (ui.pinField.hidden ? '' : ui.pin.value.trim()) || ui.pinOpt.value.trim() || this.#launch.pin;
    if (!ui.pinField.hidden && !pin) {
      this.#invalid(ui.pin, 'This room needs its PIN.');
      return;
    }
    this.#joining = true;
    this.#setBusy(true);
    writeStore(KEY.name, ui.name.value.trim());
    if (!this.#launch.embed) {
      writeStore(KEY.room, room);
    }
    const known = this.#config.rooms.find((r) => String(r.number) === room || (r.name && r.name.toLowerCase() === room.toLowerCase()));
    const choice = {
      room: known ? String(known.number) : room,
      roomName: known?.name ?? '',
      name,
      pin,
      token: this.#launch.token,
      login: ui.login.value.trim(),
      passwd: ui.passwd.value,
      tracks: { ...this.#tracks },
      want: { audio: !this.#on.audio, video: !this.#on.video },
      speakerId: canPickOutput ? ui.speakerSelect.value : '',
      problems: this.#problems(),
    };
    // The meeting owns the tracks now; the preview lets go of them.
    this.#tracks = { audio: null, video: null };
    this.#meter.detach();
    ui.video.srcObject = null;
    this.#onJoin(choice);
  }

  #invalid(input, text) {
    input.setAttribute('aria-invalid', 'true');
    this.#ui.status.textContent = text;
    input.focus();
  }

  #setBusy(busy) {
    const ui = this.#ui;
    ui.form.setAttribute('aria-busy', String(busy));
    ui.join.disabled = busy;
    ui.join.textContent = busy ? 'Joining…' : 'Join now';
  }

  #fillRooms() {
    const ui = this.#ui;
    ui.roomList.replaceChildren(...this.#config.rooms.map((r) => {
      const o = document.createElement('option');
      o.value = String(r.number);
      o.label = r.name && r.name !== String(r.number) ? r.name : String(r.number);
      return o;
    }));
    ui.room.value = this.#launch.room || this.#claims.room || readStore(KEY.room) || String(this.#config.rooms[0]?.number ?? '');
  }

  #roomChanged() {
    const ui = this.#ui;
    const v = (this.#launch.embed ? this.#launch.room : ui.room.value).trim();
    ui.room.removeAttribute('aria-invalid');
    const r = this.#config.rooms.find((x) => String(x.number) === v || (x.name && x.name.toLowerCase() === v.toLowerCase()));
    ui.pinField.hidden = !(r?.pin && !this.#launch.pin && !this.#launch.token);
    const label = r?.name && r.name !== String(r.number) ? `${r.name}` : v ? `room ${v}` : '';
    ui.title.textContent = label ? `Join ${label}` : 'Join a meeting';
    document.title = label ? `Join ${label} · confd` : 'confd';
  }

  async #toggle(kind) {
    this.#on[kind] = !this.#on[kind];
    const t = this.#tracks[kind];
    if (t) {
      t.enabled = this.#on[kind];
    } else if (this.#on[kind]) {
      await this.#open(false);
    }
    this.#render();
  }

  async #pick(kind, deviceId) {
    writeStore(kind === 'audio' ? KEY.mic : KEY.cam, deviceId);
    const old = this.#tracks[kind];
    const got = await openMedia({ audio: kind === 'audio', video: kind === 'video', audioId: deviceId, videoId: deviceId });
    const track = got[kind];
    if (!track) {
      this.#errors[kind] = got[`${kind}Error`];
      this.#render();
      return;
    }
    old?.stop();
    track.enabled = this.#on[kind];
    this.#tracks[kind] = track;
    this.#errors[kind] = null;
    this.#render();
  }

  // #open (re)opens the devices the preview lacks; fresh stops and reopens both.
  #open(fresh) {
    if (this.#opening) {
      return this.#opening;
    }
    this.#opening = (async () => {
      if (fresh) {
        this.#tracks.audio?.stop();
        this.#tracks.video?.stop();
        this.#tracks = { audio: null, video: null };
      }
      const want = { audio: !this.#tracks.audio, video: !this.#tracks.video };
      if (want.audio || want.video) {
        this.#ui.note.textContent = 'Starting your camera…';
        const got = await openMedia({
          audio: want.audio, video: want.video, audioId: readStore(KEY.mic) ?? '', videoId: readStore(KEY.cam) ?? '',
        });
        for (const kind of ['audio', 'video']) {
          if (!want[kind]) {
            continue;
          }
          this.#tracks[kind] = got[kind];
          this.#errors[kind] = got[kind] ? null : got[`${kind}Error`];
          if (got[kind]) {
            got[kind].enabled = this.#on[kind];
          }
        }
      }
      await this.#fillDevices();
      this.#render();
    })().finally(() => { this.#opening = null; });
    return this.#opening;
  }

  async #fillDevices() {
    const ui = this.#ui;
    const d = await listDevices();
    fillSelect(ui.micSelect, d.audioinput, deviceIdOf(this.#tracks.audio), 'No microphone found');
    fillSelect(ui.camSelect, d.videoinput, deviceIdOf(this.#tracks.video), 'No camera found');
    ui.speakerField.hidden = !canPickOutput || !d.audiooutput.length;
    if (canPickOutput) {
      fillSelect(ui.speakerSelect, d.audiooutput, readStore(KEY.speaker) ?? '', 'System default');
    }
  }

  #problems() {
    const out = [];
    if (this.#errors.audio) {
      out.push(deviceProblem('microphone', this.#errors.audio));
    }
    if (this.#errors.video && !(refused(this.#errors.video) && refused(this.#errors.audio))) {
      out.push(deviceProblem('camera', this.#errors.video));
    }
    return out;
  }

  #render() {
    const ui = this.#ui;
    const { audio, video } = this.#tracks;
    const both = refused(this.#errors.audio) && refused(this.#errors.video);
    const problems = both ? [deviceProblem('camera and microphone', this.#errors.audio)] : this.#problems();
    ui.error.hidden = problems.length === 0;
    ui.errorText.textContent = problems.join(' ');
    if (problems.length) {
      const outcome = !audio && !video ? ' You can still join to watch and listen.'
        : !audio ? ' You can join; others will see you but not hear you.'
          : ' You can join; others will hear you but not see you.';
      ui.errorText.textContent += outcome;
    }
    ui.retry.hidden = !problems.length;

    const showVideo = !!video && this.#on.video;
    if (ui.video.srcObject?.getVideoTracks()[0] !== video) {
      ui.video.srcObject = video ? new MediaStream([video]) : null;
    }
    ui.video.hidden = !showVideo;
    ui.off.hidden = showVideo;
    ui.note.textContent = !video ? (this.#errors.video ? 'No camera' : 'Camera is off') : 'Camera is off';
    setToggle(ui.mic, !!audio, this.#on.audio, 'microphone');
    setToggle(ui.cam, !!video, this.#on.video, 'camera');
    ui.meter.hidden = !audio;
    if (audio && this.#on.audio) {
      this.#meter.attach(audio);
    } else {
      this.#meter.detach();
    }
  }
}

// setToggle shows a device toggle: its name stays, aria-pressed says on.
function setToggle(button, available, on, what) {
  button.disabled = !available;
  button.setAttribute('aria-pressed', String(available && on));
  button.classList.toggle('off', !available || !on);
  button.title = !available ? `No ${what}` : on ? `Turn the ${what} off` : `Turn the ${what} on`;
}
