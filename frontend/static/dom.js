// dom.js: small DOM helpers shared by the UI modules.

/** $ finds an element of the page by id. */
export const $ = (id) => document.getElementById(id);

/**
 * h makes an element: h('button', {class: 'x', 'aria-label': 'Close'}, child…).
 * Attributes with the value false, null or undefined are left out; children
 * that are strings become text.
 */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === false || v === null || v === undefined) {
      continue;
    }
    if (k === 'class') {
      el.className = v;
    } else if (k === 'text') {
      el.textContent = v;
    } else if (k.startsWith('on') && typeof v === 'function') {
      el.addEventListener(k.slice(2), v);
    } else {
      el.setAttribute(k, v === true ? '' : String(v));
    }
  }
  el.append(...children.filter((c) => c !== null && c !== undefined && c !== false));
  return el;
}

const SVG = 'http://www.w3.org/2000/svg';

/** icon returns an inline SVG that uses the page's sprite symbol #i-name. */
export function icon(name, cls = '') {
  const svg = document.createElementNS(SVG, 'svg');
  svg.setAttribute('aria-hidden', 'true');
  svg.setAttribute('focusable', 'false');
  svg.setAttribute('class', `icon ${cls}`.trim());
  const use = document.createElementNS(SVG, 'use');
  use.setAttribute('href', `#i-${name}`);
  svg.append(use);
  return svg;
}

/** initials gives one or two capital letters for an avatar. */
export function initials(name) {
  const parts = String(name ?? '').replace(/\([^)]*\)/g, ' ').trim().split(/\s+/).filter((p) => /^[\p{L}\p{N}]/u.test(p));
  const letters = parts.length > 1 ? [parts[0], parts[parts.length - 1]] : parts;
  return letters.map((p) => [...p][0] ?? '').join('').toUpperCase() || '?';
}

/** hue picks a stable avatar colour for a name. */
export function hue(name) {
  let x = 0;
  for (const ch of String(name ?? '')) {
    x = (x * 31 + ch.codePointAt(0)) % 360;
  }
  return x;
}

/** avatar fills el with a name's initials and colour. */
export function paintAvatar(el, name) {
  el.textContent = initials(name);
  el.style.setProperty('--h', String(hue(name)));
}

/** typing says whether keyboard input goes to a text field or a menu. */
export function typing(target) {
  const t = target instanceof Element ? target : null;
  return !!t?.closest('input, textarea, select, [contenteditable=""], [contenteditable="true"], [role="menu"], dialog[open]');
}

export function readStore(key) {
  try {
    return localStorage.getItem(key);
  } catch {
    return null;
  }
}

export function writeStore(key, value) {
  try {
    localStorage.setItem(key, value);
  } catch {
    // Storage may be disabled; the value is then not remembered.
  }
}

export function delay(ms) {
  return new Promise((resolve) => { setTimeout(resolve, ms); });
}

/** randomTag is 8 hex digits. */
export function randomTag() {
  return Array.from(crypto.getRandomValues(new Uint8Array(4)), (b) => b.toString(16).padStart(2, '0')).join('');
}
