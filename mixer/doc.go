// Package mixer is confd's audio: every member's audio is decoded into the
// room's mix, and every listener receives one stream of everyone else.
//
// Inputs (one per member that sends audio) hold a jitter buffer and a
// decoder; network goroutines Push packets into them. The Mixer runs one
// goroutine per room on its own 20 ms clock: each tick it takes one frame
// from every active input (concealing a missing one), picks the loudest few
// with hysteresis, sums them into int32, and encodes each distinct output
// once: one shared mix per codec for listeners who are not speaking, and a
// mix-minus (the sum without their own voice) for each speaker. The cost so
// grows with the number of speakers, not members.
//
// Goroutines and ownership:
//
//	goroutine             count       owns                                            stops on
//	Mixer.run             1 per room  the clock, the sum buffer, decoders, encoders   Close
//	Mixer.deliverEvents   1 per room  calling Events with the mailbox's changes       Close
//
// The tick never calls out of the mixer but to write packets: who talks and
// who holds the floor go into a latest-value mailbox (atomics on the
// members and the mixer) and the delivery goroutine hands them to Events,
// so the room's work for a talk change (its lock, its slots, its rows)
// never delays a tick.
//
// A silent room parks the clock (park.go): with nothing buffered, nobody
// talking and every listener on DTX, Mixer.run sleeps from one DTX
// keep-alive to the next, and Push, Add, Remove or SetTap wakes it.
//
// Input.Push is called from the caller's goroutine (a track reader or a SIP
// socket reader); it only copies the payload into the jitter buffer under
// the input's small lock. Outputs are written from the mixer goroutine
// through PacketWriter, which must not block.
//
// A Tap (tap.go), set by a recorder, is shown each tick's input frames,
// the shared mix and the talking changes on the mixer goroutine; it only
// copies. With Config.EchoDelay the mixer is the echo test (echo.go): no
// mix, each member hears its own voice that much later.
//
// This package imports none of pion/webrtc, room, forwarder or dialin.
package mixer

// Audio constants: the mix runs at 48 kHz mono in 20 ms frames.
const (
	SampleRate   = 48000
	FrameMillis  = 20
	FrameSamples = SampleRate * FrameMillis / 1000 // 960

	// NarrowRate is G.711's sample rate; a 20 ms G.711 frame has 160 samples.
	NarrowRate         = 8000
	NarrowFrameSamples = NarrowRate * FrameMillis / 1000

	// MaxPayload bounds one encoded frame.
	MaxPayload = 1500
)

// Codec is an input or output encoding.
type Codec int

// Codecs.
const (
	CodecOpus Codec = iota // RFC 7587, 48 kHz
	CodecPCMU              // G.711 µ-law, 8 kHz
	CodecPCMA              // G.711 A-law, 8 kHz
)

func (c Codec) String() string {
	switch c {
	case CodecOpus:
		return "opus"
	case CodecPCMU:
		return "PCMU"
	case CodecPCMA:
		return "PCMA"
	}
	return "unknown"
}

// Decoder turns one encoded 20 ms frame into FrameSamples of 48 kHz mono.
// Implementations keep state (resampler history, Opus decoder) and are used
// by one goroutine at a time.
type Decoder interface {
	// Decode decodes payload into pcm (len FrameSamples) and returns the
	// number of samples written.
	Decode(payload []byte, pcm []int16) (int, error)
	// Conceal fills pcm for a missing frame: Opus packet-loss concealment,
	// silence for G.711.
	Conceal(pcm []int16) (int, error)
	// Recover fills pcm for a missing frame from the in-band FEC of next,
	// the frame after it; ok is false when the codec or packet has none.
	Recover(next []byte, pcm []int16) (n int, ok bool)
}

// Encoder turns FrameSamples of 48 kHz mono into one encoded frame.
type Encoder interface {
	Encode(pcm []int16, payload []byte) (int, error)
}
