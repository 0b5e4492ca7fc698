package mixer

import (
	"sync"
	"sync/atomic"
)

// PacketWriter receives a member's encoded 20 ms frames, one per tick. It is
// called on the mixer goroutine: payload is valid only during the call, and
// the call must not block (queue or drop instead).
type PacketWriter interface {
	WriteFrame(payload []byte) error
}

// DTXWriter is a PacketWriter that may be sent nothing while its listener
// hears silence (Opus DTX, RFC 7587 §3.1.3): the mixer sends the first
// silent frame, then one every DTXKeepalive frames, and calls SkipFrame for
// each frame it leaves out, so that the next packet's timestamp is where
// it belongs. An idle listener so costs 2.5 packets a second, not 50.
type DTXWriter interface {
	PacketWriter
	SkipFrame()
}

// DTXKeepalive is how often, in frames, a listener hearing silence is
// still sent a silent frame (every 400 ms, as Opus's own DTX does).
const DTXKeepalive = 20

// MemberOptions describe a member's audio.
type MemberOptions struct {
	// In is the codec the member sends; HasInput false means it sends no
	// audio (a screen share, a listen-only member).
	In       Codec
	HasInput bool
	// Out is the codec the member hears, written to Writer; a nil Writer
	// means it hears nothing.
	Out    Codec
	Writer PacketWriter
}

// Member is one participant's audio: an input into the mix and an output
// with the mix minus its own voice. Control methods may be called from any
// goroutine.
type Member struct {
	id   int
	mix  *Mixer
	opts MemberOptions

	inMu   sync.Mutex // guards jb and level between Push and the tick
	jb     *JitterBuffer
	level  int // RFC 6464 level of the newest packet, -dBov 0..127; -1 unknown
	pushed atomic.Uint64

	muted, deaf, held, removed atomic.Bool
	// talk is the latest talk state for Events (bit 0 talking, the score
	// above it), talkDue whether it changed since it was last delivered.
	talk         atomic.Uint32
	talkDue      atomic.Bool
	gain, volume atomic.Int32 // levels -4..+4

	// Owned by the mixer goroutine.
	dec     Decoder
	enc     Encoder // this member's mix-minus encoder, used while it speaks
	pcm     [FrameSamples]int16
	frame   Frame
	pkt     [MaxPayload]byte // this tick's input frame
	next    [MaxPayload]byte // the frame after it, for FEC
	encoded [MaxPayload]byte // this member's mix-minus frame
	lim     limiter
	decoded bool
	vad     activity
	out     *output   // the shared output this member currently listens to, nil while it speaks
	silent  int       // silent frames in a row this member was sent or skipped (DTX)
	echo    *echoLine // the echo test's delay line (Config.EchoDelay); nil in a mix
}

// ID is the member's ID as given to Add.
func (mb *Member) ID() int { return mb.id }

// Push hands one received RTP packet to the member's input. level is the
// RFC 6464 audio level (-dBov, 0 loudest..127 silence) or -1 when the
// packet carries none. payload is copied.
func (mb *Member) Push(seq uint16, ts uint32, payload []byte, level int, now int64) {
	if mb.jb == nil {
		return
	}
	mb.inMu.Lock()
	mb.jb.Push(seq, ts, payload, now)
	mb.level = level
	mb.inMu.Unlock()
	mb.pushed.Add(1)
	mb.mix.unpark()
}

// inputIdle reports whether the input has nothing to play and no tick
// would change that: nothing buffered, and not playing (a playing buffer
// still counts its ticks of underrun).
func (mb *Member) inputIdle() bool {
	mb.inMu.Lock()
	defer mb.inMu.Unlock()
	return mb.jb.idle()
}

// SetMuted stops (or resumes) mixing the member's input, whatever it sends.
func (mb *Member) SetMuted(v bool) { mb.muted.Store(v) }

// SetDeaf makes the member hear silence (or the mix again).
func (mb *Member) SetDeaf(v bool) { mb.deaf.Store(v) }

// SetHold takes the member out of the mix both ways while its call is on hold.
func (mb *Member) SetHold(v bool) { mb.held.Store(v) }

// SetGain sets the input gain level, -4..+4 (FreeSWITCH's volume_in); each
// step is about 3 dB.
func (mb *Member) SetGain(level int) { mb.gain.Store(int32(clampLevel(level))) }

// SetVolume sets what the member hears, -4..+4 (FreeSWITCH's volume_out).
func (mb *Member) SetVolume(level int) { mb.volume.Store(int32(clampLevel(level))) }

// Muted, Deaf, Gain and Volume report the member's state.
func (mb *Member) Muted() bool { return mb.muted.Load() }

// Deaf reports whether the member hears silence.
func (mb *Member) Deaf() bool { return mb.deaf.Load() }

// Gain is the input gain level.
func (mb *Member) Gain() int { return int(mb.gain.Load()) }

// Volume is the output volume level.
func (mb *Member) Volume() int { return int(mb.volume.Load()) }

func clampLevel(l int) int { return max(-4, min(4, l)) }

// levelQ8 are the gains for levels -4..+4 in Q8 fixed point, about 3 dB a
// step (×√2), so that ±4 spans a quarter to four times the amplitude.
var levelQ8 = [9]int32{64, 91, 128, 181, 256, 362, 512, 724, 1024}

func levelGain(level int32) int32 { return levelQ8[level+4] }

// mixable reports whether the member's voice may be mixed this tick.
func (mb *Member) mixable() bool {
	return !mb.muted.Load() && !mb.held.Load() && !mb.removed.Load()
}

// takeFrame pops this tick's frame under the input lock, copying what the
// tick will decode out of the jitter buffer's slots.
func (mb *Member) takeFrame(now int64) (status FrameStatus, level int) {
	mb.inMu.Lock()
	defer mb.inMu.Unlock()
	f := mb.jb.Pop(now)
	mb.frame = Frame{Status: f.Status, Arrival: f.Arrival}
	switch f.Status {
	case FramePlay:
		mb.frame.Payload = mb.pkt[:copy(mb.pkt[:], f.Payload)]
	case FrameMissing:
		if f.Next != nil {
			mb.frame.Next = mb.next[:copy(mb.next[:], f.Next)]
		}
	}
	return f.Status, mb.level
}
