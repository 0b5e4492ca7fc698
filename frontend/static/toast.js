// toast.js: short notices over the meeting (a polite live region).

import { $ } from './dom.js';

const MAX_SHOWN = 3;

/** toast shows text for ms; kind is '', 'warn' or 'chat'. */
export function toast(text, kind = '', ms = 5000) {
  const box = $('toasts');
  const el = document.createElement('p');
  el.className = `toast ${kind}`.trim();
  el.textContent = text;
  box.append(el);
  while (box.children.length > MAX_SHOWN) {
    box.firstElementChild.remove();
  }
  setTimeout(() => {
    el.classList.add('going');
    setTimeout(() => el.remove(), 300);
  }, ms);
}
