package forwarder

import "github.com/confd/confd/forwarder/vp8"

// Layer names one simulcast encoding and how many of its VP8 temporal
// layers to forward.
type Layer struct {
	// Spatial is the simulcast layer index (0 is the smallest); -1 means
	// nothing: the slot is paused.
	Spatial int
	// Temporal is the highest VP8 TID forwarded (RFC 7741 §4.2).
	Temporal int
}

// Paused is the Layer of a slot that forwards nothing.
var Paused = Layer{Spatial: -1}

// TopLayer asks for everything: the largest layer at its full frame rate.
var TopLayer = Layer{Spatial: MaxLayers - 1, Temporal: MaxTemporalLayers - 1}

// Decision is what a slot does with one packet.
type Decision uint8

// Selector decisions.
const (
	// Drop: the packet is not for this slot (another layer, or the slot
	// waits for a key frame); nothing of the output changes.
	Drop Decision = iota
	// DropFrame: the packet belongs to the forwarded layer but to a frame
	// the slot leaves out (a temporal layer above the target); the output
	// numbering must close over it.
	DropFrame
	// Forward: send the packet in the current segment.
	Forward
	// Switch: the first packet of a key frame of a new layer; a new
	// segment starts here.
	Switch
)

// Selector decides, packet by packet, which simulcast layer and which VP8
// temporal layers a slot forwards. It is pure state: the DownTrack
// serialises access.
//
// Spatial layers are independent streams (RFC 8853), so a slot changes
// layer only at a key frame of the layer it moves to; until one arrives it
// keeps forwarding the layer it has. Temporal layers nest (RFC 7741 §4.2):
// dropping the frames above a TID is possible at any frame, while adding
// a layer back waits for a frame with the layer sync bit, which references
// only the base layer the slot already has.
type Selector struct {
	cur    Layer // what is being forwarded; Spatial -1 before the first key frame
	target Layer // what the slot should forward
	// sentFrame is true once a packet of the current layer was forwarded:
	// a slot waiting for its first key frame may start on any layer up to
	// the target, to show something sooner.
	started bool
}

// NewSelector returns a Selector that forwards nothing until a target is set.
func NewSelector() Selector {
	return Selector{cur: Paused, target: Paused}
}

// Current is the layer being forwarded (Spatial -1: none).
func (s *Selector) Current() Layer { return s.cur }

// Target is the layer the slot is moving to (or staying on).
func (s *Selector) Target() Layer { return s.target }

// SetTarget sets the layer to forward. A change of spatial layer takes
// effect at that layer's next key frame, a change of temporal layer at a
// frame boundary; Paused stops the slot at the next frame.
func (s *Selector) SetTarget(t Layer) {
	s.target = t
}

// Restart forgets the current layer: the slot forwards nothing until a key
// frame, as for a new source or a new subscriber transport.
func (s *Selector) Restart() {
	s.cur = Paused
	s.started = false
}

// Waiting reports whether the slot waits for a key frame of its target.
func (s *Selector) Waiting() bool {
	return s.target.Spatial >= 0 && s.cur.Spatial != s.target.Spatial
}

// Wanted is the set of layers (bit i: layer i) whose packets the slot
// looks at: the current and the target layer, and before the first key
// frame every layer up to the target.
func (s *Selector) Wanted() uint32 {
	var m uint32
	if s.cur.Spatial >= 0 {
		m |= 1 << s.cur.Spatial
	}
	if s.target.Spatial < 0 {
		return m
	}
	if s.cur.Spatial < 0 {
		return 1<<(s.target.Spatial+1) - 1
	}
	return m | 1<<s.target.Spatial
}

// Select decides about one packet of layer; d is its VP8 descriptor and
// keyframe whether it starts a key frame. requestKeyframe is true when the
// slot waits for a key frame of the target layer and this packet is not
// one: the caller asks the publisher (requests are throttled there).
func (s *Selector) Select(layer int, d *vp8.Descriptor, keyframe bool) (dec Decision, requestKeyframe bool) {
	if s.target.Spatial >= 0 && layer == s.target.Spatial && layer != s.cur.Spatial {
		if keyframe {
			s.switchTo(layer)
			return Switch, false
		}
		requestKeyframe = true
	}
	if s.cur.Spatial < 0 && keyframe && s.target.Spatial > layer && layer >= 0 {
		// Nothing is shown yet: start on this smaller layer rather than
		// wait, and move up at the target's key frame.
		s.switchTo(layer)
		return Switch, requestKeyframe
	}
	if layer != s.cur.Spatial || s.cur.Spatial < 0 {
		return Drop, requestKeyframe
	}
	return s.selectCurrent(d), requestKeyframe
}

func (s *Selector) switchTo(layer int) {
	s.cur = Layer{Spatial: layer, Temporal: s.target.Temporal}
	s.started = true
}

// selectCurrent decides about a packet of the layer being forwarded.
func (s *Selector) selectCurrent(d *vp8.Descriptor) Decision {
	if d.Start && d.PartitionID == 0 && !s.frameBoundary(d) {
		return Drop // paused at this frame
	}
	if d.HasTID && int(d.TID) > s.cur.Temporal {
		return DropFrame
	}
	return Forward
}

// frameBoundary applies target changes that may happen between frames; it
// returns false when the slot stops (its target is paused).
func (s *Selector) frameBoundary(d *vp8.Descriptor) bool {
	if s.target.Spatial < 0 {
		s.Restart()
		return false
	}
	switch t := s.target.Temporal; {
	case t < s.cur.Temporal:
		s.cur.Temporal = t
	case t > s.cur.Temporal && d.HasTID && d.LayerSync && int(d.TID) > s.cur.Temporal && int(d.TID) <= t:
		// A sync frame of a higher layer depends only on the base layer:
		// from here on that layer decodes.
		s.cur.Temporal = int(d.TID)
	}
	return true
}
