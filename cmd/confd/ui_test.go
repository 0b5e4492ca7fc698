package main

import (
	"bytes"
	"context"
	"encoding/json"
	"image/png"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

// uiResult is the JSON line testdata/browser/ui_meeting.mjs and
// ui_embed.mjs print.
type uiResult struct {
	OK          bool                       `json:"ok"`
	Error       string                     `json:"error"`
	Step        string                     `json:"step"`
	Steps       map[string]json.RawMessage `json:"steps"`
	Screenshots []string                   `json:"screenshots"`
	PageErrors  []string                   `json:"pageErrors"`
}

// uiOut is where a UI test writes its screenshots: testdata/browser/out/
// (ignored by git), so they can be looked at after the run.
func uiOut(t *testing.T, dir, name string) string {
	t.Helper()
	out, err := filepath.Abs(filepath.Join(dir, "out", name))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		t.Fatal(err)
	}
	return out
}

// runUIScript runs a harness script and returns its result. The deadline
// covers Chromium's start and stop; on it the script gets SIGTERM and
// still prints what it reached.
func runUIScript(t *testing.T, dir string, timeout time.Duration, extra []*os.File, args ...string) uiResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "TMPDIR="+t.TempDir())
	cmd.ExtraFiles = extra
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = 15 * time.Second
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	runErr := cmd.Run()
	var res uiResult
	if err := json.Unmarshal(bytes.TrimSpace(stdout.Bytes()), &res); err != nil {
		t.Fatalf("%s output %q (run: %v): %v\nstderr:\n%s", args[0], stdout.String(), runErr, err, stderr.String())
	}
	if !res.OK || runErr != nil {
		t.Fatalf("%s failed in step %q: %s (run: %v)\nsteps: %s\nstderr:\n%s", args[0], res.Step, res.Error, runErr, steps(res), stderr.String())
	}
	t.Logf("%s: %s", args[0], steps(res))
	return res
}

func steps(r uiResult) string {
	var b strings.Builder
	for _, name := range slices.Sorted(maps.Keys(r.Steps)) {
		b.WriteString("\n  " + name + ": " + string(r.Steps[name]))
	}
	return b.String()
}

// checkScreenshots checks that each named screenshot was written as a PNG
// at least w×h.
func checkScreenshots(t *testing.T, out string, w, h int, names ...string) {
	t.Helper()
	for _, name := range names {
		f, err := os.Open(filepath.Join(out, name))
		if err != nil {
			t.Errorf("screenshot %s: %v", name, err)
			continue
		}
		cfg, err := png.DecodeConfig(f)
		f.Close()
		if err != nil {
			t.Errorf("screenshot %s: %v", name, err)
			continue
		}
		if cfg.Width < w || cfg.Height < h {
			t.Errorf("screenshot %s is %dx%d, want at least %dx%d", name, cfg.Width, cfg.Height, w, h)
		}
	}
}

// TestUIMeeting: confd's meeting UI in headless Chromium with fake devices.
// A moderator (an account) and a guest join through the pre-join form in
// two browser contexts. Each sees the other's tile playing; both lists
// show both; a chat message arrives with an unread count; the moderator
// mutes the guest from the participant list and the guest's UI shows it
// (and cannot undo it); keyboard shortcuts raise a hand and mute; the
// guest's screen share becomes the moderator's large tile; the guest's
// websocket is cut and the call comes back through verto.attach without a
// new invite; the moderator sets a banner, stops the screen share and
// locks the room; a phone-sized viewport joins and fits. Screenshots of the
// pre-join, the meeting, the moderator panel and the phone go to
// testdata/browser/out/ui/.
func TestUIMeeting(t *testing.T) {
	dir, chromium := browserHarness(t)
	a := startTestApp(t, func(c *Config) {
		c.Users = []UserConfig{{Login: "1000", Password: "1234", Name: "Alice", Role: "moderator"}}
	})
	out := uiOut(t, dir, "ui")
	base := "http://" + a.addrs["http"].String()
	runUIScript(t, dir, 240*time.Second, nil, "ui_meeting.mjs",
		"--base", base, "--room", "3500", "--mod-login", "1000", "--mod-passwd", "1234",
		"--out", out, "--timeout-ms", "200000", "--chromium", chromium)
	checkScreenshots(t, out, 1280, 800, "prejoin.png", "meeting.png", "moderator.png")
	checkScreenshots(t, out, 390, 844, "phone.png", "phone-prejoin.png")
	t.Logf("screenshots in %s", out)
}

// TestUIModules runs the Node unit tests of the page's modules that need no
// DOM (testdata/browser/ui_units.mjs): the conference channels against a
// fake Verto client (subscribe and bootstrap, wireSerno gaps, chat history
// after a reconnect, resubscribing after a reattach, moving rooms,
// moderator commands), own mute/camera/hand against the server's row, and
// the connection rating.
func TestUIModules(t *testing.T) {
	dir := filepath.Join("..", "..", "testdata", "browser")
	if _, err := exec.LookPath("node"); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("node is missing: `make deps` installs it")
		}
		t.Skip("node is missing: run `make deps`")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", "--test", "--test-reporter=spec", "ui_units.mjs")
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("node --test ui_units.mjs: %v\n%s", err, out)
	}
	if !bytes.Contains(out, []byte("fail 0")) {
		t.Fatalf("node --test ui_units.mjs: no summary\n%s", out)
	}
}
