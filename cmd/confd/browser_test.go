package main

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/confd/confd/mixer"
	"github.com/confd/confd/signalling/vertotest"
)

// browserResult is the JSON line testdata/browser/signalwire_call.mjs prints.
type browserResult struct {
	OK                bool     `json:"ok"`
	LoggedIn          bool     `json:"loggedIn"`
	CallState         string   `json:"callState"`
	InboundVideoBytes []int64  `json:"inboundVideoBytes"`
	FramesDecoded     int      `json:"framesDecoded"`
	VideoFrameSize    string   `json:"videoFrameSize"`
	RemoteStream      bool     `json:"remoteStream"`
	Events            []string `json:"events"`
	Error             string   `json:"error"`
	// Heard is what the user heard at each step of --hear.
	Heard map[string]heardAudio `json:"heard"`
	// With --muted-ms: the audio packets a second the browser sent while
	// its microphone was muted, and the Opus format line it was answered.
	MutedPacketsPerSecond float64 `json:"mutedPacketsPerSecond"`
	OpusFmtp              string  `json:"opusFmtp"`
}

// heardAudio is one --hear recording: the live tracks of the stream the
// SDK plays, and what a WebAudio tap on it recorded.
type heardAudio struct {
	AudioTracks int    `json:"audioTracks"`
	VideoTracks int    `json:"videoTracks"`
	SampleRate  int    `json:"sampleRate"`
	PCM         []byte `json:"pcm"` // 16-bit little-endian samples (base64 in the JSON)
}

// samples decodes the recording.
func (h heardAudio) samples() []int16 {
	pcm := make([]int16, len(h.PCM)/2)
	for i := range pcm {
		pcm[i] = int16(binary.LittleEndian.Uint16(h.PCM[2*i:]))
	}
	return pcm
}

// browserHarness finds Chromium and the harness's npm packages. Outside CI
// a machine without them skips the test; `make test` installs both, so in CI
// their absence is a failure.
func browserHarness(t *testing.T) (dir, chromium string) {
	t.Helper()
	dir = filepath.Join("..", "..", "testdata", "browser")
	chromium = "/usr/bin/chromium"
	missing := ""
	if _, err := os.Stat(chromium); err != nil {
		missing = "chromium"
	} else if _, err := os.Stat(filepath.Join(dir, "node_modules", "@signalwire", "js")); err != nil {
		missing = "testdata/browser/node_modules (npm ci)"
	} else if _, err := exec.LookPath("node"); err != nil {
		missing = "node"
	}
	if missing == "" {
		return dir, chromium
	}
	if os.Getenv("CI") != "" {
		t.Fatalf("%s is missing: `make deps` installs it", missing)
	}
	t.Skipf("%s is missing: run `make deps`", missing)
	return "", ""
}

// TestSignalWireClientReceivesVideo: @signalwire/js 1.5.0, a real
// third-party Verto client, in headless Chromium with a fake camera, logs in
// to confd, calls 3500 where a pion member publishes and speaks, is answered
// and receives video. And it hears the member where the SDK plays it: the
// stream on its one remote element holds the mix's audio beside the video,
// and the member's tone is in it, after the answer, after a verto.modify
// updateMedia, after a reattach, and on a screen-share call's own stream.
// Muted, it sends Opus DTX, as confd's answer asks (usedtx=1): a few
// packets a second, not 50.
func TestSignalWireClientReceivesVideo(t *testing.T) {
	dir, chromium := browserHarness(t)
	a := startTestApp(t, func(c *Config) {
		c.Users = []UserConfig{{Login: "1000", Password: "1234", Name: "Browser"}}
		f := false
		c.Verto.AllowGuests = &f
		// The harness serves its page from its own localhost port.
		c.Verto.AllowedOrigins = []string{"*"}
	})
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	// The browser decodes what it receives, so the pion member publishes
	// real VP8 (a looped test pattern, key frame every second).
	c, err := vertotest.Dial(ctx, a.vertoURL(), "")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Login(ctx, "1000@localhost", "1234"); err != nil {
		t.Fatal(err)
	}
	ivf := filepath.Join("..", "..", "testdata", "media", "testsrc-320x180-15fps.ivf")
	const toneHz = 440
	call, err := c.Invite(ctx, vertotest.CallOptions{Dest: "3500", Name: "pion", Slots: 1, Publish: true, IVF: ivf, ToneHz: toneHz})
	if err != nil {
		t.Fatal(err)
	}
	defer call.Close()

	var res browserResult
	runErr, stderr := runHarness(ctx, t, dir, &res, "signalwire_call.mjs",
		"--ws", a.vertoURL(), "--login", "1000@localhost", "--passwd", "1234",
		"--dest", "3500", "--timeout-ms", "60000", "--chromium", chromium, "--hear", "--muted-ms", "3000")
	if !res.OK || runErr != nil {
		t.Fatalf("browser call failed: %s (run: %v)\nevents: %v\nstderr:\n%s", res.Error, runErr, res.Events, stderr)
	}
	if !res.LoggedIn || res.CallState != "active" {
		t.Errorf("loggedIn=%v callState=%q, want logged in and active", res.LoggedIn, res.CallState)
	}
	n := len(res.InboundVideoBytes)
	if n < 2 || res.InboundVideoBytes[n-1] <= res.InboundVideoBytes[0] || res.FramesDecoded == 0 {
		t.Errorf("inbound video bytes %v, frames decoded %d: video did not flow", res.InboundVideoBytes, res.FramesDecoded)
	}
	if !res.RemoteStream {
		t.Errorf("the answer gave the browser no remote stream (a=msid)")
	}
	t.Logf("browser received video: bytes %v, %d frames decoded, %s", res.InboundVideoBytes, res.FramesDecoded, res.VideoFrameSize)
	t.Logf("muted, the browser sent %.1f audio packets a second (answered %q)", res.MutedPacketsPerSecond, res.OpusFmtp)
	if !strings.Contains(res.OpusFmtp, "usedtx=1") {
		t.Errorf("the answer's Opus format line %q does not ask for DTX", res.OpusFmtp)
	}
	// Opus DTX sends a frame every 400 ms (2.5 a second) in silence, and
	// a few more as a silence begins; without it, 50.
	if res.MutedPacketsPerSecond <= 0 || res.MutedPacketsPerSecond > 15 {
		t.Errorf("muted, the browser sent %.1f audio packets a second, want DTX's few", res.MutedPacketsPerSecond)
	}
	for _, step := range []string{"answer", "updateMedia", "reattach", "screen"} {
		h, ok := res.Heard[step]
		switch {
		case !ok:
			t.Errorf("%s: nothing recorded", step)
			continue
		case h.AudioTracks == 0:
			t.Errorf("%s: the stream the SDK plays has no audio track (%d video)", step, h.VideoTracks)
			continue
		case step != "screen" && h.VideoTracks == 0:
			t.Errorf("%s: the remote element's stream has no video track", step)
		case h.SampleRate != mixer.SampleRate:
			t.Fatalf("%s: recorded at %d Hz, want %d", step, h.SampleRate, mixer.SampleRate)
		}
		judgeTone(t, "the SignalWire user after "+step, toneHz, vertotest.ToneLevelBlocks(h.samples(), toneHz), true)
	}
}

// runHarness runs one of testdata/browser's Node scripts with a deadline
// (SIGTERM on expiry, so it still prints its result and closes Chromium)
// and decodes the one JSON line it prints into out.
func runHarness(ctx context.Context, t *testing.T, dir string, out any, args ...string) (error, string) {
	t.Helper()
	cmd := exec.CommandContext(ctx, "node", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "TMPDIR="+t.TempDir())
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = 10 * time.Second
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	runErr := cmd.Run()
	if err := json.Unmarshal(bytes.TrimSpace(stdout.Bytes()), out); err != nil {
		t.Fatalf("%s output %q (run: %v): %v\nstderr:\n%s", args[0], stdout.String(), runErr, err, stderr.String())
	}
	return runErr, stderr.String()
}
