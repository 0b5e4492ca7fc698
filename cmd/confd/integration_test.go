package main

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"

	"github.com/confd/confd/signalling/vertotest"
)

// startTestApp runs confd on loopback with plain HTTP only.
func startTestApp(t *testing.T, mutate func(*Config)) *app {
	t.Helper()
	cfg, err := loadConfig("")
	if err != nil {
		t.Fatal(err)
	}
	cfg.Listen = ListenConfig{HTTP: "127.0.0.1:0"}
	cfg.WebRTC.LoopbackOnly = true
	cfg.DataDir = t.TempDir()
	if mutate != nil {
		mutate(&cfg)
	}
	a, err := newApp(cfg, zaptest.NewLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		a.shutdown(ctx)
	})
	return a
}

func (a *app) vertoURL() string { return "ws://" + a.addrs["http"].String() + "/verto" }

// member is one test participant: a client and its call.
type member struct {
	name   string
	ssrc   uint32
	client *vertotest.Client
	call   *vertotest.Call
}

func join(ctx context.Context, t *testing.T, a *app, name string, ssrc uint32, slots int) *member {
	t.Helper()
	return joinAs(ctx, t, a, name+"@localhost", "guest", name, ssrc, slots)
}

func joinAs(ctx context.Context, t *testing.T, a *app, login, passwd, name string, ssrc uint32, slots int) *member {
	t.Helper()
	c, call, err := vertotest.Join(ctx, a.vertoURL(), login, passwd, vertotest.CallOptions{Dest: "3500", Name: name, Slots: slots, Publish: true, SSRC: ssrc})
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	t.Cleanup(func() { _ = c.Close() })
	t.Cleanup(call.Close)
	return &member{name: name, ssrc: ssrc, client: c, call: call}
}

// waitPublishing waits until every other member sees m's video somewhere.
func waitSeen(ctx context.Context, t *testing.T, viewer *member, sources ...*member) {
	t.Helper()
	var ssrcs []uint32
	for _, s := range sources {
		ssrcs = append(ssrcs, s.ssrc)
	}
	if err := viewer.call.WaitSources(ctx, ssrcs...); err != nil {
		t.Fatalf("%s never received video from %v: %v", viewer.name, ssrcs, err)
	}
}

func checkStreams(t *testing.T, m *member) {
	t.Helper()
	for _, sl := range m.call.Slots().Slots {
		s := m.call.Stream(sl.MID)
		if s == nil {
			continue
		}
		lost, err := s.Check()
		if err != nil {
			t.Errorf("%s: %v", m.name, err)
		}
		if n := len(s.Packets()); lost*20 > n {
			t.Errorf("%s slot %s: %d of %d packets lost", m.name, sl.MID, lost, n)
		}
	}
}

// TestThreeMembersSeeEachOther: three members join 3500, each with two
// video slots; each receives the other two in its slots as continuous
// streams. When one leaves, the slot it filled is refilled by another
// source and stays one continuous stream.
func TestThreeMembersSeeEachOther(t *testing.T) {
	a := startTestApp(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	alice := join(ctx, t, a, "alice", 1111, 2)
	bob := join(ctx, t, a, "bob", 2222, 2)
	waitSeen(ctx, t, alice, bob)
	carol := join(ctx, t, a, "carol", 3333, 2)
	all := []*member{alice, bob, carol}
	for _, m := range all {
		var others []*member
		for _, o := range all {
			if o != m {
				others = append(others, o)
			}
		}
		waitSeen(ctx, t, m, others...)
	}
	for _, m := range all {
		checkStreams(t, m)
		checkAnswer(t, m)
	}
	// confd tells each publisher how its stream arrives (RTCP receiver reports).
	for _, m := range all {
		if err := vertotest.WaitFor(ctx, func() bool { return m.call.ReceiverReports() > 0 }); err != nil {
			t.Errorf("%s got no receiver report for its camera", m.name)
		}
	}

	// Carol published last, so she holds the video floor: slot 0 of Alice.
	floorMID := alice.call.Slots().Slots[0].MID
	slot0 := alice.call.Stream(floorMID)
	if got := slot0.CurrentSource(); got != carol.ssrc {
		t.Fatalf("alice's slot 0 shows %d, want carol (%d)", got, carol.ssrc)
	}
	if err := carol.call.Hangup(ctx); err != nil {
		t.Fatal(err)
	}
	err := vertotest.WaitFor(ctx, func() bool { return slot0.CurrentSource() == bob.ssrc })
	if err != nil {
		t.Fatalf("alice's slot 0 was not refilled with bob: sources %v", slot0.Sources())
	}
	checkStreams(t, alice)
	checkStreams(t, bob)
	// Bob held the floor before Carol came, so slot 0 went bob, carol, bob.
	if got, want := fmt.Sprint(slot0.Sources()), fmt.Sprint([]uint32{bob.ssrc, carol.ssrc, bob.ssrc}); got != want {
		t.Errorf("alice's slot 0 sources = %s, want %s", got, want)
	}
}

// checkAnswer: the answer's audio is Opus sendrecv, ready for the mixer.
func checkAnswer(t *testing.T, m *member) {
	t.Helper()
	sdp := m.call.PC().RemoteDescription().SDP
	audio, _, _ := strings.Cut(sdp[strings.Index(sdp, "m=audio"):], "m=video")
	if !strings.Contains(audio, "a=sendrecv") || !strings.Contains(strings.ToLower(audio), "opus/48000") {
		t.Errorf("%s: the answer's audio section is not Opus sendrecv:\n%s", m.name, audio)
	}
}

// TestVertoOnAnyPath: as with FreeSWITCH, a Verto client may open its
// websocket on any path of the HTTP port; a plain GET still gets the web
// client.
func TestVertoOnAnyPath(t *testing.T) {
	a := startTestApp(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	base := "ws://" + a.addrs["http"].String()
	for _, path := range []string{"/", "/verto", "/some/other/path"} {
		c, err := vertotest.Dial(ctx, base+path, "")
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		if err := c.Login(ctx, "guest", "guest"); err != nil {
			t.Errorf("%s: login: %v", path, err)
		}
		_ = c.Close()
	}
	resp, err := http.Get("http://" + a.addrs["http"].String() + "/")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
		t.Errorf("GET / = %d %s, want the web client", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
}
