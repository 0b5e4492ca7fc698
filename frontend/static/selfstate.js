// selfstate.js: the member's own microphone, camera and hand. The server's
// row is the truth; the page asks for changes with the keypad codes confd
// reads from browsers (docs/protocol.md: 0 toggles the microphone, *0 the
// camera, *1 the hand). Since they toggle, a code is sent only when the
// row differs from what the user wants, and not again until the row has
// had time to follow. Changes the server makes on its own (a moderator's
// mute, lowered hands) are adopted. No DOM: meeting.js applies the result.

/** The keypad code that toggles each state. */
export const DTMF = Object.freeze({ audio: '0', video: '*0', hand: '*1' });

/** KINDS are the states: audio (true: muted), video (true: off), hand (true: raised). */
export const KINDS = Object.freeze(['audio', 'video', 'hand']);

const rowValue = { audio: (m) => m.audioMuted, video: (m) => m.videoMuted, hand: (m) => m.handRaised };

export class SelfState {
  #pending = { audio: 0, video: 0, hand: 0 }; // when a code was sent (0: none in flight)
  #now;
  #resendMs;

  /**
   * @param {{audio: boolean, video: boolean, hand: boolean}} want the state the user asked for
   * @param {object} [o]
   * @param {() => number} [o.now] a clock in milliseconds
   * @param {number} [o.resendMs] how long the row has to follow a code
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
   * the first). It returns the states the server changed by itself, now
   * adopted as wanted: [{kind, value}].
   */
  follow(me, prev) {
    const adopted = [];
    for (const kind of KINDS) {
      const now = rowValue[kind](me);
      if (this.#pending[kind]) {
        if (now === this.want[kind]) {
          this.#pending[kind] = 0;
        }
      } else if (prev && now !== rowValue[kind](prev) && now !== this.want[kind]) {
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
   * the user wants, and marks them in flight. has says which devices exist
   * (no microphone: nothing to mute).
   */
  codes(me, has = { audio: true, video: true }) {
    const out = [];
    for (const kind of KINDS) {
      if (kind !== 'hand' && !has[kind]) {
        continue;
      }
      if (rowValue[kind](me) === this.want[kind]) {
        this.#pending[kind] = 0;
        continue;
      }
      if (kind === 'audio' && !this.want.audio && me.muteLocked) {
        this.want.audio = true; // a moderator's mute wins
        continue;
      }
      if (this.#pending[kind] && this.#now() - this.#pending[kind] < this.#resendMs) {
        continue;
      }
      this.#pending[kind] = this.#now() || 1;
      out.push({ kind, digits: DTMF[kind] });
    }
    return out;
  }

  /** failed forgets a code that could not be sent, so it is sent again. */
  failed(kind) {
    this.#pending[kind] = 0;
  }
}
