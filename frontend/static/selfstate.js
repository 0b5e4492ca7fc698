// selfstate.js: the member's own microphone, camera and hand. The server's
// row is the truth; the page asks for changes with the keypad codes confd
// reads from browsers (docs/protocol.md: 0 toggles the microphone, *0 the
// camera, *1 the hand). Since they toggle, a code is sent only when the
// row, with the codes still in flight, differs from what the user wants.
// Changes the server makes on its own (a moderator's mute, lowered hands)
// are adopted. No DOM: meeting.js applies the result.

/** The keypad code that toggles each state. */
export const DTMF = Object.freeze({ audio: '0', video: '*0', hand: '*1' });

/** KINDS are the states: audio (true: muted), video (true: off), hand (true: raised). */
export const KINDS = Object.freeze(['audio', 'video', 'hand']);

const rowValue = { audio: (m) => m.audioMuted, video: (m) => m.videoMuted, hand: (m) => m.handRaised };

export class SelfState {
  // Codes sent whose toggle the row has not shown yet, and when the last
  // went. Counting them tells our own changes from the server's, even when
  // the user toggles twice before the row follows once.
  #inflight = { audio: 0, video: 0, hand: 0 };
  #sentAt = { audio: 0, video: 0, hand: 0 };
  #now;
  #resendMs;

  /**
   * @param {{audio: boolean, video: boolean, hand: boolean}} want the state the user asked for
   * @param {object} [o]
   * @param {() => number} [o.now] a clock in milliseconds
   * @param {number} [o.resendMs] how long the row has to follow a code before it counts as lost
   */
  constructor(want, { now = () => performance.now(), resendMs = 4000 } = {}) {
    this.want = { audio: !!want.audio, video: !!want.video, hand: !!want.hand };
    this.#now = now;
    this.#resendMs = resendMs;
  }

  /**
   * ask sets what the user wants. Unmuting is refused (false) while a
   * moderator's mute holds (the member's row has muteLocked).
   */
  ask(kind, value, me) {
    if (kind === 'audio' && !value && me?.muteLocked) {
      return false;
    }
    this.want[kind] = !!value;
    return true;
  }

  /**
   * follow takes the own row after a change (prev: the row before, null for
   * the first). A change that one of our codes explains is ours; any other
   * is the server's (a moderator, the keypad, lowered hands) and is adopted
   * as wanted. It returns the adopted changes: [{kind, value}].
   */
  follow(me, prev) {
    const adopted = [];
    for (const kind of KINDS) {
      const now = rowValue[kind](me);
      if (!prev || now === rowValue[kind](prev)) {
        continue;
      }
      if (this.#inflight[kind] > 0) {
        this.#inflight[kind]--;
        this.#sentAt[kind] = this.#now();
      } else if (now !== this.want[kind]) {
        this.want[kind] = now;
        adopted.push({ kind, value: now });
      }
    }
    if (me.muteLocked && !this.want.audio) {
      this.want.audio = true;
      adopted.push({ kind: 'audio', value: true });
    }
    return adopted;
  }

  /**
   * codes returns the keypad codes to send now for the row to reach what
   * the user wants, counting those still in flight. has says which devices
   * exist (no microphone: nothing to mute).
   */
  codes(me, has = { audio: true, video: true }) {
    const out = [];
    for (const kind of KINDS) {
      if (kind !== 'hand' && !has[kind]) {
        continue;
      }
      if (this.#inflight[kind] && this.#now() - this.#sentAt[kind] >= this.#resendMs) {
        this.#inflight[kind] = 0; // the row never followed: count those codes as lost
      }
      const expected = rowValue[kind](me) !== (this.#inflight[kind] % 2 === 1);
      if (expected === this.want[kind]) {
        continue;
      }
      if (kind === 'audio' && !this.want.audio && me.muteLocked) {
        this.want.audio = true; // a moderator's mute wins
        continue;
      }
      this.#inflight[kind]++;
      this.#sentAt[kind] = this.#now();
      out.push({ kind, digits: DTMF[kind] });
    }
    return out;
  }

  /** failed forgets a code that could not be sent. */
  failed(kind) {
    this.#inflight[kind] = Math.max(0, this.#inflight[kind] - 1);
  }
}
