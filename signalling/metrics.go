package signalling

import (
	"cmp"
	"slices"

	"github.com/confd/confd/bwe"
	"github.com/confd/confd/forwarder"
	"github.com/confd/confd/peer"
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
	// Feedback counts the transport-wide feedback the estimate was made
	// from: messages taken in, refused as malformed, and packets reported
	// on that confd never sent.
	Feedback bwe.Stats
	Slots    []SlotMetrics
	// Camera holds the published camera's simulcast layers (one for a
	// single-layer publisher); nil when the call publishes none.
	Camera []forwarder.LayerInfo
}

// SlotMetrics is one video slot of a call.
type SlotMetrics = peer.SlotStats

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

// metrics is the call's part of Metrics.
func (c *Call) metrics() (CallMetrics, bool) {
	m := c.peer.Where()
	if m.Part == nil {
		return CallMetrics{}, false
	}
	st := c.peer.Stats()
	cm := CallMetrics{CallID: c.id, Room: m.Room.Number(), MemberID: m.Part.ID, Detached: c.sess.Load() == nil,
		Estimate: st.Estimate, Feedback: st.Feedback, Camera: st.Camera, Slots: st.Slots}
	return cm, true
}
