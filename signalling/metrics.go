package signalling

import (
	"cmp"
	"slices"

	"github.com/confd/confd/forwarder"
)

// Metrics is the Verto endpoint's state for the server's metrics (served
// as /metrics by cmd/confd). It names calls by callID and members by
// their room ID, never by display name or login.
type Metrics struct {
	Sessions int // logged-in websocket sessions
	Calls    []CallMetrics
}

// CallMetrics is one call: what each of its slots receives and what its
// camera sends.
type CallMetrics struct {
	CallID   string
	Room     string
	MemberID int
	// Detached is true while the call waits for its client to reconnect.
	Detached bool
	// Estimate is the downlink estimate the call's slots share, in bits per
	// second; 0 before the first one.
	Estimate int
	Slots    []SlotMetrics
	// Camera holds the published camera's simulcast layers (one for a
	// single-layer publisher); nil when the call publishes none.
	Camera []forwarder.LayerInfo
}

// SlotMetrics is one video slot of a call.
type SlotMetrics struct {
	Slot int
	// Width and Height are the size the client renders the slot at
	// (confd.slotSize); 0 when it never said.
	Width, Height int
	// RID names the layer being forwarded; "" for none or a single-layer
	// source.
	RID string
	forwarder.DownTrackStats
}

// Metrics reports the sessions and every live call.
func (s *Server) Metrics() Metrics {
	s.mu.Lock()
	m := Metrics{Sessions: len(s.sessions)}
	calls := make([]*Call, 0, len(s.calls))
	for c := range s.calls {
		calls = append(calls, c)
	}
	s.mu.Unlock()
	for _, c := range calls {
		if cm, ok := c.metrics(); ok {
			m.Calls = append(m.Calls, cm)
		}
	}
	slices.SortFunc(m.Calls, func(a, b CallMetrics) int {
		if a.Room != b.Room {
			return cmp.Compare(a.Room, b.Room)
		}
		return a.MemberID - b.MemberID
	})
	return m
}

// metrics is the call's part of Metrics; false for a call not yet in a
// room (still being answered).
func (c *Call) metrics() (CallMetrics, bool) {
	c.mu.Lock()
	r, p, cam := c.room, c.part, c.camera
	slots := slices.Clone(c.slots)
	c.mu.Unlock()
	if r == nil || p == nil {
		return CallMetrics{}, false
	}
	m := CallMetrics{CallID: c.id, Room: r.Number(), MemberID: p.ID, Detached: c.sess.Load() == nil}
	if a := c.allocator(); a != nil {
		m.Estimate = a.Estimate()
	}
	if cam != nil {
		m.Camera = cam.Layers()
	}
	m.Slots = make([]SlotMetrics, len(slots))
	for i, dt := range slots {
		st := dt.Stats()
		w, h := dt.RenderSize()
		m.Slots[i] = SlotMetrics{Slot: i, Width: w, Height: h, RID: forwardedRID(dt, st.Current.Spatial), DownTrackStats: st}
	}
	return m, true
}

// forwardedRID is the rid of the layer dt forwards; "" for none.
func forwardedRID(dt *forwarder.DownTrack, spatial int) string {
	src := dt.Source()
	if src == nil || spatial < 0 {
		return ""
	}
	for _, l := range src.Layers() {
		if l.Index == spatial {
			return l.RID
		}
	}
	return ""
}
