// slotsync.js: keeps the server in step with the stage. When a larger
// window shows more tiles, the call is re-offered with more slots
// (verto.modify updateMedia); whenever a tile's size changes, the server
// hears it (confd.slotSize, one request per slot, in device pixels) so the
// slot gets the simulcast layer that fits. A server that does not know
// confd.slotSize (-32601) is not asked again.

const SIZE_DELAY_MS = 300;
const GROW_DELAY_MS = 1000; // resizing a window fires often: offer once it settles

export class SlotSync {
  #stage;
  #call = null;
  #sizesOK = true;
  #sent = new Map(); // slot → "WxH" the server was told
  #sizeTimer = 0;
  #growTimer = 0;

  /** @param {import('./stage.js').Stage} stage */
  constructor(stage) {
    this.#stage = stage;
  }

  /** use follows a new call (a join, or joining again). */
  use(call) {
    this.#call = call;
    this.reset();
  }

  /** reset forgets what the server was told (a reattached call has new slots). */
  reset() {
    this.#sent.clear();
    this.sizesChanged();
  }

  /** layoutChanged runs when the stage's layout changed. */
  layoutChanged() {
    this.sizesChanged();
    clearTimeout(this.#growTimer);
    this.#growTimer = setTimeout(() => this.#grow(), GROW_DELAY_MS);
  }

  sizesChanged() {
    clearTimeout(this.#sizeTimer);
    this.#sizeTimer = setTimeout(() => this.#sendSizes(), SIZE_DELAY_MS);
  }

  stop() {
    clearTimeout(this.#sizeTimer);
    clearTimeout(this.#growTimer);
    this.#call = null;
  }

  async #grow() {
    const call = this.#call;
    const want = this.#stage.wantedSlots();
    if (call?.state === 'active' && want > call.slotCount) {
      try {
        await call.addSlots(want - call.slotCount);
      } catch (err) {
        console.warn('confd: could not add slots', err);
      }
    }
  }

  async #sendSizes() {
    const call = this.#call;
    if (!this.#sizesOK || call?.state !== 'active') {
      return;
    }
    for (const s of this.#stage.slotSizes()) {
      const key = `${s.width}x${s.height}`;
      if (s.slot >= call.slotCount || this.#sent.get(s.slot) === key) {
        continue;
      }
      this.#sent.set(s.slot, key);
      try {
        await call.request('confd.slotSize', { slot: s.slot, width: s.width, height: s.height });
      } catch (err) {
        if (err?.code === -32601) {
          this.#sizesOK = false;
          return;
        }
        if (err?.code !== -32602) {
          this.#sent.delete(s.slot); // try again with the next layout
        }
      }
      if (call !== this.#call) {
        return;
      }
    }
  }
}
