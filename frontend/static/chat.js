// chat.js: the chat panel. Messages from the same sender in a row are
// grouped; the room's recent history (confd.chat.history) shows first.

import { $, h, hue } from './dom.js';

const MAX_SHOWN = 300;

export class Chat {
  #log = $('chat-log');
  #empty = $('chat-empty');
  #form = $('chat-form');
  #input = $('chat-input');
  #onSend;
  #last = null; // {from, el} of the last group
  #abort = new AbortController();

  /** @param {{onSend: (text: string) => Promise<void>}} o */
  constructor({ onSend }) {
    this.#onSend = onSend;
    const signal = this.#abort.signal;
    this.#form.addEventListener('submit', (ev) => {
      ev.preventDefault();
      this.#send();
    }, { signal });
    this.#input.addEventListener('keydown', (ev) => {
      if (ev.key === 'Enter' && !ev.shiftKey && !ev.isComposing) {
        ev.preventDefault();
        this.#send();
      }
    }, { signal });
    this.#input.addEventListener('input', () => this.#grow(), { signal });
  }

  /** destroy stops listening (the meeting is over). */
  destroy() {
    this.#abort.abort();
  }

  focus() {
    this.#input.focus();
  }

  clear() {
    this.#log.replaceChildren();
    this.#last = null;
    this.#empty.hidden = false;
  }

  /** add shows a message; mine marks the page's own messages. */
  add(msg, mine) {
    const name = msg.fromDisplay || msg.from || 'Someone';
    const stick = this.#log.scrollHeight - this.#log.scrollTop - this.#log.clientHeight < 40;
    const time = msg.history ? '' : new Date().toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
    let group = this.#last?.from === msg.from && this.#last?.name === name ? this.#last.el : null;
    if (!group) {
      group = h('li', { class: `msg-group${mine ? ' mine' : ''}` },
        h('p', { class: 'msg-head' },
          h('span', { class: 'msg-from', text: mine ? 'You' : name }),
          time ? h('time', { class: 'msg-time', text: time }) : null));
      group.querySelector('.msg-from').style.setProperty('--h', String(hue(name)));
      this.#log.append(group);
      this.#last = { from: msg.from, name, el: group };
    }
    group.append(h('p', { class: 'msg-text', text: msg.message }));
    this.#empty.hidden = true;
    while (this.#log.children.length > MAX_SHOWN) {
      this.#log.firstElementChild.remove();
    }
    if (stick || mine) {
      this.#log.scrollTop = this.#log.scrollHeight;
    }
  }

  async #send() {
    const text = this.#input.value.trim();
    if (!text) {
      return;
    }
    this.#input.value = '';
    this.#grow();
    try {
      await this.#onSend(text);
    } catch {
      this.#input.value = text; // keep it to try again
    }
  }

  #grow() {
    this.#input.style.height = 'auto';
    this.#input.style.height = `${Math.min(120, this.#input.scrollHeight)}px`;
  }
}
