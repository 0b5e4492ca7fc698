// dialogs.js: the settings dialog (microphone, camera, speaker) and a small
// question dialog (a banner's text, the room to move someone to).

import { $, readStore } from './dom.js';
import { canPickOutput, deviceIdOf, fillSelect, listDevices } from './media.js';

export const SPEAKER_KEY = 'confd.speaker';

/**
 * Settings is the device dialog. onDevice(kind, deviceId) switches the
 * microphone ("audio") or camera ("video"); onSpeaker(deviceId) the output.
 */
export class Settings {
  #dialog = $('settings');
  #mic = $('set-mic');
  #cam = $('set-cam');
  #speaker = $('set-speaker');
  #hint = $('set-speaker-hint');
  #abort = new AbortController();

  constructor({ onDevice, onSpeaker }) {
    const signal = this.#abort.signal;
    this.#mic.addEventListener('change', () => onDevice('audio', this.#mic.value), { signal });
    this.#cam.addEventListener('change', () => onDevice('video', this.#cam.value), { signal });
    this.#speaker.addEventListener('change', () => onSpeaker(this.#speaker.value), { signal });
  }

  /** open shows the dialog with the devices in use selected. */
  async open({ audio, video, speakerId }) {
    const d = await listDevices();
    fillSelect(this.#mic, d.audioinput, deviceIdOf(audio), 'No microphone found');
    fillSelect(this.#cam, d.videoinput, deviceIdOf(video), 'No camera found');
    this.#hint.hidden = canPickOutput;
    this.#speaker.hidden = !canPickOutput;
    if (canPickOutput) {
      fillSelect(this.#speaker, d.audiooutput, speakerId || readStore(SPEAKER_KEY) || '', 'System default');
    }
    this.#dialog.showModal();
  }

  /** close hides the dialog and stops listening (the meeting is over). */
  close() {
    this.#abort.abort();
    if (this.#dialog.open) {
      this.#dialog.close();
    }
  }
}

/**
 * ask shows a question with a text field (options fill its suggestions).
 * It resolves with the text, or null when cancelled.
 */
export function ask({ title, label, value = '', options = [], ok = 'OK' }) {
  const dialog = $('ask');
  const input = $('ask-input');
  $('ask-title').textContent = title;
  $('ask-label').textContent = label;
  $('ask-ok').textContent = ok;
  $('ask-list').replaceChildren(...options.map((o) => new Option(o, o)));
  input.value = value;
  dialog.returnValue = '';
  dialog.showModal();
  input.select();
  return new Promise((resolve) => {
    dialog.addEventListener('close', () => resolve(dialog.returnValue === 'ok' ? input.value : null), { once: true });
  });
}
