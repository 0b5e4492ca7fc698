package mixer

import "time"

// FrameStatus tells the mixer what to do with the frame a JitterBuffer
// hands it for one tick.
type FrameStatus uint8

// Frame statuses. FrameSilent is the zero value, so a zero Frame is silence.
const (
	// FrameSilent: nothing to play. The input has not started, is
	// re-buffering after an underrun, or has stopped sending.
	FrameSilent FrameStatus = iota
	// FramePlay: decode Payload.
	FramePlay
	// FrameMissing: the frame due now is missing; conceal it (Opus PLC, or
	// Opus in-band FEC from Next when Next is set).
	FrameMissing
)

func (s FrameStatus) String() string {
	switch s {
	case FrameSilent:
		return "silent"
	case FramePlay:
		return "play"
	case FrameMissing:
		return "missing"
	}
	return "unknown"
}

// Frame is what JitterBuffer.Pop returns for one 20 ms tick. Payload and
// Next point into the buffer's slots: they are valid only until the next
// Push, Pop or Reset call.
type Frame struct {
	Status  FrameStatus
	Payload []byte // FramePlay: the encoded frame
	Next    []byte // FrameMissing: the following frame if already buffered (for FEC), else nil
	Arrival int64  // FramePlay: when the packet was pushed (its now), for latency accounting
}

// JitterConfig configures a JitterBuffer. Zero fields take their defaults.
type JitterConfig struct {
	ClockRate uint32        // RTP clock: 48000 (Opus, default) or 8000 (G.711)
	FrameTS   uint32        // RTP timestamp step of one 20 ms frame: 960 or 160 (default ClockRate/50)
	MinDelay  time.Duration // default 20 ms
	MaxDelay  time.Duration // default 200 ms; raised to MinDelay if smaller
	Slots     int           // capacity in frames: default 16, raised to MaxDelay/frame + 4 if smaller
}

// JitterStats are a JitterBuffer's counters. Every pushed packet ends up in
// exactly one of Played, Late, Duplicates, Dropped or Skipped, or is still
// Buffered (or held for one packet while a stream change is confirmed).
type JitterStats struct {
	Pushed     uint64 // Push calls
	Played     uint64 // frames returned as FramePlay
	Concealed  uint64 // FrameMissing returned
	Late       uint64 // packets whose frame was already played or concealed
	Duplicates uint64 // packets whose frame was already buffered or played
	Dropped    uint64 // too big, overflowed the ring, or discarded by a reset
	Skipped    uint64 // buffered frames skipped to shrink an excess delay
	Resets     uint64 // Reset calls and detected stream changes
	Buffered   int    // frames held now

	Depth  time.Duration // current target delay
	Jitter time.Duration // RFC 3550 interarrival jitter estimate
}

// Heuristics; each is explained where it is used.
const (
	jitterDefaultMinDelay = 20 * time.Millisecond
	jitterDefaultMaxDelay = 200 * time.Millisecond
	jitterDefaultSlots    = 16
	jitterSlotMargin      = 4   // ring frames beyond MaxDelay
	jitterMaxHolds        = 3   // concealed ticks on an empty buffer before going silent
	jitterShrinkAfter     = 50  // ticks (1 s) of excess depth before one frame is skipped
	jitterSeqJump         = 100 // RFC 3550 A.1 MAX_MISORDER
	jitterConfirmSeq      = 3   // sequence steps that still count as "the next packet"
)

type jitterMode uint8

const (
	jitterIdle      jitterMode = iota // no stream yet
	jitterBuffering                   // prefilling, first or after an underrun
	jitterPlaying                     // one frame per Pop
)

type jitterSlotState uint8

const (
	slotEmpty  jitterSlotState = iota
	slotFilled                 // buffered, not played yet
	slotDone                   // played or skipped; kept to recognise duplicates
)

// jitterSlot holds one frame. buf is preallocated, MaxPayload long.
type jitterSlot struct {
	f       int64 // frame number: (extended timestamp - origin) / FrameTS
	arrival int64
	state   jitterSlotState
	n       int
	buf     []byte
}

func (s *jitterSlot) has(f int64) bool { return s.state == slotFilled && s.f == f }

// JitterBuffer reorders one input's RTP packets and hands the mixer one
// 20 ms frame per tick, adapting its delay to the network's jitter. Frames
// are numbered by RTP timestamp (extended to 64 bits), so the order is the
// sender's clock, not arrival.
//
// It is not safe for concurrent use: the mixer's Member wraps it in a
// mutex. Push and Pop do not allocate.
type JitterBuffer struct {
	clockRate int64
	frameTS   int64
	frameDur  int64 // ns
	minFrames int64
	maxFrames int64

	slots []jitterSlot

	// A packet that looks like the start of a new stream, kept until the
	// next packet confirms it (see classify).
	cand        jitterSlot
	candSeq     uint16
	candTS      uint32
	candPending bool
	candLate    bool // it was behind the playout point: counted Late if refuted

	mode     jitterMode
	hasFloor bool  // nextF is meaningful: playing, or re-buffering after playing
	origin   int64 // extended timestamp of frame 0
	highSeq  int64 // newest extended sequence number accepted
	highTS   int64 // newest extended timestamp accepted
	highF    int64 // newest frame accepted
	nextF    int64 // next frame to play; while re-buffering, older frames are late
	minF     int64 // oldest buffered frame (kept while buffering)
	count    int   // buffered frames
	holds    int   // consecutive ticks concealed on an empty buffer
	excess   int   // consecutive ticks with more than target+1 frames buffered

	jitter16    int64 // RFC 3550 J in RTP units, scaled by 16 (A.8)
	transit     int64
	haveTransit bool
	target      int64 // frames

	stats JitterStats
}

// NewJitterBuffer returns an empty buffer; all its memory is allocated here.
func NewJitterBuffer(cfg JitterConfig) *JitterBuffer {
	j := &JitterBuffer{clockRate: int64(cfg.ClockRate), frameTS: int64(cfg.FrameTS)}
	if j.clockRate == 0 {
		j.clockRate = SampleRate
	}
	if j.frameTS == 0 {
		j.frameTS = max(1, j.clockRate*FrameMillis/1000)
	}
	j.frameDur = j.frameTS * int64(time.Second) / j.clockRate
	minDelay, maxDelay := cfg.MinDelay, cfg.MaxDelay
	if minDelay <= 0 {
		minDelay = jitterDefaultMinDelay
	}
	if maxDelay <= 0 {
		maxDelay = jitterDefaultMaxDelay
	}
	// Whole frames: MinDelay rounded up, MaxDelay rounded down (but never
	// below MinDelay), so the target stays inside what was asked for.
	j.minFrames = max(1, (int64(minDelay)+j.frameDur-1)/j.frameDur)
	j.maxFrames = max(j.minFrames, int64(maxDelay)/j.frameDur)
	j.target = j.minFrames

	// The ring must hold MaxDelay of frames plus a margin for the packets
	// that keep arriving while the buffer is at its deepest (a burst after
	// a delay spike), or the burst would overflow it.
	n := cfg.Slots
	if n <= 0 {
		n = jitterDefaultSlots
	}
	n = max(n, int(j.maxFrames)+jitterSlotMargin)
	mem := make([]byte, (n+1)*MaxPayload)
	j.slots = make([]jitterSlot, n)
	for i := range j.slots {
		j.slots[i].buf = mem[i*MaxPayload : (i+1)*MaxPayload : (i+1)*MaxPayload]
	}
	j.cand.buf = mem[n*MaxPayload:]
	return j
}

// Stats returns the counters and the current estimates.
func (j *JitterBuffer) Stats() JitterStats {
	s := j.stats
	s.Buffered = j.count
	s.Depth = time.Duration(j.target * j.frameDur)
	s.Jitter = time.Duration((j.jitter16 >> 4) * int64(time.Second) / j.clockRate)
	return s
}

// idle reports that nothing is buffered and Pop would change nothing: the
// buffer waits for a packet (it is not playing out an underrun).
func (j *JitterBuffer) idle() bool { return j.count == 0 && j.mode != jitterPlaying }

// Reset forgets the stream: buffered frames are dropped, the jitter
// estimate starts over and the next packet starts a new stream.
func (j *JitterBuffer) Reset() {
	j.discard()
	if j.candPending {
		j.candPending = false
		j.stats.Dropped++
	}
	j.mode = jitterIdle
	j.jitter16, j.haveTransit = 0, false
	j.target = j.minFrames
	j.stats.Resets++
}

// Push stores one packet. The payload is copied into a preallocated slot;
// one larger than MaxPayload is dropped. now is the arrival time in
// nanoseconds of a monotonic clock.
func (j *JitterBuffer) Push(seq uint16, ts uint32, payload []byte, now int64) {
	j.stats.Pushed++
	if len(payload) > MaxPayload {
		j.stats.Dropped++
		return
	}
	if j.mode == jitterIdle {
		j.begin(seq, ts)
	} else if j.candPending {
		j.resolveCandidate(seq, ts)
	}
	extSeq := extendSeq16(seq, j.highSeq)
	extTS := extendTS32(ts, j.highTS)
	f := j.frameOf(extTS)
	switch j.classify(f, extSeq-j.highSeq) {
	case jitterCandidate:
		j.propose(seq, ts, f, payload, now)
		return
	case jitterResync:
		// A new talk spurt after a pause (DTX, VAD): start it afresh
		// rather than concealing the gap. Frames before nextF stay late.
		j.mode = jitterBuffering
	}
	j.accept(f, extSeq, extTS, payload, now)
}

type jitterAction uint8

const (
	jitterNormal    jitterAction = iota
	jitterResync                 // same stream, new talk spurt: re-buffer from this packet
	jitterCandidate              // maybe a new stream: wait for the next packet
)

// classify tells a packet of the current stream from the first packet of a
// new one. dSeq is its sequence number minus the newest accepted one.
//
// A sequence number more than MAX_MISORDER away, a timestamp that ran ahead
// of the sequence number by more than MaxDelay (other than a new talk
// spurt, below), and a newer sequence number with an already played
// timestamp (time went backwards) are discontinuities: a sender restart, an SSRC change behind a
// gateway, or a long outage. Like RFC 3550 A.1's probation, the change is
// believed only when the next packet continues it, so one stray packet
// cannot flush the buffer; when it is confirmed the buffer resets to the
// new stream instead of concealing up to it or dropping it all as late.
//
// A timestamp jump with the sequence number continuing (the next one, or a
// few if the spurt's first packets were lost or reordered) and nothing
// buffered is a talker resuming after silence (Opus DTX, G.711 VAD):
// re-sync to it at once, without a reset.
func (j *JitterBuffer) classify(f, dSeq int64) jitterAction {
	if dSeq > jitterSeqJump || dSeq < -jitterSeqJump {
		return jitterCandidate
	}
	if f-j.highF-max(dSeq, 0) > j.maxFrames {
		if j.count == 0 && dSeq >= 1 && dSeq <= jitterConfirmSeq {
			return jitterResync
		}
		return jitterCandidate
	}
	if j.hasFloor && f < j.nextF && dSeq > 0 {
		return jitterCandidate
	}
	return jitterNormal
}

// propose keeps a packet that may start a new stream.
func (j *JitterBuffer) propose(seq uint16, ts uint32, f int64, payload []byte, now int64) {
	j.candPending = true
	j.candSeq, j.candTS = seq, ts
	j.candLate = j.hasFloor && f < j.nextF
	j.cand.n = copy(j.cand.buf, payload)
	j.cand.arrival = now
}

// resolveCandidate adopts the pending candidate as a new stream if this
// packet (seq, ts) continues it; otherwise the candidate was a stray packet.
func (j *JitterBuffer) resolveCandidate(seq uint16, ts uint32) {
	j.candPending = false
	ds := seq - j.candSeq
	dt := int64(int32(ts - j.candTS))
	if ds >= 1 && ds <= jitterConfirmSeq && dt > 0 && dt <= j.maxFrames*j.frameTS {
		j.discard()
		j.stats.Resets++
		j.begin(j.candSeq, j.candTS)
		j.accept(0, j.highSeq, j.highTS, j.cand.buf[:j.cand.n], j.cand.arrival)
		return
	}
	if j.candLate {
		j.stats.Late++
	} else {
		j.stats.Dropped++
	}
}

// begin starts a stream at packet (seq, ts), which becomes frame 0.
func (j *JitterBuffer) begin(seq uint16, ts uint32) {
	j.mode = jitterBuffering
	j.hasFloor = false
	j.highSeq, j.highTS, j.origin = int64(seq), int64(ts), int64(ts)
	j.highF, j.nextF, j.minF = 0, 0, 0
	j.holds, j.excess = 0, 0
	// The new stream's timestamps have a new base: the transit time of the
	// old one means nothing to it. The jitter estimate is kept: it is the
	// same network path.
	j.haveTransit = false
}

// discard drops every buffered frame.
func (j *JitterBuffer) discard() {
	j.stats.Dropped += uint64(j.count)
	j.count = 0
	for i := range j.slots {
		j.slots[i].state = slotEmpty
	}
}

// accept files a packet of the current stream as duplicate, late, or
// buffered.
func (j *JitterBuffer) accept(f, extSeq, extTS int64, payload []byte, now int64) {
	s := j.slotFor(f)
	if s.state != slotEmpty && s.f == f {
		j.stats.Duplicates++
		return
	}
	// Late packets still measure the network, so they feed the estimate.
	j.observe(extTS, now)
	if j.hasFloor && f < j.nextF {
		j.stats.Late++
		return
	}
	if !j.makeRoom(f) {
		j.stats.Dropped++
		return
	}
	s.f, s.arrival, s.state = f, now, slotFilled
	s.n = copy(s.buf, payload)
	if j.count == 0 || f < j.minF {
		j.minF = f
	}
	j.count++
	j.highSeq = max(j.highSeq, extSeq)
	j.highTS = max(j.highTS, extTS)
	j.highF = max(j.highF, f)
}

// makeRoom makes frame f fit in the ring. When it does not, the oldest
// frames go: they are the excess delay, and keeping the newest keeps the
// latency bounded. A frame older than the whole window while pre-filling
// is refused instead.
func (j *JitterBuffer) makeRoom(f int64) bool {
	n := int64(len(j.slots))
	if j.mode == jitterPlaying {
		if f-j.nextF >= n {
			j.dropBefore(j.nextF, f-n+1)
			j.nextF = f - n + 1
		}
		return true
	}
	if j.count == 0 || max(j.highF, f)-min(j.minF, f) < n {
		return true
	}
	if f < j.minF {
		return false
	}
	j.dropBefore(j.minF, f-n+1)
	j.nextF, j.hasFloor = f-n+1, true
	j.minF = f
	for g := j.nextF; g < f; g++ {
		if j.slotFor(g).has(g) {
			j.minF = g
			break
		}
	}
	return true
}

// dropBefore drops the buffered frames in [from, to).
func (j *JitterBuffer) dropBefore(from, to int64) {
	to = min(to, from+int64(len(j.slots)))
	for g := from; g < to; g++ {
		if s := j.slotFor(g); s.has(g) {
			s.state = slotEmpty
			j.count--
			j.stats.Dropped++
		}
	}
}

// observe updates the interarrival jitter estimate (RFC 3550 §6.4.1 and
// A.8) and the target delay from it.
func (j *JitterBuffer) observe(extTS, now int64) {
	transit := j.toRTP(now) - extTS
	if j.haveTransit {
		d := transit - j.transit
		if d < 0 {
			d = -d
		}
		// One pathological packet (queued for seconds somewhere) must not
		// pin the delay at MaxDelay for long; a step beyond MaxDelay could
		// not be absorbed anyway.
		d = min(d, j.maxFrames*j.frameTS)
		j.jitter16 += d - (j.jitter16+8)>>4
	}
	j.transit, j.haveTransit = transit, true

	// One frame covers the phase between arrivals and ticks; three times
	// the mean deviation covers most of the arrival spread without the
	// delay of covering every outlier (those are concealed instead).
	jit := j.jitter16 >> 4
	frames := 1 + (3*jit+j.frameTS-1)/j.frameTS
	j.target = min(max(frames, j.minFrames), j.maxFrames)
}

// toRTP converts nanoseconds to RTP clock units without overflowing.
func (j *JitterBuffer) toRTP(ns int64) int64 {
	sec, rem := ns/int64(time.Second), ns%int64(time.Second)
	return sec*j.clockRate + rem*j.clockRate/int64(time.Second)
}

// Pop returns what to play for this tick; now is the tick time in
// nanoseconds on the clock Push uses.
func (j *JitterBuffer) Pop(now int64) Frame {
	switch j.mode {
	case jitterPlaying:
		return j.popPlaying()
	case jitterBuffering:
		if j.prefilled(now) {
			j.mode = jitterPlaying
			j.nextF, j.hasFloor = j.minF, true
			j.holds, j.excess = 0, 0
			return j.popPlaying()
		}
	}
	return Frame{}
}

// prefilled reports whether playout may start: the buffered span reached
// the target, or the oldest frame has waited as long as the target delay.
// The second rule plays isolated packets (Opus DTX comfort noise every
// 400 ms, a spurt shorter than the target) instead of holding them until
// more arrive.
func (j *JitterBuffer) prefilled(now int64) bool {
	if j.count == 0 {
		return false
	}
	return j.highF-j.minF+1 >= j.target || now-j.slotFor(j.minF).arrival >= j.target*j.frameDur
}

func (j *JitterBuffer) popPlaying() Frame {
	if j.count == 0 {
		return j.underrun()
	}
	j.holds = 0
	j.shrink()
	f := j.nextF
	j.nextF++
	if s := j.slotFor(f); s.has(f) {
		s.state = slotDone
		j.count--
		j.stats.Played++
		return Frame{Status: FramePlay, Payload: s.buf[:s.n], Arrival: s.arrival}
	}
	// A hole with later frames buffered: the frame is lost or later than
	// the target delay allows. Conceal it and move on; never stall.
	j.stats.Concealed++
	fr := Frame{Status: FrameMissing}
	if s := j.slotFor(f + 1); s.has(f + 1) {
		fr.Next = s.buf[:s.n]
	}
	return fr
}

// underrun handles a tick with nothing buffered. The frame due may only be
// late, so it is concealed without advancing the playout point: each such
// tick adds one frame of delay, which is how the buffer grows quickly when
// the network slows down, and a delayed burst is then played rather than
// dropped as late. After jitterMaxHolds ticks it is more likely a pause
// (DTX) or a lost tail: concealing longer would only smear, so the input
// goes silent and re-buffers, re-syncing to whatever timestamps come next.
func (j *JitterBuffer) underrun() Frame {
	j.excess = 0
	if j.holds < jitterMaxHolds {
		j.holds++
		j.stats.Concealed++
		return Frame{Status: FrameMissing}
	}
	j.holds = 0
	j.mode = jitterBuffering
	return Frame{}
}

// shrink skips one frame when more than target+1 frames have been buffered
// for jitterShrinkAfter consecutive ticks. The +1 leaves room for the
// phase between arrivals and ticks; waiting a second ignores a passing
// burst; one frame at a time keeps each cut a single 20 ms glitch while the
// delay drains slowly after the network calms down.
func (j *JitterBuffer) shrink() {
	if j.highF-j.nextF+1 <= j.target+1 {
		j.excess = 0
		return
	}
	j.excess++
	if j.excess < jitterShrinkAfter {
		return
	}
	j.excess = 0
	if s := j.slotFor(j.nextF); s.has(j.nextF) {
		s.state = slotDone
		j.count--
		j.stats.Skipped++
	}
	j.nextF++
}

// frameOf numbers a frame by its extended timestamp, rounding a timestamp
// off the frame grid to the nearest frame.
func (j *JitterBuffer) frameOf(extTS int64) int64 {
	d := extTS - j.origin + j.frameTS/2
	q := d / j.frameTS
	if d%j.frameTS < 0 {
		q--
	}
	return q
}

func (j *JitterBuffer) slotFor(f int64) *jitterSlot {
	n := int64(len(j.slots))
	return &j.slots[((f%n)+n)%n]
}

// extendSeq16 places a 16-bit sequence number next to ref, the nearest
// value with the same low bits (RFC 3550 A.1).
func extendSeq16(seq uint16, ref int64) int64 {
	return ref + int64(int16(seq-uint16(ref)))
}

// extendTS32 places a 32-bit RTP timestamp next to ref likewise.
func extendTS32(ts uint32, ref int64) int64 {
	return ref + int64(int32(ts-uint32(ref)))
}
