// people.js: the participant list and, for moderators, the moderator
// panel: per-member actions in a menu (mute, stop video, large view for
// everyone, banner, move to another room, remove, admit, stop a screen
// share) and room-wide ones (mute all, lower hands, lock the room).

import { $, h, icon, paintAvatar } from './dom.js';

export class People {
  #list = $('people-list');
  #lobbyList = $('lobby-list');
  #lobbySection = $('lobby-section');
  #modTools = $('mod-tools');
  #lock = $('lock-room');
  #menu = $('menu');
  #rows = new Map(); // member id → li
  #onCommand;
  #ask;
  #rooms;
  #view = { members: [], selfId: 0, moderator: false, locked: false };
  #menuFor = null; // {member, button}
  #abort = new AbortController();

  /**
   * @param {object} o
   * @param {(command: string, member: object|null, value?: string) => void} o.onCommand
   * @param {(o: {title: string, label: string, value?: string, options?: string[]}) => Promise<string|null>} o.ask
   * @param {{number: string, name: string}[]} o.rooms
   */
  constructor({ onCommand, ask, rooms }) {
    this.#onCommand = onCommand;
    this.#ask = ask;
    this.#rooms = rooms;
    const signal = this.#abort.signal;
    $('mute-all').addEventListener('click', () => onCommand('muteall', null), { signal });
    $('lower-hands').addEventListener('click', () => onCommand('lowerhands', null), { signal });
    this.#lock.addEventListener('click', () => onCommand(this.#view.locked ? 'unlock' : 'lock', null), { signal });
    this.#menu.addEventListener('keydown', (ev) => this.#menuKey(ev), { signal });
    document.addEventListener('pointerdown', (ev) => {
      if (!this.#menu.hidden && !this.#menu.contains(ev.target) && !ev.target.closest?.('.pmenu')) {
        this.closeMenu(false);
      }
    }, { signal });
    window.addEventListener('resize', () => this.closeMenu(false), { signal });
  }

  /** destroy empties the lists and stops listening (the meeting is over). */
  destroy() {
    this.closeMenu(false);
    this.#abort.abort();
    for (const li of this.#rows.values()) {
      li.remove();
    }
    this.#rows.clear();
  }

  /** render shows the members; moderators get the actions. */
  render({ members, selfId, moderator, locked }) {
    this.#view = { members, selfId, moderator, locked: !!locked };
    this.#modTools.hidden = !moderator;
    this.#lock.setAttribute('aria-pressed', String(!!locked));
    this.#lock.querySelector('span').textContent = locked ? 'Unlock room' : 'Lock room';
    this.#lock.querySelector('use').setAttribute('href', locked ? '#i-unlock' : '#i-lock');
    // A member waiting in the lobby sees itself; moderators see everyone waiting.
    const inLobby = members.filter((m) => m.lobby && m.id !== selfId);
    const inRoom = members.filter((m) => !m.lobby || m.id === selfId);
    this.#lobbySection.hidden = !inLobby.length || !moderator;
    const seen = new Set();
    this.#place(this.#list, inRoom, seen);
    this.#place(this.#lobbyList, moderator ? inLobby : [], seen);
    for (const [id, li] of this.#rows) {
      if (!seen.has(id)) {
        li.remove();
        this.#rows.delete(id);
      }
    }
    if (this.#menuFor && !seen.has(this.#menuFor.member.id)) {
      this.closeMenu(false);
    }
  }

  #place(list, members, seen) {
    members.forEach((m, i) => {
      seen.add(m.id);
      let li = this.#rows.get(m.id);
      if (!li) {
        li = this.#makeRow(m);
        this.#rows.set(m.id, li);
      }
      this.#fill(li, m);
      if (list.children[i] !== li) {
        list.insertBefore(li, list.children[i] ?? null);
      }
    });
  }

  #makeRow(m) {
    const li = h('li', { class: 'person', 'data-member-id': m.id },
      h('span', { class: 'avatar sm', 'aria-hidden': 'true' }),
      h('span', { class: 'who' }, h('span', { class: 'pname' }), h('span', { class: 'ptags' })),
      h('span', { class: 'pstate' },
        h('span', { class: 'talk', 'aria-hidden': 'true' }, h('i'), h('i'), h('i')),
        icon('hand', 'st-hand'), icon('cam-off', 'st-cam'), icon('mic-off', 'st-mic'),
        h('span', { class: 'visually-hidden sr-state' })),
      h('button', { class: 'secondary small admit', type: 'button' }, icon('admit'), 'Admit'),
      h('button', { class: 'icon-button pmenu', type: 'button', 'aria-haspopup': 'menu', 'aria-expanded': 'false' }, icon('more')));
    li.querySelector('.pmenu').addEventListener('click', (ev) => this.#openMenu(li, ev.currentTarget));
    li.querySelector('.admit').addEventListener('click', () => {
      const member = this.#member(li);
      if (member) {
        this.#onCommand('admit', member);
      }
    });
    return li;
  }

  #member(li) {
    const id = Number(li.dataset.memberId);
    return this.#view.members.find((m) => m.id === id) ?? null;
  }

  #fill(li, m) {
    const self = m.id === this.#view.selfId;
    const name = m.name || `Member ${m.id}`;
    li.dataset.kind = m.kind;
    paintAvatar(li.querySelector('.avatar'), name);
    li.querySelector('.pname').textContent = name;
    const tags = [];
    if (self) {
      tags.push(h('span', { class: 'tag' }, 'You'));
    }
    if (self && this.#view.moderator) {
      tags.push(h('span', { class: 'tag mod' }, icon('star'), 'Moderator'));
    }
    if (m.lobby) {
      tags.push(h('span', { class: 'tag' }, 'Waiting'));
    }
    if (m.kind === 'phone') {
      tags.push(h('span', { class: 'tag phone' }, icon('phone'), 'Phone'));
    }
    if (m.kind === 'screen') {
      tags.push(h('span', { class: 'tag screen' }, icon('screen'), 'Screen'));
    }
    if (m.kind === 'stream') {
      tags.push(h('span', { class: 'tag screen' }, icon('screen'), 'Broadcast'));
    }
    if (m.floorLocked) {
      tags.push(h('span', { class: 'tag' }, icon('pin'), 'Large view'));
    }
    if (m.banner) {
      tags.push(h('span', { class: 'tag banner', title: m.banner }, m.banner));
    }
    li.querySelector('.ptags').replaceChildren(...tags);
    const talking = m.talking && !m.audioMuted;
    li.classList.toggle('talking', talking);
    li.classList.toggle('muted', m.audioMuted && m.kind !== 'screen');
    li.classList.toggle('mute-locked', m.muteLocked);
    li.classList.toggle('video-off', m.hasVideo && m.videoMuted && m.kind !== 'screen');
    li.classList.toggle('hand', m.handRaised);
    li.classList.toggle('lobby', m.lobby);
    const state = [talking ? 'speaking' : '', m.audioMuted && m.kind !== 'screen' ? (m.muteLocked ? 'muted by a moderator' : 'muted') : '',
      m.hasVideo && m.videoMuted && m.kind !== 'screen' ? 'camera off' : '', m.handRaised ? 'hand raised' : '', m.lobby ? 'waiting in the lobby' : '']
      .filter(Boolean).join(', ');
    li.querySelector('.sr-state').textContent = state ? `, ${state}` : '';
    const menu = li.querySelector('.pmenu');
    menu.hidden = !this.#view.moderator;
    menu.setAttribute('aria-label', `Actions for ${name}`);
    menu.title = 'Moderator actions';
    li.querySelector('.admit').hidden = !(this.#view.moderator && m.lobby);
    li.querySelector('.admit').setAttribute('aria-label', `Admit ${name}`);
  }

  #actions(m) {
    const self = m.id === this.#view.selfId;
    const run = (command, value) => () => this.#onCommand(command, m, value);
    const screen = m.kind === 'screen';
    return [
      m.lobby && { label: 'Admit', icon: 'admit', run: run('admit') },
      screen && { label: 'Stop this screen share', icon: 'screen-off', run: run('kick'), danger: true },
      !screen && { label: m.audioMuted ? 'Unmute' : 'Mute', icon: m.audioMuted ? 'mic' : 'mic-off', run: run(m.audioMuted ? 'unmute' : 'mute') },
      m.hasVideo && !screen && { label: m.videoMuted ? 'Allow video' : 'Stop video', icon: m.videoMuted ? 'cam' : 'cam-off', run: run(m.videoMuted ? 'unvmute' : 'vmute') },
      m.hasVideo && { label: m.floorLocked ? 'Release the large view' : 'Show large for everyone', icon: 'pin', run: run('vid-floor', 'force') },
      { label: m.banner ? 'Change banner…' : 'Set banner…', icon: 'text', run: () => this.#banner(m) },
      m.banner && { label: 'Clear banner', icon: 'close', run: run('vid-banner', 'clear') },
      m.kind === 'browser' && this.#rooms.length > 0 && { label: 'Move to room…', icon: 'move', run: () => this.#move(m) },
      !self && !screen && { label: 'Remove from meeting', icon: 'kick', run: run('kick'), danger: true },
    ].filter(Boolean);
  }

  async #banner(m) {
    const text = await this.#ask({ title: `Banner for ${m.name}`, label: 'Text shown on their tile', value: m.banner, ok: 'Set banner' });
    if (text === null) {
      return;
    }
    this.#onCommand('vid-banner', m, text.trim() ? encodeURIComponent(text.trim()) : 'clear');
  }

  async #move(m) {
    const options = this.#rooms.map((r) => String(r.number));
    const to = await this.#ask({ title: `Move ${m.name}`, label: 'Room number or name', value: '', options, ok: 'Move' });
    if (to && to.trim()) {
      this.#onCommand('transfer', m, to.trim());
    }
  }

  #openMenu(li, button) {
    const m = this.#member(li);
    if (!m) {
      return;
    }
    if (this.#menuFor?.button === button) {
      this.closeMenu(true);
      return;
    }
    this.closeMenu(false);
    const items = this.#actions(m).map((a) => {
      const b = h('button', { class: `menu-item${a.danger ? ' danger' : ''}`, type: 'button', role: 'menuitem', tabindex: '-1' }, icon(a.icon), a.label);
      b.addEventListener('click', () => {
        this.closeMenu(true);
        a.run();
      });
      return b;
    });
    this.#menu.replaceChildren(h('p', { class: 'menu-title', 'aria-hidden': 'true' }, m.name), ...items);
    this.#menu.setAttribute('aria-label', `Actions for ${m.name}`);
    this.#menu.hidden = false;
    const r = button.getBoundingClientRect();
    const mr = this.#menu.getBoundingClientRect();
    const top = r.bottom + mr.height + 8 > window.innerHeight ? Math.max(8, r.top - mr.height - 4) : r.bottom + 4;
    const left = Math.min(window.innerWidth - mr.width - 8, Math.max(8, r.right - mr.width));
    this.#menu.style.top = `${top}px`;
    this.#menu.style.left = `${left}px`;
    button.setAttribute('aria-expanded', 'true');
    this.#menuFor = { member: m, button };
    items[0]?.focus();
  }

  /** closeMenu hides the action menu, returning focus to its button. */
  closeMenu(refocus) {
    if (!this.#menuFor) {
      return;
    }
    const { button } = this.#menuFor;
    this.#menuFor = null;
    this.#menu.hidden = true;
    button.setAttribute('aria-expanded', 'false');
    if (refocus && button.isConnected) {
      button.focus();
    }
  }

  #menuKey(ev) {
    const items = [...this.#menu.querySelectorAll('[role="menuitem"]')];
    const i = items.indexOf(document.activeElement);
    switch (ev.key) {
      case 'ArrowDown':
        items[(i + 1) % items.length]?.focus();
        break;
      case 'ArrowUp':
        items[(i - 1 + items.length) % items.length]?.focus();
        break;
      case 'Home':
        items[0]?.focus();
        break;
      case 'End':
        items[items.length - 1]?.focus();
        break;
      case 'Escape':
        this.closeMenu(true);
        break;
      case 'Tab':
        this.closeMenu(false);
        return;
      default:
        return;
    }
    ev.preventDefault();
  }
}
