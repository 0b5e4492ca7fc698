package events

import (
	"bufio"
	"net/http"
	"sync"
	"time"
)

// Stream timings.
const (
	// heartbeat is how often an idle stream sends a comment, so that
	// proxies do not close it and a client sees it is alive.
	heartbeat = 15 * time.Second
	// writeTimeout bounds one write to a stream's client: a client that
	// stops reading is cut off rather than holding its handler for ever.
	writeTimeout = 10 * time.Second
)

// Stream is one client of the event stream (Server-Sent Events). The bus
// offers it events without waiting; its handler writes them.
type Stream struct {
	bus    *Bus
	room   string // "" for every room
	filter Filter
	ch     chan *Event
	gone   chan struct{} // closed when the bus drops or ends the stream
	once   sync.Once
	slow   bool // dropped for falling behind; set before gone is closed
}

// Open takes a stream slot for the events of room (every room for "")
// that pass filter. The caller serves it (ServeHTTP) and closes it.
func (b *Bus) Open(room string, filter Filter) (*Stream, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	switch {
	case b.closed:
		return nil, ErrClosed
	case len(b.streams) >= b.cfg.MaxStreams:
		return nil, ErrTooManyStreams
	}
	s := &Stream{bus: b, room: room, filter: filter, ch: make(chan *Event, b.cfg.StreamBuffer), gone: make(chan struct{})}
	b.streams[s] = struct{}{}
	return s, nil
}

// offer hands e to the stream's buffer; false means the buffer is full
// and the stream is dropped (the bus removes it). Called with the bus's
// lock held.
func (s *Stream) offer(e *Event) bool {
	if (s.room != "" && e.Room.Number != s.room) || !s.filter.Passes(e.Type) {
		return true
	}
	select {
	case s.ch <- e:
		return true
	default:
		s.slow = true
		s.end()
		return false
	}
}

func (s *Stream) end() { s.once.Do(func() { close(s.gone) }) }

// Close gives the stream's slot back.
func (s *Stream) Close() {
	s.bus.mu.Lock()
	delete(s.bus.streams, s)
	s.bus.mu.Unlock()
	s.end()
}

// ServeHTTP writes the stream as text/event-stream until the client goes,
// falls behind (dropped), or the bus closes. Each event is
//
//	id: <event id>
//	event: <type>
//	data: <the event's JSON>
//
// and an idle stream gets a comment line every 15 s.
func (s *Stream) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rc := http.NewResponseController(w)
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no") // reverse proxies: do not buffer the stream
	w.WriteHeader(http.StatusOK)
	bw := bufio.NewWriter(w)
	_, _ = bw.WriteString(": confd events\n\n")
	if !s.flush(rc, bw) {
		return
	}
	t := time.NewTicker(heartbeat)
	defer t.Stop()
	for {
		select {
		case <-r.Context().Done():
			return
		case <-s.gone:
			if !s.slow {
				s.drainTo(rc, bw)
			}
			return
		case e := <-s.ch:
			writeEvent(bw, e)
		case <-t.C:
			_, _ = bw.WriteString(": ping\n\n")
		}
		if !s.flush(rc, bw) {
			return
		}
	}
}

// drainTo writes what was buffered before the bus ended the stream (at
// shutdown).
func (s *Stream) drainTo(rc *http.ResponseController, bw *bufio.Writer) {
	for {
		select {
		case e := <-s.ch:
			writeEvent(bw, e)
		default:
			s.flush(rc, bw)
			return
		}
	}
}

func writeEvent(bw *bufio.Writer, e *Event) {
	_, _ = bw.WriteString("id: " + e.ID + "\nevent: " + string(e.Type) + "\ndata: ")
	_, _ = bw.Write(e.JSON()) // one line: JSON escapes newlines in strings
	_, _ = bw.WriteString("\n\n")
}

func (s *Stream) flush(rc *http.ResponseController, bw *bufio.Writer) bool {
	_ = rc.SetWriteDeadline(time.Now().Add(writeTimeout))
	if bw.Flush() != nil || rc.Flush() != nil {
		return false
	}
	return true
}
