package peer

import (
	"slices"

	"github.com/confd/confd/bwe"
	"github.com/confd/confd/forwarder"
)

// Stats is what a peer forwards and publishes, for the signalling's
// reports (Verto's confd.stats) and the server's metrics.
type Stats struct {
	// Estimate is the downlink estimate the slots share, in bits per
	// second; 0 before the first one.
	Estimate int
	// Feedback counts the transport-wide feedback the downlink estimate
	// was made from.
	Feedback bwe.Stats
	Slots    []SlotStats
	// Camera holds the published camera's simulcast layers (one for a
	// single-layer publisher); nil when the peer publishes none.
	Camera []forwarder.LayerInfo
}

// SlotStats is one video slot.
type SlotStats struct {
	Slot int
	// Width and Height are the size the client renders the slot at; 0
	// when it never said.
	Width, Height int
	// RID names the layer being forwarded; "" for none or a single-layer
	// source.
	RID string
	forwarder.DownTrackStats
}

// Stats reads the slots' counters (each under its own DownTrack's lock)
// and the camera's layers.
func (p *Peer) Stats() Stats {
	var st Stats
	if d := p.downlink(); d != nil {
		st.Estimate = d.alloc.Estimate()
		if d.est != nil {
			st.Feedback = d.est.Stats()
		}
	}
	p.mu.Lock()
	slots := slices.Clone(p.slots)
	cam := p.camera
	p.mu.Unlock()
	if cam != nil {
		st.Camera = cam.Layers()
	}
	st.Slots = make([]SlotStats, len(slots))
	for i, dt := range slots {
		ds := dt.Stats()
		w, h := dt.RenderSize()
		st.Slots[i] = SlotStats{Slot: i, Width: w, Height: h, RID: forwardedRID(dt, ds.Current.Spatial), DownTrackStats: ds}
	}
	return st
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
