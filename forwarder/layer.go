package forwarder

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/rtp"

	"github.com/confd/confd/forwarder/packetcache"
	"github.com/confd/confd/forwarder/vp8"
)

// MaxLayers is the most simulcast encodings one Receiver takes. Browsers
// send at most three (RFC 8853 allows more, nobody uses them); the
// fourth slot takes an unknown rid without breaking the order of the rest.
const MaxLayers = 4

// MaxTemporalLayers is the number of VP8 temporal layers tracked: the TID
// field is two bits wide (RFC 7741 §4.2).
const MaxTemporalLayers = 4

// rateWindow is the span bitrates and frame rates are measured over: long
// enough to cover a key frame and the smaller frames after it, short
// enough that a layer the publisher paused shows as idle quickly.
const rateWindow = time.Second

// costWindow is the span a layer's cost, what the Allocator budgets for
// it, is averaged over. A key frame is several delta frames' worth of
// bytes (browsers' VP8: five to ten), so in a one-second window it lifts
// the rate by a fifth or more for as long as it stays inside, then lets it
// fall back: an Allocator judging by that would take the lift for a
// narrower link and step down. Over four seconds one key frame moves the
// average by under a tenth, and encoders that send key frames every few
// seconds keep one or two inside at all times. Congestion does not wait
// for the cost to catch up: the estimate measures what the slots actually
// send, so a layer that got more expensive shows there first.
const costWindow = 4 * time.Second

// costSnapshots holds costWindow of snapshots taken every half rateWindow,
// and the newest.
const costSnapshots = int(costWindow/(rateWindow/2)) + 1

// idleAfter is how long a layer may send nothing before it counts as
// stopped: twenty frames even at 10 fps, so neither a loss burst nor a
// publisher's hiccup moves its viewers to another layer.
const idleAfter = 2 * time.Second

// layer is one simulcast encoding (one rid, one SSRC) of a Receiver. Its
// reader goroutine owns hdr, pkt and out; everything else is atomics or
// guarded by mu.
type layer struct {
	index int
	rid   string
	ssrc  uint32
	cache *packetcache.Cache
	pli   []rtcp.Packet // this layer's PLI, built once

	hdr rtp.Header
	pkt Packet
	out Scratch

	packets, bytes, keyframes, dropped atomic.Uint64
	tidBytes, tidFrames                [MaxTemporalLayers]atomic.Uint64
	width, height                      atomic.Int32
	lastArrival                        atomic.Int64
	lastKeyframe                       atomic.Int64 // when the last key frame began (Receiver's clock)

	// mu guards the rate snapshots, cost, lastRate and sr. Rates are
	// measured by the control plane; sr is written by the layer's RTCP
	// reader (about once a second) and read only when a slot switches
	// layer, so a packet that is merely forwarded never takes it.
	mu          sync.Mutex
	older, last rateSnapshot
	cost        costHistory
	lastRate    [MaxTemporalLayers]int
	sr          SenderReport // the latest sender report for ssrc
}

// rateSnapshot is a layer's cumulative per-TID counters at one instant.
type rateSnapshot struct {
	at     int64
	bytes  [MaxTemporalLayers]uint64
	frames [MaxTemporalLayers]uint64
}

// LayerInfo describes one simulcast layer of a Receiver.
type LayerInfo struct {
	Index int
	RID   string
	SSRC  uint32
	// Width and Height are those of the last key frame, 0 before one.
	Width, Height int
	// Active is false when the layer sent nothing for a while (the
	// publisher paused it, or it has not started).
	Active bool
	// Paused is true when confd asked the publisher to stop the layer
	// because no slot wanted it.
	Paused bool
	// Available is true when a slot may choose the layer: it is active,
	// or paused by confd (choosing it resumes it), or resuming.
	Available bool
	// Bitrate[t] is the bits per second of the frames with TID <= t;
	// FPS[t] likewise in frames per second.
	Bitrate [MaxTemporalLayers]int
	FPS     [MaxTemporalLayers]float64
	// Cost[t] is Bitrate averaged over costWindow, since the layer last
	// resumed: what the Allocator budgets for it. 0 until the layer has
	// sent for half a rateWindow.
	Cost [MaxTemporalLayers]int
	// LastCost is Cost when it was last measured non-zero: what the
	// layer costs when a paused layer resumes.
	LastCost [MaxTemporalLayers]int
	// TIDs is the number of temporal layers seen (1 without TIDs).
	TIDs                               int
	Packets, Bytes, Keyframes, Dropped uint64
}

func newLayer(index int, rid string, ssrc uint32, cacheSize int, r *Receiver) *layer {
	l := &layer{
		index: index, rid: rid, ssrc: ssrc,
		cache: packetcache.New(cacheSize),
		pli:   []rtcp.Packet{&rtcp.PictureLossIndication{MediaSSRC: ssrc}},
	}
	l.pkt.Header = &l.hdr
	l.pkt.Source = r
	l.pkt.Layer = index
	return l
}

// account updates the layer's counters for the packet just parsed into
// l.pkt. It touches only atomics: the allocator reads them concurrently.
func (l *layer) account(raw []byte, now int64) {
	p := &l.pkt
	l.packets.Add(1)
	l.bytes.Add(uint64(len(raw)))
	l.lastArrival.Store(now)
	tid := int(p.VP8.TID) & (MaxTemporalLayers - 1)
	l.tidBytes[tid].Add(uint64(len(raw)))
	if p.VP8.Start && p.VP8.PartitionID == 0 {
		l.tidFrames[tid].Add(1)
	}
	if !p.Keyframe {
		return
	}
	l.keyframes.Add(1)
	l.lastKeyframe.Store(now)
	if w, h, ok := vp8.KeyframeSize(p.Payload, &p.VP8); ok {
		l.width.Store(int32(w))
		l.height.Store(int32(h))
	}
}

// setSenderReport records the layer's latest sender report.
func (l *layer) setSenderReport(sr SenderReport) {
	l.mu.Lock()
	l.sr = sr
	l.mu.Unlock()
}

// senderReport is the layer's latest sender report (zero: none yet).
func (l *layer) senderReport() SenderReport {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.sr
}

// snapshot reads the cumulative counters.
func (l *layer) snapshot(now int64) rateSnapshot {
	s := rateSnapshot{at: now}
	for t := range MaxTemporalLayers {
		s.bytes[t] = l.tidBytes[t].Load()
		s.frames[t] = l.tidFrames[t].Load()
	}
	return s
}

// info measures the layer at now. Rates are taken against a snapshot
// between half a window and a window and a half old, so every caller sees
// a rate over about one window however often it asks; the cost likewise
// over about costWindow.
func (l *layer) info(now int64) LayerInfo {
	// The snapshot is taken under the lock so that snapshots are in time
	// order whoever measures: a late one becoming the base would make
	// the counters run backwards. The last arrival is read first: a
	// packet counted after it lengthens the cost's bytes, not its span,
	// which errs on the dear side.
	l.mu.Lock()
	arrived := l.lastArrival.Load()
	cur := l.snapshot(now)
	if now < l.last.at {
		cur.at = l.last.at
	}
	if l.last.at == 0 {
		l.older, l.last = cur, cur
		l.cost.push(cur, arrived)
	} else if now-l.last.at >= int64(rateWindow/2) {
		l.older, l.last = l.last, cur
		l.cost.push(cur, arrived)
	}
	base := l.older
	in := LayerInfo{
		Index: l.index, RID: l.rid, SSRC: l.ssrc,
		Width: int(l.width.Load()), Height: int(l.height.Load()),
		Active:  l.packets.Load() > 0 && now-l.lastArrival.Load() < int64(idleAfter),
		Packets: l.packets.Load(), Bytes: l.bytes.Load(), Keyframes: l.keyframes.Load(), Dropped: l.dropped.Load(),
	}
	in.fillRates(cur, base)
	in.Cost = l.cost.rate(cur, arrived)
	if in.Cost[MaxTemporalLayers-1] > 0 {
		l.lastRate = in.Cost
	}
	in.LastCost = l.lastRate
	l.mu.Unlock()
	return in
}

// fillRates sets the cumulative-by-TID rates from two snapshots.
func (in *LayerInfo) fillRates(cur, base rateSnapshot) {
	span := float64(cur.at-base.at) / float64(time.Second)
	var bits, frames float64
	for t := range MaxTemporalLayers {
		if cur.frames[t] > 0 {
			in.TIDs = t + 1
		}
		if span <= 0 {
			continue
		}
		bits += float64(cur.bytes[t]-base.bytes[t]) * 8
		frames += float64(cur.frames[t] - base.frames[t])
		in.Bitrate[t] = int(bits / span)
		in.FPS[t] = frames / span
	}
	in.TIDs = max(in.TIDs, 1)
}

// costHistory is a ring of a layer's snapshots over costWindow, taken
// while it sends: the bases its cost is measured from.
type costHistory struct {
	snaps   [costSnapshots]rateSnapshot
	n, next int // snapshots held; where the next one goes
}

// push records s, taken at an instant the layer had last sent at
// lastArrival. A layer silent for idleAfter empties the history: it
// paused or its publisher stalled, and what it sent before says little of
// what it sends when it resumes (an encoder that restarts begins with a
// key frame and climbs). s itself is not kept then; the first snapshot
// after the layer resumes is the next base, so the silence is never
// averaged in. A shorter silence (a slow screen share, a loss burst) stays
// in the history.
func (h *costHistory) push(s rateSnapshot, lastArrival int64) {
	if s.at-lastArrival >= int64(idleAfter) {
		h.n = 0
		return
	}
	h.snaps[h.next] = s
	h.next = (h.next + 1) % costSnapshots
	h.n = min(h.n+1, costSnapshots)
}

// rate is the cost: the cumulative-by-TID bitrate from the oldest
// snapshot within costWindow (and half a rateWindow: snapshots are that
// far apart) to cur. The span ends at the last packet, not at cur: a
// layer that stopped a moment ago is not averaged down by its silence
// before push notices it. A span under half a rateWindow (the layer just
// started or resumed) gives no cost: the Allocator's fallbacks are better
// than a rate over a frame or two.
func (h *costHistory) rate(cur rateSnapshot, lastArrival int64) [MaxTemporalLayers]int {
	var out [MaxTemporalLayers]int
	if h.n == 0 {
		return out
	}
	oldest := (h.next - h.n + costSnapshots) % costSnapshots
	base := h.snaps[(h.next-1+costSnapshots)%costSnapshots]
	for i := range h.n {
		s := h.snaps[(oldest+i)%costSnapshots]
		if cur.at-s.at <= int64(costWindow+rateWindow/2) {
			base = s
			break
		}
	}
	end := min(cur.at, lastArrival)
	if end-base.at < int64(rateWindow/2) {
		return out
	}
	span := float64(end-base.at) / float64(time.Second)
	var bits float64
	for t := range MaxTemporalLayers {
		bits += float64(cur.bytes[t]-base.bytes[t]) * 8
		out[t] = int(bits / span)
	}
	return out
}
