package mixer

import (
	"cmp"
	"encoding/binary"
	"slices"
	"testing"
	"time"
)

// jtBase is an arbitrary monotonic-clock origin: nothing may assume that
// time starts at zero.
const jtBase = int64(7 * time.Hour)

const (
	jtTick  = 20 * time.Millisecond
	jtIDLen = 6 // payload bytes that identify a packet: seq, ts
)

var (
	jtOpus = JitterConfig{ClockRate: 48000, FrameTS: 960}
	jtG711 = JitterConfig{ClockRate: 8000, FrameTS: 160}
)

// jtName names a configuration's clock for subtests.
func jtName(cfg JitterConfig) string {
	if cfg.ClockRate == 8000 {
		return "g711"
	}
	return "opus"
}

// jtWith returns cfg with MinDelay set.
func jtWith(cfg JitterConfig, minDelay time.Duration) JitterConfig {
	cfg.MinDelay = minDelay
	return cfg
}

// jtPacket is one synthetic packet and its arrival time.
type jtPacket struct {
	seq  uint16
	ts   uint32
	at   time.Duration
	size int // payload bytes; 0 means jtIDLen
}

// jtStream is n packets sent every 20 ms from start, arriving at once.
func jtStream(n int, seq0 uint16, ts0, step uint32, start time.Duration) []jtPacket {
	pkts := make([]jtPacket, n)
	for i := range pkts {
		pkts[i] = jtPacket{
			seq: seq0 + uint16(i),
			ts:  ts0 + uint32(i)*step,
			at:  start + time.Duration(i)*jtTick,
		}
	}
	return pkts
}

// jtOut is one Pop's result, decoded.
type jtOut struct {
	at      time.Duration
	status  FrameStatus
	ts      uint32 // FramePlay: timestamp of the played packet
	next    uint32 // FrameMissing: timestamp of Next
	hasNext bool
}

// jtSim feeds a JitterBuffer packets in arrival order and pops it every
// 20 ms; a packet arriving at a pop's instant is pushed first.
type jtSim struct {
	t     *testing.T
	j     *JitterBuffer
	pkts  []jtPacket
	next  int
	clock time.Duration // time of the next pop
	buf   []byte
}

func newJtSim(t *testing.T, j *JitterBuffer, pkts []jtPacket, firstPop time.Duration) *jtSim {
	t.Helper()
	ordered := slices.Clone(pkts)
	slices.SortStableFunc(ordered, func(a, b jtPacket) int { return cmp.Compare(a.at, b.at) })
	return &jtSim{t: t, j: j, pkts: ordered, clock: firstPop, buf: make([]byte, MaxPayload+100)}
}

func (s *jtSim) run(pops int) []jtOut {
	s.t.Helper()
	outs := make([]jtOut, 0, pops)
	for range pops {
		for ; s.next < len(s.pkts) && s.pkts[s.next].at <= s.clock; s.next++ {
			p := s.pkts[s.next]
			n := p.size
			if n == 0 {
				n = jtIDLen
			}
			binary.BigEndian.PutUint16(s.buf, p.seq)
			binary.BigEndian.PutUint32(s.buf[2:], p.ts)
			s.j.Push(p.seq, p.ts, s.buf[:n], jtBase+int64(p.at))
		}
		outs = append(outs, jtDecode(s.t, s.clock, s.j.Pop(jtBase+int64(s.clock))))
		jtCheckAccounting(s.t, s.j)
		s.clock += jtTick
	}
	return outs
}

func jtDecode(t *testing.T, at time.Duration, fr Frame) jtOut {
	t.Helper()
	o := jtOut{at: at, status: fr.Status}
	switch fr.Status {
	case FramePlay:
		if len(fr.Payload) < jtIDLen || len(fr.Payload) > MaxPayload || fr.Next != nil {
			t.Fatalf("at %v: play with payload of %d bytes, next %v", at, len(fr.Payload), fr.Next != nil)
		}
		o.ts = binary.BigEndian.Uint32(fr.Payload[2:])
	case FrameMissing:
		if fr.Payload != nil {
			t.Fatalf("at %v: missing frame with a payload", at)
		}
		if fr.Next != nil {
			o.next, o.hasNext = binary.BigEndian.Uint32(fr.Next[2:]), true
		}
	case FrameSilent:
		if fr.Payload != nil || fr.Next != nil {
			t.Fatalf("at %v: silent frame with a payload", at)
		}
	default:
		t.Fatalf("at %v: undefined status %d", at, fr.Status)
	}
	return o
}

// jtCheckAccounting checks that every pushed packet is in exactly one
// bucket.
func jtCheckAccounting(t *testing.T, j *JitterBuffer) {
	t.Helper()
	s := j.Stats()
	sum := s.Played + s.Late + s.Duplicates + s.Dropped + s.Skipped + uint64(s.Buffered)
	if j.candPending {
		sum++
	}
	if sum != s.Pushed {
		t.Fatalf("accounting: pushed %d, accounted %d (%+v)", s.Pushed, sum, s)
	}
}

// jtPlayed lists the timestamps played, in order.
func jtPlayed(outs []jtOut) []uint32 {
	var ts []uint32
	for _, o := range outs {
		if o.status == FramePlay {
			ts = append(ts, o.ts)
		}
	}
	return ts
}

func jtTimestamps(pkts []jtPacket) []uint32 {
	ts := make([]uint32, len(pkts))
	for i, p := range pkts {
		ts[i] = p.ts
	}
	return ts
}

// jtPlaying returns outs from the first FramePlay through the last.
func jtPlaying(t *testing.T, outs []jtOut) []jtOut {
	t.Helper()
	played := func(o jtOut) bool { return o.status == FramePlay }
	first := slices.IndexFunc(outs, played)
	if first < 0 {
		t.Fatal("nothing played")
	}
	last := first
	for i := first; i < len(outs); i++ {
		if played(outs[i]) {
			last = i
		}
	}
	return outs[first : last+1]
}

func jtStatuses(outs []jtOut) []FrameStatus {
	st := make([]FrameStatus, len(outs))
	for i, o := range outs {
		st[i] = o.status
	}
	return st
}

// An in-order steady stream plays every frame once the prefill is done,
// each with the same delay, and then its end conceals three frames and goes
// silent.
func TestJitterInOrder(t *testing.T) {
	tests := []struct {
		name      string
		cfg       JitterConfig
		seq0      uint16
		ts0       uint32
		wantDelay time.Duration
	}{
		{"opus 20ms", jtOpus, 1000, 123456, 5 * time.Millisecond},
		{"opus 60ms", jtWith(jtOpus, 60*time.Millisecond), 7, 99, 45 * time.Millisecond},
		{"g711 20ms", jtG711, 40000, 3_000_000_000, 5 * time.Millisecond},
		{"g711 60ms", jtWith(jtG711, 60*time.Millisecond), 0, 0, 45 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			j := NewJitterBuffer(tt.cfg)
			pkts := jtStream(200, tt.seq0, tt.ts0, tt.cfg.FrameTS, 0)
			arrival := map[uint32]time.Duration{}
			for _, p := range pkts {
				arrival[p.ts] = p.at
			}
			outs := newJtSim(t, j, pkts, 5*time.Millisecond).run(215)

			if got, want := jtPlayed(outs), jtTimestamps(pkts); !slices.Equal(got, want) {
				t.Fatalf("played %d frames, want all %d in order", len(got), len(want))
			}
			for _, o := range jtPlaying(t, outs) {
				if o.status != FramePlay {
					t.Fatalf("at %v: %v in a steady stream", o.at, o.status)
				}
				if d := o.at - arrival[o.ts]; d != tt.wantDelay {
					t.Fatalf("frame %d played after %v, want %v", o.ts, d, tt.wantDelay)
				}
			}
			last := slices.IndexFunc(outs, func(o jtOut) bool { return o.ts == pkts[len(pkts)-1].ts && o.status == FramePlay })
			tail := jtStatuses(outs[last+1 : last+6])
			want := []FrameStatus{FrameMissing, FrameMissing, FrameMissing, FrameSilent, FrameSilent}
			if !slices.Equal(tail, want) {
				t.Fatalf("after the stream ends: %v, want %v", tail, want)
			}
			s := j.Stats()
			if s.Played != 200 || s.Concealed != 3 || s.Late+s.Duplicates+s.Dropped+s.Skipped+s.Resets != 0 {
				t.Fatalf("stats %+v", s)
			}
			if s.Depth != tt.cfg.MinDelay && !(tt.cfg.MinDelay == 0 && s.Depth == 20*time.Millisecond) {
				t.Fatalf("depth %v for a jitter-free stream", s.Depth)
			}
		})
	}
}

// Packets reordered within the buffer's depth are played in timestamp
// order, none lost.
func TestJitterReorder(t *testing.T) {
	const n = 96
	ms := time.Millisecond
	tests := []struct {
		name   string
		arrive func(i int) time.Duration // arrival of frame i
	}{
		{"swap pairs", func(i int) time.Duration {
			if i%2 == 0 {
				return time.Duration(i+1)*jtTick + ms
			}
			return time.Duration(i) * jtTick
		}},
		{"reverse bursts of 4", func(i int) time.Duration {
			return time.Duration(i/4*4+3)*jtTick + time.Duration(3-i%4)*100*time.Microsecond
		}},
		{"reverse bursts of 8", func(i int) time.Duration {
			return time.Duration(i/8*8+7)*jtTick + time.Duration(7-i%8)*100*time.Microsecond
		}},
		{"one frame 3 late", func(i int) time.Duration {
			if i%10 == 4 {
				return time.Duration(i+3)*jtTick + ms
			}
			return time.Duration(i) * jtTick
		}},
	}
	for _, tt := range tests {
		for _, cfg := range []JitterConfig{jtOpus, jtG711} {
			t.Run(tt.name+"/"+jtName(cfg), func(t *testing.T) {
				j := NewJitterBuffer(jtWith(cfg, 160*ms))
				pkts := jtStream(n, 65000, 1<<31, cfg.FrameTS, 0)
				for i := range pkts {
					pkts[i].at = tt.arrive(i)
				}
				outs := newJtSim(t, j, pkts, 5*ms).run(n + 20)
				if got, want := jtPlayed(outs), jtTimestamps(pkts); !slices.Equal(got, want) {
					t.Fatalf("played %v\nwant   %v", got, want)
				}
				if st := jtStatuses(jtPlaying(t, outs)); slices.Contains(st, FrameMissing) {
					t.Fatalf("missing frames in %v", st)
				}
				if s := j.Stats(); s.Late+s.Duplicates+s.Dropped+s.Skipped+s.Resets != 0 {
					t.Fatalf("stats %+v", s)
				}
			})
		}
	}
}

// Lost packets give FrameMissing exactly at their frames, with Next
// holding the following frame when it arrived (for Opus FEC).
func TestJitterLoss(t *testing.T) {
	tests := []struct {
		name string
		lost []int
	}{
		{"single", []int{50}},
		{"two in a row", []int{50, 51}},
		{"every other", []int{50, 52, 54, 56}},
		{"apart", []int{20, 90}},
	}
	for _, tt := range tests {
		for _, cfg := range []JitterConfig{jtOpus, jtG711} {
			t.Run(tt.name+"/"+jtName(cfg), func(t *testing.T) {
				// 60 ms: when frame k is due, k+1 and k+2 are buffered, so a
				// gap is told from an underrun.
				j := NewJitterBuffer(jtWith(cfg, 60*time.Millisecond))
				all := jtStream(120, 500, 77, cfg.FrameTS, 0)
				pkts := slices.DeleteFunc(slices.Clone(all), func(p jtPacket) bool {
					return slices.Contains(tt.lost, int(p.seq-500))
				})
				outs := jtPlaying(t, newJtSim(t, j, pkts, 5*time.Millisecond).run(130))
				if len(outs) != len(all) {
					t.Fatalf("%d ticks from first to last frame, want %d", len(outs), len(all))
				}
				for i, o := range outs {
					lost := slices.Contains(tt.lost, i)
					switch {
					case !lost && (o.status != FramePlay || o.ts != all[i].ts):
						t.Fatalf("frame %d: %+v, want it played", i, o)
					case lost && o.status != FrameMissing:
						t.Fatalf("frame %d: %v, want missing", i, o.status)
					case lost && slices.Contains(tt.lost, i+1) && o.hasNext:
						t.Fatalf("frame %d: Next set but frame %d is lost", i, i+1)
					case lost && !slices.Contains(tt.lost, i+1) && (!o.hasNext || o.next != all[i+1].ts):
						t.Fatalf("frame %d: Next %+v, want frame %d", i, o, i+1)
					}
				}
				if s := j.Stats(); s.Concealed != uint64(len(tt.lost))+3 || s.Late+s.Dropped+s.Skipped != 0 {
					t.Fatalf("stats %+v", s)
				}
			})
		}
	}
}

// With a one-frame buffer a loss empties it: the tick conceals without
// advancing (the packet may only be late), so the delay grows by a frame
// and the next loss is concealed exactly.
func TestJitterUnderrunGrowsDelay(t *testing.T) {
	j := NewJitterBuffer(jtOpus)
	all := jtStream(100, 0, 0, 960, 0)
	pkts := slices.Delete(slices.Clone(all), 80, 81)
	pkts = slices.Delete(pkts, 50, 51)
	outs := newJtSim(t, j, pkts, 5*time.Millisecond).run(105)
	got := jtStatuses(outs[48:56])
	want := []FrameStatus{FramePlay, FramePlay, FrameMissing, FrameMissing, FramePlay, FramePlay, FramePlay, FramePlay}
	if !slices.Equal(got, want) {
		t.Fatalf("around the first loss: %v, want %v", got, want)
	}
	if outs[50].hasNext || !outs[51].hasNext || outs[51].next != all[51].ts || outs[52].ts != all[51].ts {
		t.Fatalf("around the first loss: %+v", outs[50:53])
	}
	if d := outs[52].at - all[51].at; d != 25*time.Millisecond {
		t.Fatalf("delay after the underrun %v, want 25ms", d)
	}
	// Frame 80 is due at tick 81; frame 81 is buffered then.
	if o := outs[81]; o.status != FrameMissing || !o.hasNext || o.next != all[81].ts {
		t.Fatalf("second loss: %+v", o)
	}
	if s := j.Stats(); s.Concealed != 3+3 || s.Played != 98 {
		t.Fatalf("stats %+v", s)
	}
}

// Duplicates, of a buffered frame or of a played one, and a packet with a
// new sequence number but a timestamp already held, are dropped and counted.
func TestJitterDuplicates(t *testing.T) {
	pkts := jtStream(60, 10, 1000, 960, 0)
	pkts = append(pkts,
		jtPacket{seq: pkts[20].seq, ts: pkts[20].ts, at: pkts[20].at},                        // while buffered
		jtPacket{seq: pkts[30].seq, ts: pkts[30].ts, at: pkts[30].at + 200*time.Millisecond}, // after playing
		jtPacket{seq: pkts[40].seq + 1, ts: pkts[40].ts, at: pkts[40].at + time.Millisecond}, // same ts, other seq
	)
	j := NewJitterBuffer(jtOpus)
	outs := newJtSim(t, j, pkts, 5*time.Millisecond).run(70)
	if got, want := jtPlayed(outs), jtTimestamps(pkts[:60]); !slices.Equal(got, want) {
		t.Fatalf("played %v\nwant   %v", got, want)
	}
	if s := j.Stats(); s.Duplicates != 3 || s.Late+s.Dropped+s.Resets != 0 {
		t.Fatalf("stats %+v", s)
	}
}

// A packet arriving after its frame was concealed is dropped and counted
// late, however late it is; one that makes it before its tick plays.
func TestJitterLate(t *testing.T) {
	tests := []struct {
		name     string
		delay    time.Duration
		wantLate uint64
	}{
		{"just in time", 10 * time.Millisecond, 0},
		{"after its tick", 30 * time.Millisecond, 1},
		{"half a second", 500 * time.Millisecond, 1},
		{"five seconds (sequence far behind)", 5 * time.Second, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			j := NewJitterBuffer(jtWith(jtOpus, 40*time.Millisecond))
			pkts := jtStream(400, 60000, 5, 960, 0)
			pkts[50].at += tt.delay
			outs := newJtSim(t, j, pkts, 5*time.Millisecond).run(410)
			st := jtStatuses(jtPlaying(t, outs))
			if got := uint64(len(st) - len(slices.DeleteFunc(st, func(s FrameStatus) bool { return s == FrameMissing }))); got != tt.wantLate {
				t.Fatalf("%d frames concealed, want %d", got, tt.wantLate)
			}
			if s := j.Stats(); s.Late != tt.wantLate || s.Concealed != tt.wantLate+3 || s.Resets+s.Dropped != 0 {
				t.Fatalf("stats %+v", s)
			}
		})
	}
}

// A burst delayed by 120 ms (then arriving all at once) grows the depth;
// the delayed frames are all played, none dropped as late, and once the
// network is calm again the delay shrinks back a frame at a time.
func TestJitterSpike(t *testing.T) {
	for _, cfg := range []JitterConfig{jtOpus, jtG711} {
		t.Run(jtName(cfg), func(t *testing.T) {
			j := NewJitterBuffer(cfg)
			pkts := jtStream(650, 300, 4000, cfg.FrameTS, 0)
			burst := pkts[100].at + 120*time.Millisecond
			for i := 100; i < 106; i++ {
				pkts[i].at = burst
			}
			arrival := map[uint32]time.Duration{}
			for _, p := range pkts {
				arrival[p.ts] = p.at
			}
			sim := newJtSim(t, j, pkts, 5*time.Millisecond)
			before := j.Stats()
			outs := sim.run(107) // through the tick right after the burst
			if s := j.Stats(); s.Depth <= before.Depth || s.Depth < 60*time.Millisecond || s.Jitter < 5*time.Millisecond {
				t.Fatalf("after the spike: depth %v (was %v), jitter %v", s.Depth, before.Depth, s.Jitter)
			}
			outs = append(outs, sim.run(560)...)

			gap := jtStatuses(outs[100:106])
			want := []FrameStatus{FrameMissing, FrameMissing, FrameMissing, FrameSilent, FrameSilent, FrameSilent}
			if !slices.Equal(gap, want) {
				t.Fatalf("during the spike: %v, want %v", gap, want)
			}
			played := jtPlayed(outs)
			for _, p := range pkts[100:106] {
				if !slices.Contains(played, p.ts) {
					t.Fatalf("delayed frame %d not played", p.ts)
				}
			}
			if !slices.IsSorted(played) {
				t.Fatal("played out of order")
			}
			if st := jtStatuses(jtPlaying(t, outs[106:])); slices.Contains(st, FrameMissing) || slices.Contains(st, FrameSilent) {
				t.Fatalf("playback stalled after the spike: %v", st)
			}
			peak := outs[112].at - arrival[outs[112].ts]
			lastPlay := jtPlaying(t, outs)
			end := lastPlay[len(lastPlay)-1]
			final := end.at - arrival[end.ts]
			s := j.Stats()
			if peak < 100*time.Millisecond || final > 25*time.Millisecond || s.Depth != 20*time.Millisecond {
				t.Fatalf("delay %v after the spike, %v at the end (depth %v), want >=100ms then <=25ms", peak, final, s.Depth)
			}
			if s.Late+s.Dropped+s.Resets != 0 || s.Skipped == 0 || s.Played+s.Skipped != 650 {
				t.Fatalf("stats %+v", s)
			}
		})
	}
}

// The sequence number wrapping 65535→0 and the timestamp wrapping 2^32→0
// mid-stream change nothing, even with the two frames at the wrap swapped.
func TestJitterWrap(t *testing.T) {
	tests := []struct {
		name string
		cfg  JitterConfig
		seq0 uint16
		ts0  uint32
	}{
		{"opus seq", jtOpus, 65535 - 50, 1000},
		{"opus ts", jtOpus, 100, 1<<32 - 51*960},
		{"g711 both", jtG711, 65535 - 50, 1<<32 - 51*160},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			j := NewJitterBuffer(jtWith(tt.cfg, 60*time.Millisecond))
			pkts := jtStream(100, tt.seq0, tt.ts0, tt.cfg.FrameTS, 0)
			pkts[50].at = pkts[51].at + time.Millisecond
			outs := newJtSim(t, j, pkts, 5*time.Millisecond).run(110)
			if got, want := jtPlayed(outs), jtTimestamps(pkts); !slices.Equal(got, want) {
				t.Fatalf("played %v\nwant   %v", got, want)
			}
			if s := j.Stats(); s.Concealed != 3 || s.Late+s.Duplicates+s.Dropped+s.Resets != 0 {
				t.Fatalf("stats %+v", s)
			}
		})
	}
}

// A DTX-like pause (no packets for 1 s, then the same stream resumes with
// a later timestamp) conceals three frames, goes silent, and plays the new
// talk spurt after its prefill without counting a reset.
func TestJitterDTX(t *testing.T) {
	for _, cfg := range []JitterConfig{jtOpus, jtWith(jtG711, 40*time.Millisecond)} {
		t.Run(jtName(cfg), func(t *testing.T) {
			j := NewJitterBuffer(cfg)
			talk := jtStream(100, 65500, 12345, cfg.FrameTS, 0)
			pause := time.Second
			last := talk[99]
			next := jtStream(100, last.seq+1, last.ts+uint32(int64(cfg.ClockRate)*int64(pause+jtTick)/int64(time.Second)), cfg.FrameTS, last.at+pause+jtTick)
			outs := newJtSim(t, j, slices.Concat(talk, next), 5*time.Millisecond).run(260)

			if got, want := jtPlayed(outs), slices.Concat(jtTimestamps(talk), jtTimestamps(next)); !slices.Equal(got, want) {
				t.Fatalf("played %v\nwant   %v", got, want)
			}
			end := slices.IndexFunc(outs, func(o jtOut) bool { return o.ts == last.ts && o.status == FramePlay })
			resume := slices.IndexFunc(outs, func(o jtOut) bool { return o.ts == next[0].ts && o.status == FramePlay })
			gap := jtStatuses(outs[end+1 : resume])
			if !slices.Equal(gap[:4], []FrameStatus{FrameMissing, FrameMissing, FrameMissing, FrameSilent}) ||
				slices.Contains(gap[3:], FrameMissing) || slices.Contains(gap, FramePlay) {
				t.Fatalf("during the pause: %v", gap)
			}
			if d := outs[resume].at - next[0].at; d > time.Duration(j.target)*jtTick {
				t.Fatalf("new spurt started %v after its first packet, target %d frames", d, j.target)
			}
			if s := j.Stats(); s.Resets+s.Late+s.Dropped != 0 || s.Concealed != 6 {
				t.Fatalf("stats %+v", s)
			}
		})
	}
}

// A stream restart (new sequence numbers and timestamps) resets the buffer
// to the new stream, whose every frame, the first included, is played. A
// single stray packet does not.
func TestJitterRestart(t *testing.T) {
	tests := []struct {
		name       string
		cfg        JitterConfig
		dSeq       int   // new stream's first seq minus the old stream's next
		dTS        int64 // likewise for the timestamp
		wantResets uint64
	}{
		{"both far ahead", jtOpus, 20000, 1 << 30, 1},
		{"both far behind", jtOpus, -20000, -1 << 30, 1},
		{"seq ahead, ts behind", jtOpus, 5000, -100000, 1},
		{"seq behind, ts ahead", jtG711, -5000, 100000, 1},
		{"seq continues, ts far behind", jtOpus, 0, -1 << 20, 1},
		{"seq close, ts far ahead", jtG711, 50, 1 << 25, 1},
		{"frames buffered", jtWith(jtOpus, 80*time.Millisecond), 31000, 1 << 31, 1},
		{"seq continues, ts far ahead (a new spurt)", jtOpus, 0, 1 << 20, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			j := NewJitterBuffer(tt.cfg)
			a := jtStream(100, 40000, 2_000_000_000, tt.cfg.FrameTS, 0)
			b := jtStream(100, 40100+uint16(tt.dSeq), uint32(int64(a[99].ts)+int64(tt.cfg.FrameTS)+tt.dTS), tt.cfg.FrameTS, 100*jtTick)
			outs := newJtSim(t, j, slices.Concat(a, b), 5*time.Millisecond).run(215)
			played := jtPlayed(outs)
			cut := slices.Index(played, b[0].ts)
			if cut < 0 || !slices.Equal(played[cut:], jtTimestamps(b)) {
				t.Fatalf("new stream: played %v\nwant %v", played[max(cut, 0):], jtTimestamps(b))
			}
			if !slices.Equal(played[:cut], jtTimestamps(a)[:cut]) {
				t.Fatalf("old stream: played %v", played[:cut])
			}
			s := j.Stats()
			if s.Resets != tt.wantResets || s.Late != 0 || s.Dropped != uint64(len(a)-cut) {
				t.Fatalf("stats %+v, %d old frames played", s, cut)
			}
		})
	}

	strays := []struct {
		name     string
		seq      uint16
		ts       uint32
		wantLate uint64
	}{
		{"far ahead", 30000, 1 << 31, 0},
		{"far behind", 30000, 1000, 1},
		{"seq close, ts far ahead", 40060, 2_000_000_000 + 1<<24, 0},
	}
	for _, tt := range strays {
		t.Run("stray "+tt.name, func(t *testing.T) {
			j := NewJitterBuffer(jtOpus)
			a := jtStream(100, 40000, 2_000_000_000, 960, 0)
			stray := jtPacket{seq: tt.seq, ts: tt.ts, at: a[50].at + 10*time.Millisecond}
			outs := newJtSim(t, j, append(slices.Clone(a), stray), 5*time.Millisecond).run(110)
			if got, want := jtPlayed(outs), jtTimestamps(a); !slices.Equal(got, want) {
				t.Fatalf("played %v\nwant   %v", got, want)
			}
			if s := j.Stats(); s.Resets != 0 || s.Late != tt.wantLate || s.Dropped != 1-tt.wantLate || s.Concealed != 3 {
				t.Fatalf("stats %+v", s)
			}
		})
	}
}

// A payload larger than MaxPayload is dropped and counted (its frame is
// then concealed); MaxPayload itself fits.
func TestJitterOversize(t *testing.T) {
	j := NewJitterBuffer(jtWith(jtOpus, 60*time.Millisecond))
	pkts := jtStream(30, 0, 0, 960, 0)
	pkts[10].size = MaxPayload + 1
	pkts[11].size = MaxPayload
	outs := jtPlaying(t, newJtSim(t, j, pkts, 5*time.Millisecond).run(40))
	if outs[10].status != FrameMissing || outs[11].status != FramePlay || outs[11].ts != pkts[11].ts {
		t.Fatalf("frames 10, 11: %+v", outs[10:12])
	}
	if s := j.Stats(); s.Dropped != 1 || s.Played != 29 {
		t.Fatalf("stats %+v", s)
	}
}

// When more frames arrive than the ring holds, the oldest are dropped and
// counted: they are the excess delay, and the newest keep the latency
// bounded. A frame older than the whole window is refused instead.
func TestJitterOverflow(t *testing.T) {
	t.Run("burst after a stall", func(t *testing.T) {
		// Frames 100..121 are held for 440 ms and arrive together: 22
		// frames for 16 slots while re-buffering.
		j := NewJitterBuffer(jtOpus)
		pkts := jtStream(200, 0, 0, 960, 0)
		for i := 100; i < 122; i++ {
			pkts[i].at = pkts[121].at
		}
		played := jtPlayed(newJtSim(t, j, pkts, 5*time.Millisecond).run(230))
		want := slices.Concat(jtTimestamps(pkts[:100]), jtTimestamps(pkts[106:]))
		s := j.Stats()
		if s.Dropped != 6 || s.Late != 0 {
			t.Fatalf("stats %+v", s)
		}
		if !slices.IsSorted(played) || len(played)+int(s.Skipped) != len(want) || played[100] != pkts[106].ts {
			t.Fatalf("played %v\nwant  %v less skips", played, want)
		}
	})
	t.Run("mixer stalls", func(t *testing.T) {
		// The tick stops for 500 ms while packets keep coming: frames
		// 51..76 arrive for 16 slots while playing.
		j := NewJitterBuffer(jtOpus)
		pkts := jtStream(200, 0, 0, 960, 0)
		sim := newJtSim(t, j, pkts, 5*time.Millisecond)
		played := jtPlayed(sim.run(51))
		sim.clock += 500 * time.Millisecond
		played = append(played, jtPlayed(sim.run(160))...)
		s := j.Stats()
		if s.Dropped != 10 || s.Late != 0 || played[51] != pkts[61].ts || !slices.IsSorted(played) {
			t.Fatalf("stats %+v, played %v", s, played)
		}
		if s.Played+s.Skipped+s.Dropped != uint64(len(pkts)) {
			t.Fatalf("stats %+v", s)
		}
	})
	t.Run("old frame before the window", func(t *testing.T) {
		// Before playout starts, frames 1..16 fill the ring; frame 0,
		// arriving last, would need a seventeenth slot.
		j := NewJitterBuffer(jtWith(jtOpus, 200*time.Millisecond))
		pkts := jtStream(40, 0, 0, 960, 0)
		for i := range 17 {
			pkts[i].at = pkts[16].at + time.Duration(i+16)%17*time.Microsecond
		}
		played := jtPlayed(newJtSim(t, j, pkts, 5*time.Millisecond).run(60))
		if s := j.Stats(); s.Dropped != 1 || !slices.Equal(played, jtTimestamps(pkts[1:])) {
			t.Fatalf("stats %+v, played %v", s, played)
		}
	})
}

// The jitter estimate follows RFC 3550 §6.4.1 in RTP units of either clock,
// and the target delay is one frame plus three times it, in whole frames.
func TestJitterEstimate(t *testing.T) {
	for _, cfg := range []JitterConfig{jtOpus, jtG711} {
		t.Run(jtName(cfg), func(t *testing.T) {
			j := NewJitterBuffer(cfg)
			pkts := jtStream(500, 0, 0, cfg.FrameTS, 0)
			for i := range pkts {
				pkts[i].at += time.Duration(i%2) * 10 * time.Millisecond // |D| = 10 ms every packet
			}
			newJtSim(t, j, pkts, 15*time.Millisecond).run(500)
			s := j.Stats()
			unit := time.Second / time.Duration(cfg.ClockRate) // J is kept in whole RTP units
			if s.Jitter < 10*time.Millisecond-2*unit || s.Jitter > 10*time.Millisecond {
				t.Fatalf("jitter %v, want 10ms", s.Jitter)
			}
			if s.Depth != 60*time.Millisecond { // 20 + 3×10 → 50, rounded up
				t.Fatalf("depth %v, want 60ms", s.Depth)
			}
		})
	}
}

// Reset drops what is buffered, goes silent, and the next packet starts a
// new stream with the jitter estimate forgotten.
func TestJitterReset(t *testing.T) {
	j := NewJitterBuffer(jtWith(jtOpus, 60*time.Millisecond))
	pkts := jtStream(20, 0, 0, 960, 0)
	for i := range pkts {
		pkts[i].at += time.Duration(i%2) * 10 * time.Millisecond
	}
	sim := newJtSim(t, j, pkts, 5*time.Millisecond)
	sim.run(10)
	j.Push(12345, 1<<31, []byte{1}, jtBase+int64(sim.clock)) // a candidate new stream, pending
	before := j.Stats()
	if before.Buffered == 0 || before.Jitter == 0 || !j.candPending {
		t.Fatalf("before: %+v", before)
	}
	j.Reset()
	jtCheckAccounting(t, j)
	if fr := j.Pop(jtBase + int64(sim.clock)); fr.Status != FrameSilent {
		t.Fatalf("after Reset: %v", fr.Status)
	}
	sim.clock += jtTick
	s := j.Stats()
	if s.Buffered != 0 || s.Dropped != uint64(before.Buffered)+1 || s.Resets != 1 || s.Jitter != 0 || s.Depth != 60*time.Millisecond {
		t.Fatalf("after Reset: %+v", s)
	}
	sim.pkts = jtStream(20, 999, 55555, 960, sim.clock)
	sim.next = 0
	if got, want := jtPlayed(sim.run(30)), jtTimestamps(sim.pkts); !slices.Equal(got, want) {
		t.Fatalf("after Reset played %v\nwant %v", got, want)
	}
}

// Statuses print as words in logs.
func TestJitterFrameStatusString(t *testing.T) {
	for s, want := range map[FrameStatus]string{FrameSilent: "silent", FramePlay: "play", FrameMissing: "missing", 9: "unknown"} {
		if got := s.String(); got != want {
			t.Errorf("%d: %q, want %q", s, got, want)
		}
	}
}

// Default and out-of-range configurations are normalized.
func TestJitterConfigDefaults(t *testing.T) {
	tests := []struct {
		name                 string
		cfg                  JitterConfig
		frameTS, min, max    int64
		slots                int
		wantDepth, frameTime time.Duration
	}{
		{"zero", JitterConfig{}, 960, 1, 10, 16, 20 * time.Millisecond, 20 * time.Millisecond},
		{"g711", JitterConfig{ClockRate: 8000}, 160, 1, 10, 16, 20 * time.Millisecond, 20 * time.Millisecond},
		{"big max", JitterConfig{MaxDelay: time.Second, Slots: 8}, 960, 1, 50, 54, 20 * time.Millisecond, 20 * time.Millisecond},
		{"max below min", JitterConfig{MinDelay: 90 * time.Millisecond, MaxDelay: 40 * time.Millisecond}, 960, 5, 5, 16, 100 * time.Millisecond, 20 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			j := NewJitterBuffer(tt.cfg)
			if j.frameTS != tt.frameTS || j.minFrames != tt.min || j.maxFrames != tt.max || len(j.slots) != tt.slots ||
				time.Duration(j.frameDur) != tt.frameTime || j.Stats().Depth != tt.wantDepth {
				t.Fatalf("frameTS %d, frames %d..%d, slots %d, frame %v, depth %v",
					j.frameTS, j.minFrames, j.maxFrames, len(j.slots), time.Duration(j.frameDur), j.Stats().Depth)
			}
		})
	}
}

// Push and Pop allocate nothing once the buffer exists, in steady state
// and with losses, duplicates and reordering.
func TestJitterAllocs(t *testing.T) {
	j := NewJitterBuffer(jtOpus)
	payload := make([]byte, 200)
	var i int
	step := func() {
		seq, ts, now := uint16(i), uint32(i*960), jtBase+int64(i)*int64(jtTick)
		switch {
		case i%17 == 0: // lost
		case i%13 == 0: // duplicated
			j.Push(seq, ts, payload, now)
			j.Push(seq, ts, payload, now)
		case i%11 == 0: // arrives after the next one
			j.Push(seq+1, ts+960, payload, now)
			j.Push(seq, ts, payload, now)
		case i%11 == 1: // already pushed
		default:
			j.Push(seq, ts, payload, now)
		}
		_ = j.Pop(now + int64(5*time.Millisecond))
		_ = j.Stats()
		i++
	}
	for range 200 {
		step()
	}
	if a := testing.AllocsPerRun(2000, step); a != 0 {
		t.Fatalf("%v allocations per Push+Pop", a)
	}
}

// FuzzJitterBuffer feeds random packet sequences, arrival times, pops and
// resets, and checks that nothing panics and the invariants hold: every
// Pop returns a defined status with payloads within MaxPayload, every
// pushed packet is accounted for, the depth stays within its bounds, and
// within one stream frames are played in increasing order.
func FuzzJitterBuffer(f *testing.F) {
	f.Add([]byte{0, 0, 0, 0, 0, 1, 0, 0, 0, 5, 0, 0, 0, 0, 1, 0, 0, 5, 0, 0})
	f.Add([]byte{1, 3, 2, 1, 0, 2, 9, 255, 0, 5, 1, 0, 0, 4, 60, 0, 7, 0, 6, 0, 7, 3, 0, 0})
	f.Add([]byte{0, 7, 255, 255, 9, 4, 0, 0, 1, 7, 1, 2, 3, 2, 0, 0, 0, 5, 0, 0, 6, 0, 0, 0})
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg := jtOpus
		if len(data) > 0 && data[0]&1 == 1 {
			cfg = jtWith(jtG711, 60*time.Millisecond)
		}
		j := NewJitterBuffer(cfg)
		payload := make([]byte, MaxPayload+64)
		var (
			seq0       uint16 = 65000
			ts0        uint32 = 1<<32 - 10*960
			k          int    // the sender's frame counter
			now        = jtBase
			lastF      = int64(-1 << 62)
			lastResets uint64
		)
		for len(data) >= 4 {
			op, a, b, c := data[0], data[1], data[2], data[3]
			data = data[4:]
			switch op % 8 {
			case 0, 1, 2, 3: // the next packet, maybe reordered, duplicated, jittered
				n := k + int(int8(a))%4
				k++
				ts := ts0 + uint32(n)*cfg.FrameTS
				if b%5 == 0 {
					ts += uint32(int8(c))
				}
				j.Push(seq0+uint16(n), ts, payload[:int(b)*6], now+int64(int8(c))*int64(time.Millisecond))
			case 4: // a gap: loss, DTX, or a new stream
				k += int(a)
				if b == 0 {
					seq0 += uint16(c) << 8
					ts0 += uint32(c) << 24
				}
			case 5, 6:
				fr := j.Pop(now)
				now += int64(jtTick) + int64(int8(a))*int64(100*time.Microsecond)
				jtFuzzFrame(t, fr)
				if ep := j.Stats().Resets; ep != lastResets {
					lastResets, lastF = ep, -1<<62
				}
				if fr.Status == FramePlay {
					if f := j.nextF - 1; f <= lastF {
						t.Fatalf("played frame %d after %d", f, lastF)
					} else {
						lastF = f
					}
				}
			case 7:
				if a == 0 {
					j.Reset()
					break
				}
				j.Push(uint16(a)<<8|uint16(b), uint32(c)<<24|uint32(a)<<8, payload[:int(c)], now-int64(b)*int64(time.Millisecond))
			}
			jtCheckAccounting(t, j)
			s := j.Stats()
			if s.Buffered < 0 || s.Buffered > len(j.slots) {
				t.Fatalf("buffered %d of %d slots", s.Buffered, len(j.slots))
			}
			if s.Depth < time.Duration(j.minFrames*j.frameDur) || s.Depth > time.Duration(j.maxFrames*j.frameDur) {
				t.Fatalf("depth %v out of bounds", s.Depth)
			}
		}
	})
}

func jtFuzzFrame(t *testing.T, fr Frame) {
	t.Helper()
	switch fr.Status {
	case FramePlay:
		if fr.Payload == nil || len(fr.Payload) > MaxPayload || fr.Next != nil {
			t.Fatalf("play: payload %d bytes (nil %v), next %v", len(fr.Payload), fr.Payload == nil, fr.Next != nil)
		}
	case FrameMissing:
		if fr.Payload != nil || len(fr.Next) > MaxPayload {
			t.Fatalf("missing: payload %v, next %d bytes", fr.Payload != nil, len(fr.Next))
		}
	case FrameSilent:
		if fr.Payload != nil || fr.Next != nil {
			t.Fatal("silent frame with a payload")
		}
	default:
		t.Fatalf("undefined status %d", fr.Status)
	}
}
