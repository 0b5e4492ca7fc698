package main

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/confd/confd/events"
	"github.com/confd/confd/signalling/vertotest"
)

// TestAPIMuteReachesVertoAndTheMix: a mute through the API shows in a
// Verto member's live array as a moderator's mute, and the muted member's
// 440 Hz tone leaves what the others hear while bob's 880 Hz stays.
func TestAPIMuteReachesVertoAndTheMix(t *testing.T) {
	a := startTestApp(t, withAPI)
	c := newAPIClient(t, a)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	clients := map[string]*vertotest.Client{}
	join := func(name string, hz float64) *vertotest.Call {
		vc, call, err := vertotest.Join(ctx, a.vertoURL(), name, "guest", vertotest.CallOptions{Dest: "3500", Name: name, ToneHz: hz})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		t.Cleanup(func() { call.Close(); _ = vc.Close() })
		clients[name] = vc
		return call
	}
	join("alice", 440)
	bob, carol := join("bob", 880), join("carol", 0)
	la := "conference-liveArray.3500@localhost"
	if r, err := clients["carol"].Request(ctx, "verto.subscribe", map[string]any{"eventChannel": la}); err != nil || r.Error != nil {
		t.Fatalf("subscribe: %v %v", err, r.Error)
	}
	listen(ctx, t, bob, carol)
	hears(t, "carol", carol, 440, true)
	hears(t, "bob", bob, 440, true)

	var m apiMember
	c.expect(http.StatusOK, http.MethodPost, "/rooms/3500/members/"+strconv.Itoa(c.memberID("3500", "alice"))+"/mute", nil, &m)
	if !m.Muted || !m.MuteLocked {
		t.Fatalf("alice after the mute: %+v", m)
	}
	waitRowMuted(ctx, t, clients["carol"], la, "alice")
	waitGone(ctx, t, 440, bob, carol)
	listen(ctx, t, bob, carol)
	hears(t, "bob after the API muted alice", bob, 440, false)
	hears(t, "carol after the API muted alice", carol, 440, false)
	hears(t, "carol after the API muted alice", carol, 880, true)
}

// waitRowMuted reads c's live-array events until name's row shows a
// moderator's mute.
func waitRowMuted(ctx context.Context, t *testing.T, c *vertotest.Client, channel, name string) {
	t.Helper()
	for {
		select {
		case <-ctx.Done():
			t.Fatalf("%s's live array never showed %s muted by a moderator", channel, name)
		case raw := <-c.Events():
			var ev struct {
				EventChannel string `json:"eventChannel"`
				Data         struct {
					Action string `json:"action"`
					Data   []any  `json:"data"`
				} `json:"data"`
			}
			if json.Unmarshal(raw, &ev) != nil || ev.EventChannel != channel || ev.Data.Action != "modify" || len(ev.Data.Data) < 5 || ev.Data.Data[2] != name {
				continue
			}
			var st struct {
				Audio struct{ Muted bool } `json:"audio"`
				Confd struct {
					MuteLocked bool `json:"muteLocked"`
				} `json:"confd"`
			}
			if s, ok := ev.Data.Data[4].(string); ok && json.Unmarshal([]byte(s), &st) == nil && st.Audio.Muted && st.Confd.MuteLocked {
				return
			}
		}
	}
}

// hookEvent is an event as a receiver decodes it.
type hookEvent struct {
	ID   string `json:"id"`
	Type string `json:"type"`
	Room struct {
		Number string `json:"number"`
	} `json:"room"`
	Data struct {
		Member *struct {
			Name string `json:"name"`
			Kind string `json:"kind"`
		} `json:"member"`
		By struct {
			Key string `json:"key"`
		} `json:"by"`
		Action string `json:"action"`
	} `json:"data"`
}

// hookReceiver is a webhook receiver on loopback that checks signatures.
type hookReceiver struct {
	t      *testing.T
	secret string
	mu     sync.Mutex
	got    []hookEvent
}

func (h *hookReceiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	if err := events.Verify(h.secret, r.Header.Get("Confd-Signature"), body, time.Now(), 5*time.Minute); err != nil {
		h.t.Errorf("webhook request with a bad signature: %v", err)
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	var e hookEvent
	if err := json.Unmarshal(body, &e); err != nil {
		h.t.Errorf("webhook body %s: %v", body, err)
	}
	h.mu.Lock()
	h.got = append(h.got, e)
	h.mu.Unlock()
	w.WriteHeader(http.StatusNoContent)
}

func (h *hookReceiver) events() []hookEvent {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]hookEvent(nil), h.got...)
}

// sseEvents opens the event stream and delivers its events; the reader
// ends when the stream does.
func sseEvents(t *testing.T, a *app, query string) <-chan hookEvent {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, "http://"+a.addrs["http"].String()+"/api/v1/events"+query, nil)
	req.Header.Set("Authorization", "Bearer "+testAPIKey)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if res.StatusCode != http.StatusOK || res.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("GET /api/v1/events = %s %s", res.Status, res.Header.Get("Content-Type"))
	}
	t.Cleanup(func() { _ = res.Body.Close() })
	out := make(chan hookEvent, 1024)
	go func() {
		defer close(out)
		sc := bufio.NewScanner(res.Body)
		for sc.Scan() {
			if data, ok := strings.CutPrefix(sc.Text(), "data: "); ok {
				var e hookEvent
				if json.Unmarshal([]byte(data), &e) == nil {
					out <- e
				}
			}
		}
	}()
	return out
}

// TestWebhooksAndEventStream: a pion member joins and leaves. A receiver on
// loopback gets participant_joined and participant_left, signed; a
// receiver that is down is retried, then the events are dropped and
// counted; a receiver that hangs overflows its one-event queue, counted;
// the event stream shows the same events with the same ids; and the
// room's mixer keeps running while the hung receiver holds its request
// (how many ticks a busy machine makes late is logged, not judged: that is
// the scheduler's, not the webhooks').
func TestWebhooksAndEventStream(t *testing.T) {
	good := &hookReceiver{t: t, secret: "hook-secret"}
	goodSrv := httptest.NewServer(good)
	t.Cleanup(goodSrv.Close)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	downURL := "http://" + l.Addr().String() + "/hook"
	_ = l.Close() // nothing listens there any more: connections are refused
	release := make(chan struct{})
	var holding atomic.Int32
	hungSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		holding.Add(1)
		defer holding.Add(-1)
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(hungSrv.Close)
	joinLeave := []string{"participant_joined", "participant_left"}
	a := startTestApp(t, func(c *Config) {
		withAPI(c)
		c.Webhooks = []WebhookConfig{
			{URL: goodSrv.URL + "/hook", Secret: "hook-secret", Events: joinLeave},
			{URL: downURL, Secret: "hook-secret", Events: joinLeave, RetryFor: time.Second, Backoff: 100 * time.Millisecond},
			{URL: hungSrv.URL, Secret: "hook-secret", Queue: 1, Timeout: time.Minute},
		}
	})
	t.Cleanup(func() { close(release) }) // runs before the app's shutdown
	c := newAPIClient(t, a)
	stream := sseEvents(t, a, "?room=3500&events=room_started,participant_joined,participant_left,room_finished,moderator_action")
	r3500, _ := a.rooms.Lookup("3500")
	before := r3500.Mixer().Stats()

	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	vc, call, err := vertotest.Join(ctx, a.vertoURL(), "pat", "guest", vertotest.CallOptions{Dest: "3500", Name: "pat", ToneHz: 440})
	if err != nil {
		t.Fatal(err)
	}
	defer vc.Close()
	// A burst of moderator actions while the hung receiver holds its
	// sender: its one-event queue overflows.
	for _, action := range []string{"lock", "unlock", "lock", "unlock"} {
		c.expect(http.StatusOK, http.MethodPost, "/rooms/3500/"+action, nil, nil)
	}
	if err := call.Hangup(ctx); err != nil {
		t.Fatal(err)
	}
	call.Close()

	if err := vertotest.WaitFor(ctx, func() bool { return len(good.events()) == 2 }); err != nil {
		t.Fatalf("the receiver got %+v", good.events())
	}
	got := good.events()
	for i, e := range got {
		if e.Type != joinLeave[i] || e.Room.Number != "3500" || e.Data.Member == nil || e.Data.Member.Name != "pat" || e.Data.Member.Kind != "browser" {
			t.Errorf("webhook event %d: %+v", i, e)
		}
	}

	want := []string{"room_started", "participant_joined", "moderator_action", "moderator_action", "moderator_action", "moderator_action", "participant_left", "room_finished"}
	var seen []hookEvent
	for len(seen) < len(want) {
		select {
		case e := <-stream:
			seen = append(seen, e)
		case <-ctx.Done():
			t.Fatalf("the stream showed %+v", seen)
		}
	}
	for i, e := range seen {
		if e.Type != want[i] || e.Room.Number != "3500" {
			t.Fatalf("stream event %d is %s, want %s (%+v)", i, e.Type, want[i], seen)
		}
	}
	if seen[1].ID != got[0].ID || seen[6].ID != got[1].ID {
		t.Errorf("the stream's join and leave (%s, %s) are not the webhook's (%s, %s)", seen[1].ID, seen[6].ID, got[0].ID, got[1].ID)
	}
	if seen[2].Data.By.Key != "ops" || seen[2].Data.Action != "lock" {
		t.Errorf("moderator_action %+v", seen[2].Data)
	}

	// The receiver that is down: each event tried several times, then
	// dropped and counted.
	var metrics map[string]float64
	err = vertotest.WaitFor(ctx, func() bool {
		metrics, err = scrapeMetrics(a)
		return err == nil && metrics[`confd_webhook_dropped_total{webhook="1",reason="retries"}`] == 2
	})
	if err != nil {
		t.Fatalf("the events for the receiver that is down were not dropped: %v", metrics)
	}
	if f := metrics[`confd_webhook_attempt_failures_total{webhook="1"}`]; f < 4 {
		t.Errorf("%v failed attempts for 2 events: not retried", f)
	}
	if d := metrics[`confd_webhook_delivered_total{webhook="0"}`]; d != 2 {
		t.Errorf("%v delivered to the good receiver, want 2", d)
	}
	if o := metrics[`confd_webhook_dropped_total{webhook="2",reason="overflow"}`]; o < 1 {
		t.Errorf("the hung receiver's queue did not overflow: %v", metrics)
	}
	if metrics["confd_event_streams"] != 1 {
		t.Errorf("event streams %v, want 1", metrics["confd_event_streams"])
	}
	if holding.Load() == 0 {
		t.Fatal("the hung receiver holds no request")
	}
	// Another 2 s of mixing while it still holds it.
	held := r3500.Mixer().Stats().Ticks
	if err := vertotest.WaitFor(ctx, func() bool { return r3500.Mixer().Stats().Ticks >= held+100 && holding.Load() > 0 }); err != nil {
		t.Errorf("the mixer stopped while a webhook receiver hung: %d ticks", r3500.Mixer().Stats().Ticks-held)
	}
	after := r3500.Mixer().Stats()
	t.Logf("mixer: %d ticks, %d made late by the machine, while the webhooks failed", after.Ticks-before.Ticks, after.Skipped-before.Skipped)
}

// TestShutdownEndsEventStreams: at shutdown an open event stream ends (its
// client sees the end of the body) and a webhook waiting to retry stops
// waiting, so shutdown does not run into its deadline.
func TestShutdownEndsEventStreams(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	downURL := "http://" + l.Addr().String() + "/hook"
	_ = l.Close()
	cfg, err := loadConfig("")
	if err != nil {
		t.Fatal(err)
	}
	cfg.Listen = ListenConfig{HTTP: "127.0.0.1:0"}
	cfg.WebRTC.LoopbackOnly = true
	cfg.DataDir = t.TempDir()
	withAPI(&cfg)
	cfg.Webhooks = []WebhookConfig{{URL: downURL, Secret: "hook-secret", Backoff: time.Hour, RetryFor: 2 * time.Hour}}
	a, err := newApp(cfg, zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.start(); err != nil {
		t.Fatal(err)
	}
	stream := sseEvents(t, a, "")
	c := newAPIClient(t, a)
	c.expect(http.StatusOK, http.MethodPost, "/rooms/3500/lock", nil, nil) // an event for the webhook to fail on
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if e := <-stream; e.Type != "moderator_action" {
		t.Fatalf("stream event %+v", e)
	}
	err = vertotest.WaitFor(ctx, func() bool { return a.events.Metrics().Webhooks[0].Failures == 1 })
	if err != nil {
		t.Fatal("the webhook never tried")
	}
	a.shutdown(ctx)
	if ctx.Err() != nil {
		t.Fatal("shutdown ran into its deadline")
	}
	for range stream { // ends when the body does
	}
	if m := a.events.Metrics().Webhooks[0]; m.Expired != 1 {
		t.Errorf("webhook metrics after shutdown %+v", m)
	}
}
