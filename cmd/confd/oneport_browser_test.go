package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/confd/confd/mixer"
	"github.com/confd/confd/signalling/vertotest"
	"github.com/confd/confd/turnserver"
)

// onePortResult is the JSON line testdata/browser/oneport.mjs prints.
type onePortResult struct {
	uiResult
	ICEServers []turnserver.ICEServer `json:"iceServers"`
	Pair       struct {
		State string `json:"state"`
		Local struct {
			Type, Protocol, Address, RelayProtocol, URL string
		} `json:"local"`
	} `json:"pair"`
	CandidateErrors []string   `json:"candidateErrors"`
	Heard           heardAudio `json:"heard"`
}

// TestChromiumRelayOnlyOverTheHTTPSPort: Debian's headless Chromium opens
// the meeting page from confd's HTTPS port and joins 3500 with
// iceTransportPolicy 'relay' and, of the ICE servers /config.json gives
// it, only turns:127.0.0.1:<that port>?transport=tcp: TURN over TLS on
// the same port as the page. It decodes the video of a pion member in the
// room and hears its tone, and the pion member hears the browser's.
func TestChromiumRelayOnlyOverTheHTTPSPort(t *testing.T) {
	dir, chromium := browserHarness(t)
	a := startOnePortApp(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 180*time.Second)
	defer cancel()
	const pionHz, browserHz = 440, browserToneHz
	ivf := filepath.Join("..", "..", "testdata", "media", "testsrc-320x180-15fps.ivf")
	pion := joinWith(ctx, t, a, vertotest.CallOptions{Name: "pion", Slots: 1, Publish: true, IVF: ivf, ToneHz: pionHz})

	tmp := t.TempDir()
	wav := filepath.Join(tmp, "tone.wav")
	if err := writeToneWAV(wav, browserHz, 2); err != nil {
		t.Fatal(err)
	}
	turns := "turns:127.0.0.1:" + portString(a.addrs["https"]) + "?transport=tcp"
	cmd := exec.CommandContext(ctx, "node", "oneport.mjs", "--base", a.httpsURL(), "--turns", turns,
		"--audio-file", wav, "--room", "3500", "--timeout-ms", "150000", "--chromium", chromium, "--wait-stdin")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "TMPDIR="+tmp)
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = 15 * time.Second
	var stdout bytes.Buffer
	stderr := &lockedBuffer{}
	cmd.Stdout, cmd.Stderr = &stdout, stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}

	// While the browser is in the call, the pion member hears its tone.
	heard := vertotest.WaitFor(ctx, func() bool {
		pcm, _ := pion.call.Heard()
		return len(pcm) >= mixer.SampleRate && vertotest.ToneLevelBlocks(pcm, browserHz) > steadyToneDB
	})
	pcm, _ := pion.call.Heard()
	pionLevel := vertotest.ToneLevelBlocks(pcm, browserHz)
	turnStats := a.turn.Stats()
	_, _ = io.WriteString(stdin, "done\n")
	_ = stdin.Close()
	runErr := cmd.Wait()

	var res onePortResult
	if err := json.Unmarshal(bytes.TrimSpace(stdout.Bytes()), &res); err != nil {
		t.Fatalf("oneport.mjs output %q (run: %v): %v\nstderr:\n%s", stdout.String(), runErr, err, stderr.String())
	}
	if !res.OK || runErr != nil {
		t.Fatalf("oneport.mjs failed in step %q: %s (run: %v)\nsteps: %s\ncandidate errors: %v\nstderr:\n%s",
			res.Step, res.Error, runErr, steps(res.uiResult), res.CandidateErrors, stderr.String())
	}
	t.Logf("oneport.mjs: %s", steps(res.uiResult))
	if len(only(res.ICEServers, turns)) != 1 {
		t.Errorf("the page's ICE servers %+v lack %s", res.ICEServers, turns)
	}
	if l := res.Pair.Local; l.Type != "relay" || l.RelayProtocol != "tls" || l.URL != turns {
		t.Errorf("the browser's candidate pair: %+v, want a relay over TLS through %s", res.Pair, turns)
	}
	if _, ok := res.Steps["video"]; !ok {
		t.Errorf("oneport.mjs reports no decoded video (steps: %s)", steps(res.uiResult))
	}
	if res.Heard.SampleRate != mixer.SampleRate {
		t.Fatalf("recorded at %d Hz", res.Heard.SampleRate)
	}
	judgeTone(t, "the browser (from pion)", pionHz, vertotest.ToneLevelBlocks(res.Heard.samples(), pionHz), true)
	judgeTone(t, "pion (from the browser)", browserHz, pionLevel, true)
	if heard != nil {
		t.Errorf("pion never heard the browser steadily: %v", heard)
	}
	if turnStats.Allocations == 0 || turnStats.RelayedIn == 0 || turnStats.RelayedOut == 0 || a.mux.Stats().TURN == 0 {
		t.Errorf("TURN stats %+v, HTTPS port %+v: want the browser's relay over the HTTPS port", turnStats, a.mux.Stats())
	}
}
