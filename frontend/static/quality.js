// quality.js: a connection rating from WebRTC statistics, for the bars in
// the top bar. Received audio is steady (confd sends 20 ms packets even in
// silence), so its loss and jitter over an interval, with the round-trip
// time of the selected candidate pair, say how the network is doing.

/**
 * rate compares a stats report with the previous sample. It returns
 * {level: 0 (unknown) | 1 poor | 2 fair | 3 good, text, sample}; pass
 * sample back in next time.
 */
export function rate(report, prev) {
  let rtt = null;
  let lost = 0;
  let got = 0;
  let jitter = 0;
  report?.forEach((r) => {
    if (r.type === 'candidate-pair' && r.nominated && r.state === 'succeeded' && typeof r.currentRoundTripTime === 'number') {
      rtt = r.currentRoundTripTime;
    }
    if (r.type === 'inbound-rtp' && r.kind === 'audio') {
      lost += r.packetsLost || 0;
      got += r.packetsReceived || 0;
      jitter = Math.max(jitter, r.jitter || 0);
    }
  });
  const sample = { lost, got };
  if (!prev || got <= prev.got) {
    return { level: 0, text: 'measuring', sample };
  }
  const dl = Math.max(0, lost - prev.lost);
  const loss = dl / (dl + got - prev.got);
  const r = rtt ?? 0;
  // Thresholds where speech and video visibly suffer: a few percent loss,
  // a third of a second round trip, tens of milliseconds of jitter.
  let level = 1;
  let word = 'poor';
  if (loss < 0.02 && r < 0.3 && jitter < 0.03) {
    level = 3;
    word = 'good';
  } else if (loss < 0.08 && r < 0.6 && jitter < 0.08) {
    level = 2;
    word = 'fair';
  }
  const text = `${word} (${Math.round(loss * 100)}% loss${rtt !== null ? `, ${Math.round(r * 1000)} ms round trip` : ''})`;
  return { level, text, sample };
}

/** show puts a rating on the bars element. */
export function show(el, { level, text }) {
  el.dataset.level = String(level);
  el.setAttribute('aria-label', `Connection quality: ${text}`);
  el.title = `Connection quality: ${text}`;
}
