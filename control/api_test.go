package control

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/confd/confd/events"
	"github.com/confd/confd/room"
)

// fakeRecorder records nothing; it marks the room as a recorder would.
type fakeRecorder struct{ fail, refuse bool }

func (f *fakeRecorder) Start(r *room.Room) error {
	if f.fail {
		return errors.New("disk full")
	}
	if f.refuse {
		return fmt.Errorf("%w: too many recordings", room.ErrCannotRecord)
	}
	r.SetRecording(true)
	return nil
}

func (f *fakeRecorder) Stop(r *room.Room) error {
	r.SetRecording(false)
	return nil
}

func serve(t *testing.T, cfg Config) (*httptest.Server, *room.Rooms) {
	t.Helper()
	rs, err := room.New([]room.Config{{Number: "3500"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(rs.Close)
	cfg.Rooms, cfg.Keys = rs, []Key{{Name: "ops", Key: "0123456789abcdef"}}
	a, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(a.Handler())
	t.Cleanup(srv.Close)
	return srv, rs
}

func send(t *testing.T, srv *httptest.Server, method, path string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(method, srv.URL+path, nil)
	req.Header.Set("Authorization", "Bearer 0123456789abcdef")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var b strings.Builder
	buf := make([]byte, 4096)
	n, _ := res.Body.Read(buf) // an event stream's first bytes are enough
	b.Write(buf[:n])
	return res.StatusCode, b.String()
}

// TestRecordingWithARecorder: with a recorder wired in, start and stop
// call it and the room reports it; starting twice or stopping what is not
// recording is 409, and a recorder's failure is 500 and changes nothing.
func TestRecordingWithARecorder(t *testing.T) {
	rec := &fakeRecorder{}
	srv, rs := serve(t, Config{Recorder: rec})
	r, _ := rs.Lookup("3500")
	steps := []struct {
		method string
		status int
		on     bool
	}{
		{http.MethodDelete, http.StatusConflict, false},
		{http.MethodPost, http.StatusOK, true},
		{http.MethodPost, http.StatusConflict, true},
		{http.MethodDelete, http.StatusOK, false},
	}
	for _, s := range steps {
		status, body := send(t, srv, s.method, "/rooms/3500/recording")
		if status != s.status || r.Recording() != s.on {
			t.Fatalf("%s = %d %s, recording %v", s.method, status, body, r.Recording())
		}
		if status == http.StatusOK && !strings.Contains(body, `"recording":`+map[bool]string{true: "true", false: "false"}[s.on]) {
			t.Errorf("%s answered %s", s.method, body)
		}
	}
	rec.fail = true
	if status, body := send(t, srv, http.MethodPost, "/rooms/3500/recording"); status != http.StatusInternalServerError || !strings.Contains(body, "disk full") || r.Recording() {
		t.Errorf("a failing recorder: %d %s", status, body)
	}
	rec.fail, rec.refuse = false, true
	if status, body := send(t, srv, http.MethodPost, "/rooms/3500/recording"); status != http.StatusConflict || r.Recording() {
		t.Errorf("a recorder's refusal: %d %s", status, body)
	}
}

// TestEventStreamRefusals: an unknown room is 404, an unknown type 400,
// a full house 503; no bus at all is 501.
func TestEventStreamRefusals(t *testing.T) {
	bus, err := events.New(events.Config{MaxStreams: 1})
	if err != nil {
		t.Fatal(err)
	}
	srv, _ := serve(t, Config{Streams: bus})
	for path, want := range map[string]int{
		"/events?room=9999":             http.StatusNotFound,
		"/events?events=joined":         http.StatusBadRequest,
		"/events?events=chat,,muted":    http.StatusBadRequest,
		"/events?room=3500&events=chat": http.StatusOK,
	} {
		if status, body := send(t, srv, http.MethodGet, path); status != want {
			t.Errorf("GET %s = %d %s, want %d", path, status, body, want)
		}
	}
	// The stream that answered 200 gives its slot back once its handler
	// sees the client gone.
	for deadline := time.Now().Add(30 * time.Second); bus.Metrics().Streams != 0; {
		if time.Now().After(deadline) {
			t.Fatal("the closed stream kept its slot")
		}
		time.Sleep(5 * time.Millisecond) // polling the condition
	}
	s, err := bus.Open("", nil) // takes the one slot
	if err != nil {
		t.Fatal(err)
	}
	if status, body := send(t, srv, http.MethodGet, "/events"); status != http.StatusServiceUnavailable || !strings.Contains(body, `"unavailable"`) {
		t.Errorf("GET /events with no slot free = %d %s", status, body)
	}
	s.Close()
	bus.Close(context.Background())

	bare, _ := serve(t, Config{})
	if status, _ := send(t, bare, http.MethodGet, "/events"); status != http.StatusNotImplemented {
		t.Errorf("GET /events without a bus = %d", status)
	}
}
