// panel.js: the side panel with its two tabs, people and chat, and the
// chat's unread count on the control bar and the tab.

import { $ } from './dom.js';

export class Panel {
  #panel = $('panel');
  #tabs = { people: $('tab-people'), chat: $('tab-chat') };
  #panes = { people: $('people-pane'), chat: $('chat-pane') };
  #buttons = { people: $('btn-people'), chat: $('btn-chat') };
  #unreadEls = [$('chat-unread'), $('tab-chat-unread')];
  #which = '';
  #unread = 0;
  #onChange;
  #abort = new AbortController();

  /** @param {{onChange: (which: string, focus: boolean) => void}} o */
  constructor({ onChange }) {
    this.#onChange = onChange;
    const signal = this.#abort.signal;
    for (const which of ['people', 'chat']) {
      this.#buttons[which].addEventListener('click', () => this.show(this.#which === which ? '' : which, true), { signal });
      this.#tabs[which].addEventListener('click', () => this.show(which, true), { signal });
      this.#tabs[which].addEventListener('keydown', (ev) => this.#tabKey(ev), { signal });
    }
    $('panel-close').addEventListener('click', () => this.show('', true), { signal });
    this.#render();
  }

  /** Which pane is open: '', 'people' or 'chat'. */
  get which() {
    return this.#which;
  }

  /** show opens a pane ('' closes the panel); focus moves into it when asked. */
  show(which, focus = false) {
    this.#which = which;
    this.#panel.hidden = !which;
    document.body.classList.toggle('panel-open', !!which);
    for (const w of ['people', 'chat']) {
      const on = which === w;
      this.#buttons[w].setAttribute('aria-expanded', String(on));
      this.#buttons[w].classList.toggle('active', on);
      this.#tabs[w].setAttribute('aria-selected', String(on));
      this.#tabs[w].tabIndex = on ? 0 : -1;
      this.#panes[w].hidden = !on;
    }
    if (which === 'chat') {
      this.#unread = 0;
      this.#render();
    } else if (which === 'people' && focus) {
      this.#tabs.people.focus();
    }
    this.#onChange(which, focus);
  }

  /** unread counts a message the user has not seen. */
  unread() {
    this.#unread++;
    this.#render();
  }

  /** destroy stops listening (the meeting is over). */
  destroy() {
    this.#abort.abort();
    this.#unread = 0;
    this.#render();
  }

  #render() {
    const n = this.#unread;
    for (const el of this.#unreadEls) {
      el.textContent = n > 99 ? '99+' : String(n);
      el.hidden = n === 0;
    }
    this.#buttons.chat.setAttribute('aria-label', n ? `Chat, ${n} unread` : 'Chat');
  }

  #tabKey(ev) {
    if (ev.key === 'ArrowLeft' || ev.key === 'ArrowRight') {
      const next = this.#which === 'people' ? 'chat' : 'people';
      this.show(next, false);
      this.#tabs[next].focus();
      ev.preventDefault();
    }
  }
}
