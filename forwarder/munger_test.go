package forwarder

import (
	"testing"
	"time"

	"github.com/pion/rtp"

	"github.com/confd/confd/forwarder/vp8"
)

// nums are the four numbers the Munger rewrites.
type nums struct {
	seq uint16
	ts  uint32
	pid uint16
	tl0 uint8
}

// Switch is SwitchAligned without sender reports: the timestamp follows
// the elapsed-time rule.
func (m *Munger) Switch(src *Receiver, p *Packet, now int64) {
	m.SwitchAligned(src, p, now, SenderReport{}, SenderReport{})
}

func n4(seq uint16, ts uint32, pid uint16, tl0 uint8) nums { return nums{seq, ts, pid, tl0} }

// mungerPacket builds the parsed packet a Receiver would hand to a sink:
// a first-partition packet with a 15-bit picture ID and a TL0PICIDX.
func mungerPacket(in nums) *Packet {
	return &Packet{
		Header:  &rtp.Header{Version: 2, SequenceNumber: in.seq, Timestamp: in.ts},
		Payload: []byte{0x90, 0xc0, 0x80, 0x00, 0x00, 0x00},
		VP8: vp8.Descriptor{
			Extended: true, Start: true,
			HasPictureID: true, PictureID15: true, PictureID: in.pid,
			HasTL0PICIDX: true, TL0PICIDX: in.tl0,
			Size: 5,
		},
	}
}

type mungerOp int

const (
	opSwitch    mungerOp = iota // Switch then Translate the same packet, as DownTrack does
	opTranslate                 // Translate, expecting want
	opRefused                   // Translate, expecting refusal
	opDrop                      // Drop in.seq
)

// mungerStep is one call (or Switch+Translate pair) and what it must give.
type mungerStep struct {
	op   mungerOp
	src  *Receiver
	at   time.Duration // arrival, from an arbitrary origin
	in   nums
	want nums
}

func sw(src *Receiver, at time.Duration, in, want nums) mungerStep {
	return mungerStep{op: opSwitch, src: src, at: at, in: in, want: want}
}

func tr(at time.Duration, in, want nums) mungerStep {
	return mungerStep{op: opTranslate, at: at, in: in, want: want}
}

func refused(at time.Duration, in nums) mungerStep {
	return mungerStep{op: opRefused, at: at, in: in}
}

func drop(seq uint16) mungerStep { return mungerStep{op: opDrop, in: nums{seq: seq}} }

// runMunger applies steps to m and checks each result.
func runMunger(t *testing.T, m *Munger, steps []mungerStep) {
	t.Helper()
	for i, s := range steps {
		if s.op == opDrop {
			m.Drop(s.in.seq)
			continue
		}
		p := mungerPacket(s.in)
		if s.op == opSwitch {
			m.Switch(s.src, p, int64(s.at))
		}
		got, ok := m.Translate(p, int64(s.at))
		if s.op == opRefused {
			if ok {
				t.Fatalf("step %d: %+v translated to %+v, want refusal", i, s.in, got)
			}
			continue
		}
		if !ok {
			t.Fatalf("step %d: %+v refused", i, s.in)
		}
		gotNums := n4(got.Seq, got.TS, got.PictureID, got.TL0PICIDX)
		if gotNums != s.want {
			t.Fatalf("step %d: %+v -> %+v, want %+v", i, s.in, gotNums, s.want)
		}
		// The descriptor needs rewriting exactly when picture ID or
		// TL0PICIDX change.
		if wantRewrite := s.want.pid != s.in.pid || s.want.tl0 != s.in.tl0; got.Rewrite != wantRewrite {
			t.Fatalf("step %d: Rewrite = %v, want %v", i, got.Rewrite, wantRewrite)
		}
	}
}

// TestMunger drives the Munger through switches, drops and reordering and
// checks every translation.
func TestMunger(t *testing.T) {
	a, b, c := new(Receiver), new(Receiver), new(Receiver)
	const ms = time.Millisecond
	const frame = 33333333 * time.Nanosecond
	tests := []struct {
		intent string
		steps  []mungerStep
	}{
		{
			intent: "The first switch passes the source's numbers through unchanged, so a single-source slot needs no rewrite.",
			steps: []mungerStep{
				sw(a, 0, n4(100, 1000, 5, 3), n4(100, 1000, 5, 3)),
				tr(1*ms, n4(101, 1000, 5, 3), n4(101, 1000, 5, 3)),
				tr(34*ms, n4(102, 4000, 6, 4), n4(102, 4000, 6, 4)),
			},
		},
		{
			intent: "A switch continues sequence number, picture ID and TL0PICIDX at last+1 and advances the timestamp by the wall time since the last packet.",
			steps: []mungerStep{
				sw(a, 0, n4(100, 1000, 5, 3), n4(100, 1000, 5, 3)),
				tr(1*ms, n4(101, 1000, 5, 3), n4(101, 1000, 5, 3)),
				sw(b, 11*ms, n4(5000, 77777, 300, 200), n4(102, 1900, 6, 4)),
				tr(12*ms, n4(5001, 77777, 300, 200), n4(103, 1900, 6, 4)),
				tr(45*ms, n4(5002, 80777, 301, 201), n4(104, 4900, 7, 5)),
			},
		},
		{
			intent: "The timestamp advances by at least one tick when the new key frame arrives in the same instant as the last packet.",
			steps: []mungerStep{
				sw(a, 5*ms, n4(100, 1000, 5, 3), n4(100, 1000, 5, 3)),
				sw(b, 5*ms, n4(7, 50, 9, 9), n4(101, 1001, 6, 4)),
			},
		},
		{
			intent: "Output sequence numbers wrap at 2^16 across a switch.",
			steps: []mungerStep{
				sw(a, 0, n4(65534, 1000, 5, 3), n4(65534, 1000, 5, 3)),
				tr(1*ms, n4(65535, 1000, 5, 3), n4(65535, 1000, 5, 3)),
				sw(b, 2*ms, n4(10, 500, 40, 40), n4(0, 1090, 6, 4)),
				tr(3*ms, n4(11, 500, 40, 40), n4(1, 1090, 6, 4)),
			},
		},
		{
			intent: "Input sequence numbers that wrap inside a segment keep the segment's offset.",
			steps: []mungerStep{
				sw(a, 0, n4(100, 1000, 5, 3), n4(100, 1000, 5, 3)),
				sw(b, 1*ms, n4(65535, 7, 9, 9), n4(101, 1090, 6, 4)),
				tr(2*ms, n4(0, 7, 9, 9), n4(102, 1090, 6, 4)),
				tr(3*ms, n4(1, 7, 9, 9), n4(103, 1090, 6, 4)),
			},
		},
		{
			intent: "Timestamps wrap at 2^32 inside a segment, and the next switch continues from the wrapped value.",
			steps: []mungerStep{
				sw(a, 0, n4(1, 0xffffff00, 5, 3), n4(1, 0xffffff00, 5, 3)),
				tr(frame, n4(2, 2744, 6, 4), n4(2, 2744, 6, 4)),
				sw(b, frame+10*ms, n4(50, 1234, 70, 70), n4(3, 3644, 7, 5)),
				tr(2*frame+10*ms, n4(51, 4234, 71, 71), n4(4, 6644, 8, 6)),
			},
		},
		{
			intent: "Timestamps wrap at 2^32 across a switch.",
			steps: []mungerStep{
				sw(a, 0, n4(1, 0xffffff00, 5, 3), n4(1, 0xffffff00, 5, 3)),
				sw(b, 10*ms, n4(50, 1234, 7, 7), n4(2, 644, 6, 4)),
				tr(10*ms+frame, n4(51, 4234, 8, 8), n4(3, 3644, 7, 5)),
			},
		},
		{
			intent: "Picture IDs wrap at 2^15 across a switch.",
			steps: []mungerStep{
				sw(a, 0, n4(1, 0, 0x7ffe, 3), n4(1, 0, 0x7ffe, 3)),
				tr(1*ms, n4(2, 3000, 0x7fff, 4), n4(2, 3000, 0x7fff, 4)),
				sw(b, 2*ms, n4(900, 100, 12, 50), n4(3, 3090, 0, 5)),
				tr(35*ms, n4(901, 3100, 13, 51), n4(4, 6090, 1, 6)),
			},
		},
		{
			intent: "A new source's picture ID wrapping inside its segment stays continuous in the output.",
			steps: []mungerStep{
				sw(a, 0, n4(1, 0, 100, 3), n4(1, 0, 100, 3)),
				sw(b, 1*ms, n4(50, 0, 0x7fff, 9), n4(2, 90, 101, 4)),
				tr(34*ms, n4(51, 3000, 0, 10), n4(3, 3090, 102, 5)),
			},
		},
		{
			intent: "TL0PICIDX wraps at 2^8 across a switch, and the new source's own wrap stays continuous.",
			steps: []mungerStep{
				sw(a, 0, n4(1, 0, 5, 254), n4(1, 0, 5, 254)),
				tr(33*ms, n4(2, 3000, 6, 255), n4(2, 3000, 6, 255)),
				sw(b, 34*ms, n4(70, 0, 40, 255), n4(3, 3090, 7, 0)),
				tr(67*ms, n4(71, 3000, 41, 0), n4(4, 6090, 8, 1)),
			},
		},
		{
			intent: "Dropped in-order packets (padding) leave no hole in the output sequence.",
			steps: []mungerStep{
				sw(a, 0, n4(100, 1000, 5, 3), n4(100, 1000, 5, 3)),
				drop(101),
				tr(1*ms, n4(102, 1000, 5, 3), n4(101, 1000, 5, 3)),
				drop(103),
				drop(104),
				tr(2*ms, n4(105, 1000, 5, 3), n4(102, 1000, 5, 3)),
				tr(3*ms, n4(106, 4000, 6, 4), n4(103, 4000, 6, 4)),
			},
		},
		{
			intent: "A drop after a switch keeps the switched offsets for the other numbers.",
			steps: []mungerStep{
				sw(a, 0, n4(100, 1000, 5, 3), n4(100, 1000, 5, 3)),
				sw(b, 1*ms, n4(700, 0, 60, 60), n4(101, 1090, 6, 4)),
				drop(701),
				tr(2*ms, n4(702, 0, 60, 60), n4(102, 1090, 6, 4)),
			},
		},
		{
			intent: "A drop of a sequence number at or below the highest one seen changes nothing.",
			steps: []mungerStep{
				sw(a, 0, n4(100, 1000, 5, 3), n4(100, 1000, 5, 3)),
				tr(1*ms, n4(101, 1000, 5, 3), n4(101, 1000, 5, 3)),
				drop(100),
				drop(101),
				tr(2*ms, n4(102, 1000, 5, 3), n4(102, 1000, 5, 3)),
			},
		},
		{
			intent: "Older and duplicate packets inside a segment translate with the segment's offsets and do not move the high-water mark the next switch continues from.",
			steps: []mungerStep{
				sw(a, 0, n4(100, 1000, 5, 3), n4(100, 1000, 5, 3)),
				sw(b, 1*ms, n4(5000, 0, 300, 200), n4(101, 1090, 6, 4)),
				tr(2*ms, n4(5003, 3000, 301, 201), n4(104, 4090, 7, 5)),
				tr(3*ms, n4(5001, 0, 300, 200), n4(102, 1090, 6, 4)),
				tr(4*ms, n4(5002, 0, 300, 200), n4(103, 1090, 6, 4)),
				tr(5*ms, n4(5001, 0, 300, 200), n4(102, 1090, 6, 4)),
				// 13 ms after the last in-order packet (at 2 ms): 1170 ticks.
				sw(c, 15*ms, n4(1, 1, 1, 1), n4(105, 5260, 8, 6)),
			},
		},
		{
			intent: "Packets from before a switch are refused, whichever source they come from.",
			steps: []mungerStep{
				sw(a, 0, n4(100, 1000, 5, 3), n4(100, 1000, 5, 3)),
				tr(0, n4(101, 1000, 5, 3), n4(101, 1000, 5, 3)),
				tr(0, n4(102, 1000, 5, 3), n4(102, 1000, 5, 3)),
				sw(b, 1*ms, n4(5000, 0, 9, 9), n4(103, 1090, 6, 4)),
				refused(1*ms, n4(4999, 0, 8, 8)),
				sw(a, 2*ms, n4(110, 4000, 6, 4), n4(104, 1180, 7, 5)),
				refused(2*ms, n4(105, 1000, 5, 3)),
				tr(2*ms, n4(111, 4000, 6, 4), n4(105, 1180, 7, 5)),
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.intent, func(t *testing.T) {
			var m Munger
			runMunger(t, &m, tt.steps)
		})
	}
}

// TestMungerTimestampAdvance checks that a switch advances the output
// timestamp by the elapsed wall time at 90 kHz, truncated, and by at least
// one tick.
func TestMungerTimestampAdvance(t *testing.T) {
	a, b := new(Receiver), new(Receiver)
	tests := []struct {
		elapsed time.Duration
		want    uint32
	}{
		{0, 1},
		{10 * time.Microsecond, 1},   // 0.9 ticks
		{11112 * time.Nanosecond, 1}, // 1.00008 ticks
		{1 * time.Millisecond, 90},
		{20 * time.Millisecond, 1800},
		{33333333 * time.Nanosecond, 2999},
		{time.Second, 90000},
		{10 * time.Minute, 54000000},
	}
	for _, tt := range tests {
		t.Run(tt.elapsed.String(), func(t *testing.T) {
			var m Munger
			const start = int64(1e12)
			p := mungerPacket(n4(1, 5000, 1, 1))
			m.Switch(a, p, start)
			if _, ok := m.Translate(p, start); !ok {
				t.Fatal("first packet refused")
			}
			q := mungerPacket(n4(900, 123456, 77, 77))
			m.Switch(b, q, start+int64(tt.elapsed))
			got, ok := m.Translate(q, start+int64(tt.elapsed))
			if !ok || got.TS-5000 != tt.want {
				t.Errorf("advance = %d (ok %v), want %d", got.TS-5000, ok, tt.want)
			}
		})
	}
}

// reverseOp builds a Munger history: a switch to src at input sequence
// number in (in-order packets then follow from there), a run of packets,
// or one dropped packet.
type reverseOp struct {
	src  *Receiver
	in   uint16
	pkts int
	drop bool
}

func switchTo(src *Receiver, in uint16, pkts int) reverseOp {
	return reverseOp{src: src, in: in, pkts: pkts}
}

func dropOne() reverseOp { return reverseOp{drop: true} }

// origin is what an output sequence number was made from.
type origin struct {
	src     *Receiver
	in      uint16
	segment int // index of the segment, counting from 0
}

// buildHistory plays ops into a Munger and returns, per output sequence
// number, where it came from, plus the index of the current segment.
func buildHistory(t *testing.T, ops []reverseOp) (*Munger, map[uint16]origin, int) {
	t.Helper()
	m := &Munger{}
	sent := map[uint16]origin{}
	segment := -1
	var next uint16 // next input sequence number of the current source
	at := int64(0)
	forward := func(src *Receiver) {
		p := mungerPacket(n4(next, 0, 1, 1))
		got, ok := m.Translate(p, at)
		if !ok {
			t.Fatalf("in-order packet %d refused", next)
		}
		if _, dup := sent[got.Seq]; dup {
			t.Fatalf("output %d sent twice", got.Seq)
		}
		sent[got.Seq] = origin{src, next, segment}
		next++
		at += int64(time.Millisecond)
	}
	for _, op := range ops {
		segment++
		if op.drop {
			// The packet after the dropped one is forwarded, so that the
			// segment the drop starts is not empty.
			m.Drop(next)
			next++
			forward(m.Source())
			continue
		}
		next = op.in
		m.Switch(op.src, mungerPacket(n4(next, 0, 1, 1)), at)
		for range op.pkts {
			forward(op.src)
		}
	}
	return m, sent, segment
}

// TestMungerReverse maps output sequence numbers back across segments, as a
// NACK needs, and forgets segments older than the 16 kept in history.
func TestMungerReverse(t *testing.T) {
	a, b, c := new(Receiver), new(Receiver), new(Receiver)
	srcs := []*Receiver{a, b, c}
	many := func(segments int, firstIn uint16) []reverseOp {
		ops := []reverseOp{switchTo(a, firstIn, 3)}
		for i := 1; i < segments; i++ {
			if i%5 == 0 {
				ops = append(ops, dropOne())
				continue
			}
			ops = append(ops, switchTo(srcs[i%3], uint16(i*1000+65000), 1+i%4))
		}
		return ops
	}
	tests := []struct {
		intent    string
		ops       []reverseOp
		forgotten bool // some outputs are from segments no longer kept
	}{
		{
			intent: "Outputs of the current and of earlier segments map back to their source and input sequence number.",
			ops: []reverseOp{
				switchTo(a, 100, 5), switchTo(b, 40000, 4), dropOne(), switchTo(c, 7, 3), switchTo(a, 200, 2),
			},
		},
		{
			intent: "Segments survive the 16-bit wrap of the output and input numbering.",
			ops: []reverseOp{
				switchTo(a, 65530, 4), switchTo(b, 65534, 5), dropOne(), switchTo(c, 65535, 3),
			},
		},
		{
			intent: "An empty segment (a switch with nothing forwarded) hides nothing of its neighbours.",
			ops: []reverseOp{
				switchTo(a, 10, 3), switchTo(b, 500, 0), switchTo(c, 900, 3),
			},
		},
		{
			intent: "Exactly 16 segments of history plus the current one are all found.",
			ops:    many(17, 65530),
		},
		{
			intent:    "Segments older than the 16 kept in history are forgotten.",
			ops:       many(21, 300),
			forgotten: true,
		},
		{
			intent:    "The history ring keeps working after it has wrapped more than twice.",
			ops:       many(50, 65000),
			forgotten: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.intent, func(t *testing.T) {
			m, sent, current := buildHistory(t, tt.ops)
			forgotten := 0
			for out, o := range sent {
				seg, in, ok := m.Reverse(out)
				if o.segment < current-historySegments {
					forgotten++
					if ok {
						t.Errorf("out %d from forgotten segment %d (current %d) reversed to %d", out, o.segment, current, in)
					}
					continue
				}
				if !ok || seg.src != o.src || in != o.in {
					t.Errorf("Reverse(%d) = src %p in %d ok %v, want src %p in %d (segment %d of %d)",
						out, seg.src, in, ok, o.src, o.in, o.segment, current)
				}
			}
			if (forgotten > 0) != tt.forgotten {
				t.Errorf("%d outputs from forgotten segments", forgotten)
			}
			checkReverseRefusesUnsent(t, m, sent)
		})
	}
}

// checkReverseRefusesUnsent checks that output numbers after the last one
// sent do not map to anything.
func checkReverseRefusesUnsent(t *testing.T, m *Munger, sent map[uint16]origin) {
	t.Helper()
	last := uint16(m.last.seq)
	if _, ok := sent[last]; !ok {
		t.Fatalf("last output %d not among those sent", last)
	}
	for _, d := range []uint16{1, 2, 100, 30000} {
		if _, _, ok := m.Reverse(last + d); ok {
			t.Errorf("Reverse(last+%d) found a packet never sent", d)
		}
	}
}

// TestMungerReverseBeforeStart checks that a Munger that has forwarded
// nothing maps no output sequence number.
func TestMungerReverseBeforeStart(t *testing.T) {
	var m Munger
	for _, out := range []uint16{0, 1, 65535} {
		if _, _, ok := m.Reverse(out); ok {
			t.Errorf("Reverse(%d) ok before any packet", out)
		}
	}
}

// TestMungerReverseDroppedSlot checks that the output number a dropped
// packet would have had maps to the packet that took its place.
func TestMungerReverseDroppedSlot(t *testing.T) {
	a := new(Receiver)
	var m Munger
	runMunger(t, &m, []mungerStep{
		sw(a, 0, n4(100, 0, 1, 1), n4(100, 0, 1, 1)),
		drop(101),
		tr(0, n4(102, 0, 1, 1), n4(101, 0, 1, 1)),
	})
	for out, want := range map[uint16]uint16{100: 100, 101: 102} {
		if seg, in, ok := m.Reverse(out); !ok || seg.src != a || in != want {
			t.Errorf("Reverse(%d) = %d, %v; want %d", out, in, ok, want)
		}
	}
}

// TestMungerLongSegment: a source that stays in its slot for longer than
// the 16-bit sequence space (about 7 minutes of 720p video) keeps being
// forwarded, with no packet refused as "before the switch", and NACKs near
// the end still map back.
func TestMungerLongSegment(t *testing.T) {
	src := &Receiver{}
	var m Munger
	p := mungerPacket(n4(40000, 0, 0, 0))
	m.Switch(src, p, 0)
	for i := range 3 * 65536 {
		p.Header.SequenceNumber = uint16(40000 + i)
		p.Header.Timestamp = uint32(i/3) * 3000
		got, ok := m.Translate(p, int64(i))
		if !ok {
			t.Fatalf("packet %d (seq %d) refused", i, p.Header.SequenceNumber)
		}
		if got.Seq != p.Header.SequenceNumber {
			t.Fatalf("packet %d: seq %d, want %d (no offset before any switch)", i, got.Seq, p.Header.SequenceNumber)
		}
	}
	last := p.Header.SequenceNumber
	for _, back := range []uint16{0, 1, 500, 30000} {
		seg, in, ok := m.Reverse(last - back)
		if !ok || seg.src != src || in != last-back {
			t.Errorf("Reverse(last-%d) = (%v, %d, %v), want this source's %d", back, seg.src == src, in, ok, last-back)
		}
	}
	if _, _, ok := m.Reverse(last + 1); ok {
		t.Error("Reverse of a number not sent yet succeeded")
	}
}

// TestMungerSwitchAligned checks the timestamp of a switch given the
// sender reports of the layer left and the layer switched to. Layer 0 of
// source a sent timestamps 1000 (at 0 ms) and 4000 (at 33 ms); a's
// report pairs timestamp 1000 with NTP time ntp0. Layer 2 of a reads the
// same capture instant as 1000 + bBase - 1000 = bBase; its report is taken
// half a second later. Its key frame arrives at 40 ms: by the elapsed
// time its timestamp becomes 4000 + 7 ms = 4630.
func TestMungerSwitchAligned(t *testing.T) {
	a, b, c := new(Receiver), new(Receiver), new(Receiver)
	const (
		ms      = time.Millisecond
		t0      = int64(1e12)
		ntp0    = uint64(4096) << 32
		half    = uint64(1) << 31 // 0.5 s of NTP
		bBase   = uint32(500_000_000)
		elapsed = uint32(4630)
	)
	fromA := SenderReport{NTP: ntp0, RTP: 1000, Arrival: t0}
	toB := SenderReport{NTP: ntp0 + half, RTP: bBase + 45000, Arrival: t0}
	with := func(r SenderReport, f func(*SenderReport)) SenderReport { f(&r); return r }
	wrap := uint32(0xffff_ff00)  // a timestamp origin just before 2^32
	era := uint64(1<<64 - 1<<30) // 0.25 s before the NTP era rolls over
	tests := []struct {
		intent   string
		src      *Receiver     // the key frame's source (a when nil)
		layer    int           // the key frame's layer (2 when 0)
		ts       uint32        // the key frame's timestamp
		at       time.Duration // its arrival (40 ms when 0)
		from, to SenderReport
		viaC     bool // a's segment began with a switch from c, 100 ms earlier
		want     uint32
	}{
		{
			intent: "Two reports of one source place the key frame on the old layer's timeline.",
			ts:     bBase + 6000, from: fromA, to: toB, want: 7000,
		},
		{
			intent: "The old segment's offset carries over: a's layer was itself switched to by the elapsed time (from c).",
			ts:     bBase + 6000, from: fromA, to: toB, viaC: true, want: 7000 + 8010,
		},
		{
			intent: "Without a report of the layer left, the elapsed time.",
			ts:     bBase + 6000, to: toB, want: elapsed,
		},
		{
			intent: "Without a report of the layer switched to, the elapsed time.",
			ts:     bBase + 6000, from: fromA, want: elapsed,
		},
		{
			intent: "A report with NTP time 0 (a sender without a wall clock) counts as none, even next to one that would fit.",
			ts:     bBase + 6000, from: with(fromA, func(r *SenderReport) { r.NTP = 0 }), to: with(toB, func(r *SenderReport) { r.NTP = half }), want: elapsed,
		},
		{
			intent: "A report received 10 s before the switch is stale.",
			ts:     bBase + 6000, from: fromA, to: with(toB, func(r *SenderReport) { r.Arrival = t0 + int64(40*ms) - int64(10*time.Second) }), want: elapsed,
		},
		{
			intent: "A report received just under 10 s before the switch is fresh.",
			ts:     bBase + 6000, from: with(fromA, func(r *SenderReport) { r.Arrival = t0 + int64(40*ms) - int64(10*time.Second) + 1 }), to: toB, want: 7000,
		},
		{
			intent: "A report stamped after the key frame arrived (its reader read the clock later) is fresh.",
			ts:     bBase + 6000, from: fromA, to: with(toB, func(r *SenderReport) { r.Arrival = t0 + int64(41*ms) }), want: 7000,
		},
		{
			intent: "A switch to another source ignores reports, whatever they say.",
			src:    b, ts: bBase + 6000, from: fromA, to: toB, want: elapsed,
		},
		{
			intent: "A key frame of the instant last forwarded would repeat the last timestamp: the elapsed time.",
			ts:     bBase + 3000, from: fromA, to: toB, want: elapsed,
		},
		{
			intent: "A key frame placed before the last timestamp: the elapsed time.",
			ts:     bBase + 2000, from: fromA, to: toB, want: elapsed,
		},
		{
			intent: "Placed one tick past the last timestamp is forward enough.",
			ts:     bBase + 3001, from: fromA, to: toB, want: 4001,
		},
		{
			intent: "Placed 2 s beyond the elapsed time is still taken.",
			ts:     bBase - 1000 + elapsed + 180000, from: fromA, to: toB, want: elapsed + 180000,
		},
		{
			intent: "Placed more than 2 s beyond the elapsed time: the elapsed time.",
			ts:     bBase - 1000 + elapsed + 180001, from: fromA, to: toB, want: elapsed,
		},
		{
			intent: "The NTP era rolls over between the two reports.",
			ts:     bBase + 6000,
			from:   with(fromA, func(r *SenderReport) { r.NTP = era }),
			to:     with(toB, func(r *SenderReport) { r.NTP = era + half }),
			want:   7000,
		},
		{
			intent: "The new layer's timestamps wrap 2^32 between its report and its key frame.",
			ts:     wrap + 6000,
			from:   fromA,
			to:     with(toB, func(r *SenderReport) { r.RTP = wrap + 45000 }),
			want:   7000,
		},
		{
			intent: "Reports more than a minute apart are broken: the elapsed time.",
			ts:     bBase + 6000,
			from:   fromA,
			to:     with(toB, func(r *SenderReport) { r.NTP, r.RTP = ntp0+61<<32, bBase+61*90000 }),
			want:   elapsed,
		},
		{
			intent: "The same layer resumed after a pause continues on its own clock, not by the elapsed time (which would give 469030).",
			layer:  -1, ts: 1000 + 5*90000, at: 5200 * ms, from: fromA, to: fromA, want: 1000 + 5*90000,
		},
	}
	for _, tt := range tests {
		t.Run(tt.intent, func(t *testing.T) {
			var m Munger
			start := t0
			if tt.viaC {
				start = t0 - int64(100*ms)
			}
			m.Switch(c, mungerPacket(n4(1, 10, 1, 1)), start)
			if _, ok := m.Translate(mungerPacket(n4(1, 10, 1, 1)), start); !ok {
				t.Fatal("first packet refused")
			}
			if !tt.viaC {
				m = Munger{}
			}
			p := mungerPacket(n4(100, 1000, 5, 3))
			m.Switch(a, p, t0)
			for i, at := range []int64{t0, t0 + int64(33*ms)} {
				if _, ok := m.Translate(mungerPacket(n4(100+uint16(i), 1000+3000*uint32(i), 5+uint16(i), 3+uint8(i))), at); !ok {
					t.Fatal("a's packet refused")
				}
			}
			src, layer, at := tt.src, tt.layer, tt.at
			if src == nil {
				src = a
			}
			switch layer {
			case 0:
				layer = 2
			case -1:
				layer = 0
			}
			if at == 0 {
				at = 40 * ms
			}
			q := mungerPacket(n4(9000, tt.ts, 700, 70))
			q.Layer = layer
			m.SwitchAligned(src, q, t0+int64(at), tt.from, tt.to)
			got, ok := m.Translate(q, t0+int64(at))
			if !ok {
				t.Fatal("key frame refused")
			}
			wantSeq := uint16(102)
			if tt.viaC {
				wantSeq = 4 // c's packet was 1, a's 2 and 3
			}
			if got.TS != tt.want || got.Seq != wantSeq {
				t.Errorf("key frame: ts %d seq %d, want ts %d seq %d", got.TS, got.Seq, tt.want, wantSeq)
			}
			if s, l := m.Current(); s != src || l != layer {
				t.Errorf("Current = %p, %d; want %p, %d", s, l, src, layer)
			}
		})
	}
}
