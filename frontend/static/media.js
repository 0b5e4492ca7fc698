// media.js: the local camera and microphone, device lists, the microphone
// level meter and what the browser supports (setSinkId, getDisplayMedia).

export const VIDEO = { width: { ideal: 1280 }, height: { ideal: 720 }, frameRate: { ideal: 30 } };

/** Whether this page may use the camera and microphone at all. */
export const canCapture = !!globalThis.navigator?.mediaDevices?.getUserMedia;

/** Whether audio output can be sent to a chosen device (not in every browser). */
export const canPickOutput = typeof HTMLMediaElement !== 'undefined' && 'setSinkId' in HTMLMediaElement.prototype;

/** Whether the browser can share a screen (desktop browsers). */
export const canShareScreen = !!globalThis.navigator?.mediaDevices?.getDisplayMedia;

function audioConstraints(deviceId) {
  return { deviceId: deviceId ? { exact: deviceId } : undefined, echoCancellation: true, noiseSuppression: true, autoGainControl: true };
}

function videoConstraints(deviceId) {
  return { ...VIDEO, deviceId: deviceId ? { exact: deviceId } : undefined };
}

/**
 * openMedia asks for the microphone and camera (either may be left out).
 * When asking for both fails it asks for each alone, so one missing device
 * does not cost the other. It never throws: it returns
 * {audio, video, audioError, videoError}, tracks or null.
 */
export async function openMedia({ audio = true, video = true, audioId = '', videoId = '' } = {}) {
  const out = { audio: null, video: null, audioError: null, videoError: null };
  if (!canCapture) {
    const err = Object.assign(new Error('insecure page'), { name: 'InsecureContext' });
    return { ...out, audioError: audio ? err : null, videoError: video ? err : null };
  }
  if (!audio && !video) {
    return out;
  }
  try {
    const s = await navigator.mediaDevices.getUserMedia({
      audio: audio ? audioConstraints(audioId) : false,
      video: video ? videoConstraints(videoId) : false,
    });
    out.audio = s.getAudioTracks()[0] ?? null;
    out.video = s.getVideoTracks()[0] ?? null;
    return out;
  } catch (err) {
    if (!(audio && video) || err?.name === 'NotAllowedError' || err?.name === 'SecurityError') {
      out.audioError = audio ? err : null;
      out.videoError = video ? err : null;
      return out;
    }
  }
  const [a, v] = [await openOne({ audio: audioConstraints(audioId) }), await openOne({ video: videoConstraints(videoId) })];
  return { audio: a.track, video: v.track, audioError: a.error, videoError: v.error };
}

async function openOne(constraints) {
  try {
    const s = await navigator.mediaDevices.getUserMedia(constraints);
    return { track: s.getTracks()[0] ?? null, error: null };
  } catch (error) {
    return { track: null, error };
  }
}

/** deviceProblem says in plain words why a device could not be used. */
export function deviceProblem(what, err) {
  switch (err?.name) {
    case 'InsecureContext':
      return `This page cannot use your ${what}: browsers allow it only on https:// pages (or http://localhost).`;
    case 'NotFoundError':
    case 'OverconstrainedError':
      return `No ${what} was found.`;
    case 'NotReadableError':
    case 'AbortError':
      return `Your ${what} is in use by another application or could not be started.`;
    case 'NotAllowedError':
    case 'SecurityError':
      return `Access to your ${what} is blocked. Allow it in the site settings (next to the address bar), then press “Try again”.`;
    default:
      return `Your ${what} could not be used${err?.message ? ` (${err.message})` : ''}.`;
  }
}

/** Whether an error means the user or the browser refused access. */
export function refused(err) {
  return err?.name === 'NotAllowedError' || err?.name === 'SecurityError';
}

/** listDevices gives the microphones, cameras and speakers, with labels. */
export async function listDevices() {
  const out = { audioinput: [], videoinput: [], audiooutput: [] };
  if (!navigator.mediaDevices?.enumerateDevices) {
    return out;
  }
  let all = [];
  try {
    all = await navigator.mediaDevices.enumerateDevices();
  } catch {
    return out;
  }
  for (const d of all) {
    const list = out[d.kind];
    if (list && d.deviceId && !list.some((x) => x.deviceId === d.deviceId)) {
      const names = { audioinput: 'Microphone', videoinput: 'Camera', audiooutput: 'Speaker' };
      list.push({ deviceId: d.deviceId, label: d.label || `${names[d.kind]} ${list.length + 1}` });
    }
  }
  return out;
}

/** fillSelect puts devices into a <select>, keeping `current` selected. */
export function fillSelect(select, devices, current, emptyLabel) {
  const opts = devices.map((d) => new Option(d.label, d.deviceId));
  if (!opts.length) {
    opts.push(new Option(emptyLabel, ''));
  }
  select.replaceChildren(...opts);
  select.disabled = !devices.length;
  if (current && devices.some((d) => d.deviceId === current)) {
    select.value = current;
  }
}

/** deviceIdOf is the device a track comes from. */
export function deviceIdOf(track) {
  return track?.getSettings?.().deviceId ?? '';
}

/**
 * LevelMeter measures a microphone track's loudness (0..1) about 30 times
 * a second and hands it to onLevel. One AudioContext is shared and made on
 * first use; browsers may start it suspended until the user interacts.
 */
export class LevelMeter {
  static #ctx = null;
  #onLevel;
  #source = null;
  #analyser = null;
  #buf = null;
  #raf = 0;
  #level = 0;
  #track = null;

  constructor(onLevel) {
    this.#onLevel = onLevel;
  }

  attach(track) {
    if (track && track === this.#track) {
      return;
    }
    this.detach();
    if (!track || typeof AudioContext === 'undefined') {
      return;
    }
    try {
      const ctx = LevelMeter.context();
      this.#source = ctx.createMediaStreamSource(new MediaStream([track]));
      this.#analyser = ctx.createAnalyser();
      this.#analyser.fftSize = 512;
      this.#buf = new Float32Array(this.#analyser.fftSize);
      this.#source.connect(this.#analyser);
      this.#track = track;
    } catch {
      this.detach();
      return;
    }
    const tick = () => {
      this.#raf = requestAnimationFrame(tick);
      this.#analyser.getFloatTimeDomainData(this.#buf);
      let sum = 0;
      for (const x of this.#buf) {
        sum += x * x;
      }
      // RMS to a 0..1 scale that moves for speech: about -60..-10 dBFS.
      const db = 10 * Math.log10(sum / this.#buf.length + 1e-10);
      const level = Math.min(1, Math.max(0, (db + 60) / 50));
      // Fast attack, slow release, as meters do.
      this.#level = level > this.#level ? level : this.#level * 0.85 + level * 0.15;
      this.#onLevel(track.enabled ? this.#level : 0);
    };
    this.#raf = requestAnimationFrame(tick);
  }

  detach() {
    cancelAnimationFrame(this.#raf);
    this.#source?.disconnect();
    this.#source = null;
    this.#analyser = null;
    this.#track = null;
    this.#level = 0;
    this.#onLevel(0);
  }

  /** The shared AudioContext; resumed on the next user gesture if suspended. */
  static context() {
    if (!LevelMeter.#ctx) {
      LevelMeter.#ctx = new AudioContext();
      const resume = () => LevelMeter.#ctx.resume().catch(() => {});
      if (LevelMeter.#ctx.state === 'suspended') {
        document.addEventListener('pointerdown', resume, { once: true });
        document.addEventListener('keydown', resume, { once: true });
      }
    }
    return LevelMeter.#ctx;
  }
}
