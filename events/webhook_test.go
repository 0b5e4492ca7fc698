package events

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/confd/confd/room"
)

// receiver is a webhook receiver on loopback that checks every request's
// signature.
type receiver struct {
	t      *testing.T
	secret string
	mu     sync.Mutex
	got    []string // event types, in arrival order
	status int
}

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	if err := Verify(rc.secret, r.Header.Get(SignatureHeader), body, time.Now(), time.Minute); err != nil {
		rc.t.Errorf("request %s: %v", body, err)
	}
	if r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/json" || r.Header.Get("Confd-Event") == "" {
		rc.t.Errorf("request %s %v", r.Method, r.Header)
	}
	rc.mu.Lock()
	defer rc.mu.Unlock()
	rc.got = append(rc.got, r.Header.Get("Confd-Event"))
	if rc.status != 0 {
		w.WriteHeader(rc.status)
	}
}

func (rc *receiver) events() []string {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]string(nil), rc.got...)
}

func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
		time.Sleep(5 * time.Millisecond) // polling a condition, not standing in for one
	}
}

// TestWebhookDeliversSignedInOrder: a receiver on loopback gets the events
// its filter passes, in order, each signed; chat only because it asked.
func TestWebhookDeliversSignedInOrder(t *testing.T) {
	rc := &receiver{t: t, secret: "s3cret"}
	srv := httptest.NewServer(rc)
	defer srv.Close()
	b, err := New(Config{Webhooks: []WebhookConfig{
		{URL: srv.URL + "/hook?token=abc", Secret: "s3cret", Events: []string{"participant_joined", "chat", "participant_left"}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	b.Start()
	for _, k := range []room.ActivityKind{room.RoomStarted, room.MemberJoined, room.MemberMuted, room.ChatPosted, room.MemberLeft} {
		b.Activity(activity(k))
	}
	waitUntil(t, "three events arrived", func() bool { return len(rc.events()) == 3 })
	b.Close(context.Background())
	if got := strings.Join(rc.events(), " "); got != "participant_joined chat participant_left" {
		t.Errorf("received %s", got)
	}
	if m := b.Metrics().Webhooks[0]; m.Delivered != 3 || m.Failures != 0 || m.Queued != 0 {
		t.Errorf("metrics %+v", m)
	}
}

// TestWebhookConfig: bad URLs, a missing secret, unknown events and
// negative limits are refused; defaults fill the rest.
func TestWebhookConfig(t *testing.T) {
	for _, wc := range []WebhookConfig{
		{URL: "ftp://example.org/", Secret: "x"},
		{URL: "/relative", Secret: "x"},
		{URL: "http://example.org/"},
		{URL: "http://example.org/", Secret: "x", Events: []string{"joined"}},
		{URL: "http://example.org/", Secret: "x", Queue: -1},
	} {
		if _, err := New(Config{Webhooks: []WebhookConfig{wc}}); !errors.Is(err, ErrBadWebhook) {
			t.Errorf("%+v: %v, want ErrBadWebhook", wc, err)
		}
	}
	b, err := New(Config{Webhooks: []WebhookConfig{{URL: "http://127.0.0.1:1/", Secret: "x"}}})
	if err != nil {
		t.Fatal(err)
	}
	c := b.hooks[0].cfg
	if c.Queue != DefaultQueue || c.RetryFor != DefaultRetryFor || c.Backoff != DefaultBackoff || c.Timeout != DefaultTimeout {
		t.Errorf("defaults %+v", c)
	}
}

// flaky fails its first n requests, recording when each came.
type flaky struct {
	mu    sync.Mutex
	fails int
	at    []time.Duration // since start
	start time.Time
}

func (f *flaky) Do(req *http.Request) (*http.Response, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.at = append(f.at, time.Since(f.start))
	if f.fails > 0 {
		f.fails--
		return nil, errors.New("connection refused")
	}
	return &http.Response{StatusCode: http.StatusNoContent, Body: io.NopCloser(strings.NewReader(""))}, nil
}

func fakeBus(t *testing.T, wc WebhookConfig, d doer, log *zap.Logger) *Bus {
	t.Helper()
	wc.URL, wc.Secret = "http://127.0.0.1:1/hook", "s3cret"
	b, err := New(Config{Webhooks: []WebhookConfig{wc}, Log: log})
	if err != nil {
		t.Fatal(err)
	}
	b.hooks[0].client = d
	b.Start()
	return b
}

// TestWebhookRetriesWithBackoff: a failed event is retried after 1 s,
// then 2 s, 4 s… until the next try would start past RetryFor; then it is
// dropped and counted, and the next event goes out. Virtual time.
func TestWebhookRetriesWithBackoff(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		d := &flaky{fails: 5, start: time.Now()}
		b := fakeBus(t, WebhookConfig{RetryFor: 10 * time.Second, Backoff: time.Second}, d, nil)
		b.Activity(activity(room.RoomStarted))
		b.Activity(activity(room.RoomFinished))
		time.Sleep(time.Minute)
		synctest.Wait()
		// Tries at 0, 1, 3 and 7 s; the next would start at 15 s, past
		// 10 s: dropped. The second event fails once more, then goes.
		want := []time.Duration{0, time.Second, 3 * time.Second, 7 * time.Second, 7 * time.Second, 8 * time.Second}
		if d.at[0] != 0 || len(d.at) != len(want) {
			t.Fatalf("attempts at %v, want %v", d.at, want)
		}
		for i := range want {
			if d.at[i] != want[i] {
				t.Fatalf("attempts at %v, want %v", d.at, want)
			}
		}
		m := b.Metrics().Webhooks[0]
		if m.Expired != 1 || m.Delivered != 1 || m.Failures != 5 {
			t.Errorf("metrics %+v", m)
		}
		b.Close(context.Background())
	})
}

// stuck is a receiver that never answers until released.
type stuck struct{ release chan struct{} }

func (s *stuck) Do(req *http.Request) (*http.Response, error) {
	select {
	case <-s.release:
		return &http.Response{StatusCode: http.StatusOK, Body: io.NopCloser(strings.NewReader(""))}, nil
	case <-req.Context().Done():
		return nil, req.Context().Err()
	}
}

// TestWebhookQueueOverflow: while a receiver hangs, Activity never waits:
// the queue fills, further events are dropped, counted and logged once the
// sender can; the queued ones still go out.
func TestWebhookQueueOverflow(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		core, logs := observer.New(zap.WarnLevel)
		s := &stuck{release: make(chan struct{})}
		b := fakeBus(t, WebhookConfig{Queue: 4, Timeout: time.Hour}, s, zap.New(core))
		ctx, cancel := context.WithCancel(context.Background())
		defer b.Close(ctx)
		defer cancel() // on a failure, Close ends the stuck request
		b.Activity(activity(room.RoomStarted))
		synctest.Wait() // the sender took it and hangs
		for range 9 {
			b.Activity(activity(room.RoomStarted)) // 4 wait, 5 overflow
		}
		m := b.Metrics().Webhooks[0]
		if m.Overflow != 5 || m.Queued != 4 {
			t.Fatalf("metrics while stuck %+v", m)
		}
		close(s.release)
		synctest.Wait()
		m = b.Metrics().Webhooks[0]
		if m.Delivered != 5 || m.Queued != 0 {
			t.Errorf("metrics after %+v", m)
		}
		if n := logs.FilterMessage("webhook queue full: events dropped").Len(); n != 1 {
			t.Errorf("%d overflow log lines, want 1", n)
		}
		for _, e := range logs.All() {
			for _, f := range e.Context {
				if strings.Contains(f.String, "s3cret") || strings.Contains(f.String, "/hook") {
					t.Errorf("a log line shows the secret or the URL: %v", e)
				}
			}
		}
	})
}

// TestCloseTriesQueuedOnce: at Close a sender stops waiting to retry and
// tries each queued event once; a receiver that is down costs no backoff.
func TestCloseTriesQueuedOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		d := &flaky{fails: 2, start: time.Now()}
		b := fakeBus(t, WebhookConfig{Backoff: time.Hour}, d, nil)
		b.Activity(activity(room.RoomStarted))
		b.Activity(activity(room.RoomFinished))
		synctest.Wait() // the first failed and waits an hour to retry
		start := time.Now()
		b.Close(context.Background())
		if time.Since(start) != 0 {
			t.Errorf("Close waited %v of virtual time", time.Since(start))
		}
		m := b.Metrics().Webhooks[0]
		if len(d.at) != 2 || m.Expired != 2 || m.Delivered != 0 {
			t.Errorf("%d attempts, metrics %+v", len(d.at), m)
		}
	})
}
