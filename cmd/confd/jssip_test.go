package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/confd/confd/mixer"
	"github.com/confd/confd/room"
	"github.com/confd/confd/signalling/vertotest"
)

// jssipEvent is one line testdata/browser/jssip_call.mjs prints.
type jssipEvent struct {
	Event      string     `json:"event"`
	Status     int        `json:"status"`
	Originator string     `json:"originator"`
	Cause      string     `json:"cause"`
	Error      string     `json:"error"`
	VideoWidth int        `json:"videoWidth"`
	Advanced   bool       `json:"advanced"`
	Heard      heardAudio `json:"heard"`
}

// jssipHarness drives jssip_call.mjs: commands on its stdin, events from
// its stdout.
type jssipHarness struct {
	t      *testing.T
	stdin  io.WriteCloser
	events chan jssipEvent
	mu     sync.Mutex
	stderr strings.Builder
}

func startJsSIP(ctx context.Context, t *testing.T, dir, chromium string, args ...string) *jssipHarness {
	t.Helper()
	cmd := exec.CommandContext(ctx, "node", append([]string{"jssip_call.mjs", "--chromium", chromium}, args...)...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "TMPDIR="+t.TempDir())
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = 10 * time.Second
	h := &jssipHarness{t: t, events: make(chan jssipEvent, 32)}
	var err error
	if h.stdin, err = cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = writerFunc(func(b []byte) (int, error) {
		h.mu.Lock()
		defer h.mu.Unlock()
		if h.stderr.Len() < 1<<20 {
			h.stderr.Write(b)
		}
		return len(b), nil
	})
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer close(h.events)
		sc := bufio.NewScanner(out)
		sc.Buffer(make([]byte, 1<<16), 8<<20)
		for sc.Scan() {
			var ev jssipEvent
			if json.Unmarshal(sc.Bytes(), &ev) == nil {
				h.events <- ev
			}
		}
	}()
	t.Cleanup(func() {
		h.send("quit")
		_ = h.stdin.Close()
		_ = cmd.Wait()
		<-done
	})
	return h
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(b []byte) (int, error) { return f(b) }

func (h *jssipHarness) send(cmd string) { _, _ = fmt.Fprintln(h.stdin, cmd) }

// await waits for the event named want; an error event fails the test.
func (h *jssipHarness) await(ctx context.Context, want string) jssipEvent {
	h.t.Helper()
	for {
		select {
		case ev, ok := <-h.events:
			if !ok {
				h.fatalf("the harness ended waiting for %s", want)
			}
			if ev.Event == want {
				return ev
			}
			if ev.Event == "error" || ev.Event == "failed" || ev.Event == "registrationFailed" || (ev.Event == "ended" && want != "ended") {
				h.fatalf("waiting for %s: %+v", want, ev)
			}
		case <-ctx.Done():
			h.fatalf("no %s", want)
		}
	}
}

func (h *jssipHarness) fatalf(format string, args ...any) {
	h.t.Helper()
	h.mu.Lock()
	log := h.stderr.String()
	h.mu.Unlock()
	h.t.Fatalf(format+"\nharness stderr:\n%s", append(args, log)...)
}

// TestJsSIPCallsRoom: JsSIP 3.x from npm, in headless Chromium with a
// fake camera and a 660 Hz microphone, registers as 1000 over
// wss://127.0.0.1 with confd's self-signed certificate and calls 3500,
// where a pion Verto member publishes video and a 440 Hz tone. The call
// is confirmed; the browser plays the room's video and hears the pion
// member, who hears the browser; the live array shows the browser under
// its display name; *6 as RFC 4733 events mutes it; the browser's hangup
// ends the call on both sides, and so does a kick from the room.
func TestJsSIPCallsRoom(t *testing.T) {
	dir, chromium := browserHarness(t)
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "jssip")); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("testdata/browser/node_modules/jssip is missing: `make deps` installs it")
		}
		t.Skip("jssip is missing: run `make deps`")
	}
	a := startTestApp(t, func(c *Config) {
		c.Listen.HTTPS = "127.0.0.1:0"
		c.Users = []UserConfig{{Login: "1000", Password: "1234", Name: "Account 1000"}}
		c.Verto.AllowedOrigins = []string{"*"} // the harness page has its own localhost port
	})
	ctx, cancel := context.WithTimeout(context.Background(), 150*time.Second)
	defer cancel()

	vc, err := vertotest.Dial(ctx, a.vertoURL(), "")
	if err != nil {
		t.Fatal(err)
	}
	defer vc.Close()
	if err := vc.Login(ctx, "pion@localhost", "guest"); err != nil {
		t.Fatal(err)
	}
	ivf := filepath.Join("..", "..", "testdata", "media", "testsrc-320x180-15fps.ivf")
	const pionHz, browserHz = 440, 660
	pion, err := vc.Invite(ctx, vertotest.CallOptions{Dest: "3500", Name: "pion", Slots: 1, Publish: true, IVF: ivf, ToneHz: pionHz})
	if err != nil {
		t.Fatal(err)
	}
	defer pion.Close()
	if r, err := vc.Request(ctx, "verto.subscribe", map[string]any{"eventChannel": "conference-liveArray.3500@localhost"}); err != nil || r.Error != nil {
		t.Fatalf("subscribe: %v %v", err, r)
	}

	wss := "wss://" + a.addrs["https"].String()
	h := startJsSIP(ctx, t, dir, chromium, "--ws", wss, "--uri", "sip:1000@confd", "--password", "1234",
		"--name", "JsSIP Tester", "--dest", "sip:3500@confd", "--tone-hz", fmt.Sprint(browserHz))
	if ev := h.await(ctx, "registered"); ev.Status != 200 {
		t.Fatalf("REGISTER answered %d, want 200", ev.Status)
	}

	h.send("call")
	h.await(ctx, "confirmed")
	media := h.await(ctx, "media")
	if media.VideoWidth == 0 || !media.Advanced {
		t.Errorf("remote video %d wide, time advancing %v: want it playing", media.VideoWidth, media.Advanced)
	}
	if media.Heard.SampleRate != mixer.SampleRate {
		t.Fatalf("recorded at %d Hz, want %d", media.Heard.SampleRate, mixer.SampleRate)
	}
	judgeTone(t, "the JsSIP user", pionHz, vertotest.ToneLevelBlocks(media.Heard.samples(), pionHz), true)
	if err := liveArrayRows(ctx, vc, func(r laRow) bool { return r.name == "JsSIP Tester" }); err != nil {
		t.Fatal("the live array never showed the JsSIP member by its display name")
	}
	listen(ctx, t, pion)
	hears(t, "the pion member", pion, browserHz, true)

	h.send("dtmf *6")
	h.await(ctx, "dtmf")
	if err := liveArrayRows(ctx, vc, func(r laRow) bool { return r.name == "JsSIP Tester" && r.muted }); err != nil {
		t.Fatal("*6 as RFC 4733 never muted the JsSIP member in the live array")
	}

	h.send("hangup")
	if ev := h.await(ctx, "ended"); ev.Originator != "local" {
		t.Errorf("ended by %q, want local", ev.Originator)
	}
	if err := liveArrayRows(ctx, vc, func(r laRow) bool { return r.action == "del" }); err != nil {
		t.Fatal("the live array never dropped the JsSIP member after its BYE")
	}

	// The room's side: a moderator's kick hangs up a second call.
	h.send("call")
	h.await(ctx, "confirmed")
	h.await(ctx, "media")
	r, _ := a.rooms.Lookup("3500")
	if err := vertotest.WaitFor(ctx, func() bool { return len(r.Members()) == 2 }); err != nil {
		t.Fatal("the second call never joined")
	}
	id := memberIDOf(t, a, "JsSIP Tester")
	if _, err := r.Operate("test", roomKick(id)); err != nil {
		t.Fatal(err)
	}
	if ev := h.await(ctx, "ended"); ev.Originator != "remote" {
		t.Errorf("ended by %q, want remote (confd's BYE)", ev.Originator)
	}
	if err := vertotest.WaitFor(ctx, func() bool { return a.sip.Calls() == 0 }); err != nil {
		t.Fatalf("%d SIP calls left after the kick", a.sip.Calls())
	}
}

func roomKick(id int) room.Command { return room.Command{Name: "kick", Target: id} }
