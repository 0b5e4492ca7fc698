package forwarder

import "slices"

// This file holds the pure functions of layer choice: which layer fits a
// slot's size, the ladder of (spatial, temporal) choices a slot can take
// with their bitrates, and the division of a subscriber's bandwidth among
// its slots.

// coverRatio is how much smaller than the rendered size a layer may be and
// still count as covering it: a 320-pixel layer serves a 360-pixel tile.
// Upscaling by an eighth is invisible in a video tile; taking the next
// layer for it would double or quadruple the bitrate.
const (
	coverNum = 8
	coverDen = 9
)

// bitsPerPixel is the bits per pixel and frame assumed for a layer that
// has not been measured yet (one the publisher has not sent, or paused
// before anybody watched it): about what browsers' VP8 encoders spend on a
// camera at 30 fps (roughly 120 kbit/s at 320x180, 1.9 Mbit/s at 720p).
const bitsPerPixel = 0.07

// nominalFPS is the frame rate assumed with bitsPerPixel.
const nominalFPS = 30

// temporalShare is the cumulative share of a layer's bitrate up to each
// TID, by number of temporal layers, assumed before measuring: the base
// layer of an L1T3 stream carries about half the bits at a quarter of the
// frames (it is referenced by everything above it).
var temporalShare = [MaxTemporalLayers + 1][MaxTemporalLayers]float64{
	1: {1, 1, 1, 1},
	2: {0.6, 1, 1, 1},
	3: {0.5, 0.7, 1, 1},
	4: {0.45, 0.6, 0.8, 1},
}

// sizeLayer is the index of the smallest layer that covers width x
// height, or of the largest layer when none does or the size is unknown
// (0).
func sizeLayer(layers []LayerInfo, width, height int) int {
	top := -1
	for _, l := range layers {
		top = max(top, l.Index)
	}
	if width <= 0 || height <= 0 {
		return top
	}
	for _, l := range layers {
		w, h := layerSize(layers, l.Index)
		if w*coverDen >= width*coverNum && h*coverDen >= height*coverNum {
			return l.Index
		}
	}
	return top
}

// layerSize is the size of layer i: that of its last key frame, else
// derived from a layer whose size is known, else from a 720p top layer.
// Simulcast layers halve in each dimension per step down, as browsers
// send them (scaleResolutionDownBy 4, 2, 1); before the first key frame
// of a layer that is the best guess, and it decides the layer a slot asks
// for first.
func layerSize(layers []LayerInfo, i int) (int, int) {
	ref, rw, rh := -1, 0, 0
	for _, l := range layers {
		if l.Width > 0 && l.Height > 0 {
			if l.Index == i {
				return l.Width, l.Height
			}
			if ref < 0 {
				ref, rw, rh = l.Index, l.Width, l.Height
			}
		}
	}
	if ref < 0 {
		ref, rw, rh = i, 1280, 720
		for _, l := range layers {
			ref = max(ref, l.Index)
		}
	}
	return scaleBy(rw, i-ref), scaleBy(rh, i-ref)
}

// scaleBy doubles v steps times (halves it for negative steps).
func scaleBy(v, steps int) int {
	if steps >= 0 {
		return v << steps
	}
	return v >> -steps
}

// chooseLayer is the layer a slot forwards without an allocator's help:
// the best available layer at or below both the size's and the limit's,
// else the smallest available one. When no layer is available (the
// publisher stalled) the same rule applies to all of them, so the slot
// resumes with the first key frame that comes. Below the limit's spatial
// layer every temporal layer is taken.
func chooseLayer(layers []LayerInfo, width, height int, limit Layer) Layer {
	if limit.Spatial < 0 {
		return Paused
	}
	want := min(limit.Spatial, sizeLayer(layers, width, height))
	anyAvailable := slices.ContainsFunc(layers, func(l LayerInfo) bool { return l.Available })
	best := -1
	for _, l := range layers {
		if (l.Available || !anyAvailable) && l.Index <= want && l.Index > best {
			best = l.Index
		}
	}
	if best < 0 {
		for _, l := range layers {
			if l.Available || !anyAvailable {
				best = l.Index
				break
			}
		}
	}
	if best < 0 {
		return Paused
	}
	t := Layer{Spatial: best, Temporal: MaxTemporalLayers - 1}
	if best == limit.Spatial {
		t.Temporal = limit.Temporal
	}
	return t
}

// rung is one choice a slot can take and what it costs.
type rung struct {
	layer   Layer
	bitrate int
}

// ladder lists a slot's choices from the cheapest: for each available
// layer up to the one its size needs, each temporal layer. Going down the
// ladder drops temporal layers before going down a spatial layer, which
// keeps a speaker sharp at a lower frame rate before making it blurry.
// Bitrates are measured ones, else nominal ones, and made increasing.
func ladder(layers []LayerInfo, width, height int) []rung {
	top := sizeLayer(layers, width, height)
	var out []rung
	prev := 0
	for _, l := range layers {
		if !l.Available || (l.Index > top && len(out) > 0) {
			continue
		}
		for t := range l.TIDs {
			b := max(layerBitrate(&l, t), prev+1)
			out = append(out, rung{layer: Layer{Spatial: l.Index, Temporal: t}, bitrate: b})
			prev = b
		}
		if l.Index >= top {
			break
		}
	}
	if n := len(out); n > 0 {
		// The top rung takes every temporal layer, including ones the
		// publisher may add later.
		out[n-1].layer.Temporal = MaxTemporalLayers - 1
	}
	return out
}

// layerBitrate is the bitrate of l up to TID t: its cost (the rate over
// costWindow, which a key frame barely moves), else the last cost
// measured, else nominal for its size. The one-second Bitrate is not
// used: it swings with every key frame entering and leaving its window,
// and over its first fraction of a second it is a frame or two over
// nothing.
func layerBitrate(l *LayerInfo, t int) int {
	if b := l.Cost[t]; b > 0 {
		return b
	}
	if b := l.LastCost[t]; b > 0 {
		return b
	}
	w, h := l.Width, l.Height
	if w == 0 || h == 0 {
		w, h = 1280, 720 // ladder knows no better; sizes are guessed in sizeLayer
	}
	full := float64(w*h) * nominalFPS * bitsPerPixel
	return int(full * temporalShare[max(l.TIDs, 1)][t])
}

// demandOf is one slot as the allocation sees it.
type demandOf struct {
	rungs []rung // empty: the slot shows nothing
	// floor is true for the slot that must show something even when the
	// bandwidth does not suffice for its cheapest rung.
	floor bool
}

// allocate divides budget (bits per second) among slots, given in
// priority order, and returns each slot's rung index (-1: paused). First
// every slot gets its cheapest rung while the budget lasts (the first one
// regardless: the floor is never blank); then, again in priority order,
// each slot takes the best rung the rest of the budget pays for. So the
// floor is as good as the link allows before a thumbnail gets better than
// its minimum, and a thumbnail only disappears when even the minimum of
// everyone before it leaves no room.
func allocate(budget int, slots []demandOf) []int {
	choice := make([]int, len(slots))
	left := budget
	for i, s := range slots {
		choice[i] = -1
		if len(s.rungs) == 0 {
			continue
		}
		if c := s.rungs[0].bitrate; c <= left || s.floor {
			choice[i] = 0
			left -= c
		}
	}
	for i, s := range slots {
		if choice[i] < 0 {
			continue
		}
		base := s.rungs[choice[i]].bitrate
		for r := len(s.rungs) - 1; r > choice[i]; r-- {
			if extra := s.rungs[r].bitrate - base; extra <= left {
				choice[i] = r
				left -= extra
				break
			}
		}
	}
	return choice
}
