// The Chromium flags every harness here launches with (see README.md):
// no sandbox as root, no GPU, no network traffic of Chromium's own (this
// machine reaches no outside host), fake camera and microphone granted
// without a prompt, and loopback ICE candidates. Playwright adds
// --headless and a fresh --user-data-dir.
export const CHROMIUM_FLAGS = Object.freeze([
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--use-fake-ui-for-media-stream',
  '--use-fake-device-for-media-stream',
  '--allow-loopback-in-peer-connection',
]);
