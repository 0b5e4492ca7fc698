// screen.js: sharing a screen. The share is a second call on the same
// session to NUMBER-screen (verto-spec §10): video only, send only. confd
// makes it the room's presentation, shown in everyone's slot 0.

/** Whether getDisplayMedia refused because the user cancelled. */
function cancelled(err) {
  return err?.name === 'NotAllowedError' || err?.name === 'AbortError';
}

/**
 * shareScreen asks the user for a screen and calls room-screen with it. It
 * resolves with {call, track, stop()} or null when the user cancelled; it
 * throws when the browser could not capture. onEnded(detail) runs once
 * when the share ends by itself (the user stopped it in the browser, or
 * the server ended the call), not after stop().
 */
export async function shareScreen({ client, room, name, pin, iceServers, onEnded }) {
  let track;
  try {
    const stream = await navigator.mediaDevices.getDisplayMedia({ video: { frameRate: { ideal: 15, max: 30 } }, audio: false });
    track = stream.getVideoTracks()[0];
  } catch (err) {
    if (cancelled(err)) {
      return null;
    }
    throw err;
  }
  if (!track) {
    return null;
  }
  if ('contentHint' in track) {
    track.contentHint = 'detail'; // text stays sharp; the frame rate gives
  }
  const call = client.call({
    destination: `${room}-screen`,
    callerName: `${name} (screen)`,
    videoTrack: track,
    slots: 0,
    receiveAudio: false,
    screenShare: true,
    iceServers,
    pin,
  });
  let done = false;
  const finish = (detail, hangup) => {
    if (done) {
      return;
    }
    done = true;
    if (hangup) {
      call.hangup();
    }
    track.stop();
    if (detail) {
      onEnded(detail);
    }
  };
  track.addEventListener('ended', () => finish({ cause: 'NORMAL_CLEARING', by: 'local' }, true));
  call.addEventListener('ended', (ev) => finish(ev.detail, false));
  call.start();
  return { call, track, stop: () => finish(null, true) };
}
