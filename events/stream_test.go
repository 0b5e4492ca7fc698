package events

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/confd/confd/room"
)

// sseClient reads an event stream line by line.
type sseClient struct {
	resp *http.Response
	sc   *bufio.Scanner
}

func openSSE(t *testing.T, url string) *sseClient {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = resp.Body.Close() })
	if ct := resp.Header.Get("Content-Type"); resp.StatusCode != http.StatusOK || ct != "text/event-stream" {
		t.Fatalf("GET %s = %d %s", url, resp.StatusCode, ct)
	}
	return &sseClient{resp: resp, sc: bufio.NewScanner(resp.Body)}
}

// wireEvent is an event as a client decodes it.
type wireEvent struct {
	ID   string         `json:"id"`
	Type string         `json:"type"`
	Room RoomRef        `json:"room"`
	Data map[string]any `json:"data"`
}

// next returns the next event's type and JSON, skipping comments.
func (c *sseClient) next(t *testing.T) (string, wireEvent) {
	t.Helper()
	var typ, id string
	var e wireEvent
	for c.sc.Scan() {
		line := c.sc.Text()
		switch {
		case strings.HasPrefix(line, "event: "):
			typ = strings.TrimPrefix(line, "event: ")
		case strings.HasPrefix(line, "id: "):
			id = strings.TrimPrefix(line, "id: ")
		case strings.HasPrefix(line, "data: "):
			if err := json.Unmarshal([]byte(strings.TrimPrefix(line, "data: ")), &e); err != nil {
				t.Fatal(err)
			}
		case line == "" && typ != "":
			if e.ID != id || string(e.Type) != typ {
				t.Fatalf("event %s/%s carries %s/%s", typ, id, e.Type, e.ID)
			}
			return typ, e
		}
	}
	t.Fatalf("the stream ended: %v", c.sc.Err())
	return "", e
}

func streamServer(t *testing.T, b *Bus, room string, f Filter) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s, err := b.Open(room, f)
		if err != nil {
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
			return
		}
		defer s.Close()
		s.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv
}

// TestStreamSendsRoomEvents: a stream for one room gets that room's events,
// in order, as SSE with the event's id and type; Close ends it.
func TestStreamSendsRoomEvents(t *testing.T) {
	b, _ := New(Config{})
	srv := streamServer(t, b, "3500", nil)
	c := openSSE(t, srv.URL)
	waitUntil(t, "the stream is open", func() bool { return b.Metrics().Streams == 1 })
	other := activity(room.MemberJoined)
	other.Room = "3600"
	b.Activity(other)
	b.Activity(activity(room.RoomStarted))
	b.Activity(activity(room.ChatPosted)) // not asked for
	j := activity(room.MemberJoined)
	j.Member = ann
	b.Activity(j)
	if typ, e := c.next(t); typ != "room_started" || e.Room.Number != "3500" {
		t.Fatalf("first event %s %+v", typ, e)
	}
	if typ, e := c.next(t); typ != "participant_joined" || e.Data["member"].(map[string]any)["name"] != "Ann" {
		t.Fatalf("second event %s %+v", typ, e)
	}
	b.Activity(activity(room.RoomFinished))
	b.Close(context.Background())
	if typ, _ := c.next(t); typ != "room_finished" {
		t.Fatalf("the event before Close was lost: %s", typ)
	}
	if c.sc.Scan() && c.sc.Scan() {
		t.Fatalf("the stream goes on after Close: %q", c.sc.Text())
	}
	if _, err := b.Open("", nil); !errors.Is(err, ErrClosed) {
		t.Errorf("Open after Close: %v", err)
	}
}

// TestSlowStreamIsDropped: a client whose buffer fills is dropped and
// counted; the bus never waits for it, and the others go on.
func TestSlowStreamIsDropped(t *testing.T) {
	b, _ := New(Config{StreamBuffer: 3, MaxStreams: 2})
	slow, err := b.Open("", nil) // never served: its client reads nothing
	if err != nil {
		t.Fatal(err)
	}
	fast, _ := b.Open("", nil)
	if _, err := b.Open("", nil); !errors.Is(err, ErrTooManyStreams) {
		t.Fatalf("a third stream: %v, want ErrTooManyStreams", err)
	}
	for i := range 5 {
		b.Activity(activity(room.RoomStarted))
		<-fast.ch // the fast one keeps up
		if i == 2 && b.Metrics().StreamsDropped != 0 {
			t.Fatal("dropped before its buffer was full")
		}
	}
	select {
	case <-slow.gone:
	default:
		t.Fatal("the slow stream was not dropped")
	}
	m := b.Metrics()
	if m.StreamsDropped != 1 || m.Streams != 1 {
		t.Errorf("metrics %+v", m)
	}
	slow.Close() // its handler returns and closes: harmless after the drop
	if again, err := b.Open("", nil); err != nil {
		t.Errorf("the dropped stream's slot is not free: %v", err)
	} else {
		again.Close()
	}
	fast.Close()
	b.Close(context.Background())
}

// TestStreamClientGoes: a client that disconnects gives its slot back.
func TestStreamClientGoes(t *testing.T) {
	b, _ := New(Config{})
	defer b.Close(context.Background())
	srv := streamServer(t, b, "", nil)
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "the stream is open", func() bool { return b.Metrics().Streams == 1 })
	cancel()
	_ = resp.Body.Close()
	waitUntil(t, "the stream is closed", func() bool { return b.Metrics().Streams == 0 })
}
