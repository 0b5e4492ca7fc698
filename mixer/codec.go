package mixer

import (
	"errors"
	"fmt"
)

// Codec errors. (They belong in the package's errors.go once it exists.)
var (
	// ErrUnknownCodec is returned by NewDecoder and NewEncoder for a Codec
	// outside the constants in doc.go.
	ErrUnknownCodec = errors.New("mixer: unknown codec")
	// ErrShortBuffer means a pcm or payload buffer cannot hold one 20 ms
	// frame.
	ErrShortBuffer = errors.New("mixer: buffer shorter than one frame")
	// ErrEmptyPayload means Decode was given no payload; a missing frame
	// is Conceal's job.
	ErrEmptyPayload = errors.New("mixer: empty payload")
	// ErrPayloadSize means a G.711 payload is not one 20 ms frame (160
	// bytes). The jitter buffer hands the decoder whole 20 ms frames;
	// confd's SDP asks phones for ptime 20, the default packet size for
	// PCMU and PCMA (RFC 3551 §4.5, Table 1).
	ErrPayloadSize = errors.New("mixer: G.711 payload is not 20 ms")
)

// opusPayloadType is confd's choice for Opus: RFC 7587 assigns it no
// static number, and 111 is what browsers offer, so answers rarely need
// to remap it.
const opusPayloadType = 111

// PayloadType returns the RTP payload type confd uses for c: the static
// 0 and 8 of RFC 3551 §6 for PCMU and PCMA, and the dynamic 111 for Opus.
// An unknown codec returns 255, which no RTP packet can carry (the field
// has 7 bits).
func (c Codec) PayloadType() uint8 {
	switch c {
	case CodecOpus:
		return opusPayloadType
	case CodecPCMU:
		return 0
	case CodecPCMA:
		return 8
	}
	return 255
}

// ClockRate returns c's RTP clock rate in Hz: 48000 for Opus whatever the
// audio bandwidth (RFC 7587 §4.1), 8000 for G.711 (RFC 3551 §6); 0 for an
// unknown codec.
func (c Codec) ClockRate() uint32 {
	switch c {
	case CodecOpus:
		return SampleRate
	case CodecPCMU, CodecPCMA:
		return NarrowRate
	}
	return 0
}

// FrameTimestamp returns the RTP timestamp increment of one 20 ms frame:
// 960 for Opus, 160 for G.711; 0 for an unknown codec.
func (c Codec) FrameTimestamp() uint32 {
	return c.ClockRate() * FrameMillis / 1000
}

// NewDecoder returns a decoder from c to 48 kHz mono.
func NewDecoder(c Codec) (Decoder, error) {
	switch c {
	case CodecOpus:
		return NewOpusDecoder()
	case CodecPCMU:
		return &g711Decoder{expand: DecodeULaw}, nil
	case CodecPCMA:
		return &g711Decoder{expand: DecodeALaw}, nil
	}
	return nil, fmt.Errorf("%w: %d", ErrUnknownCodec, int(c))
}

// NewEncoder returns an encoder from 48 kHz mono to c.
func NewEncoder(c Codec) (Encoder, error) {
	switch c {
	case CodecOpus:
		return NewOpusEncoder()
	case CodecPCMU:
		return &g711Encoder{compress: EncodeULaw}, nil
	case CodecPCMA:
		return &g711Encoder{compress: EncodeALaw}, nil
	}
	return nil, fmt.Errorf("%w: %d", ErrUnknownCodec, int(c))
}

var (
	_ Decoder = (*OpusDecoder)(nil)
	_ Encoder = (*OpusEncoder)(nil)
	_ Decoder = (*g711Decoder)(nil)
	_ Encoder = (*g711Encoder)(nil)
)

// g711Decoder expands 160 G.711 characters and upsamples them to 960
// samples at 48 kHz.
type g711Decoder struct {
	expand func(dst []int16, src []byte) int
	up     Upsampler
	narrow [NarrowFrameSamples]int16
}

// Decode expands one 160-byte frame and upsamples it into pcm[:960].
func (d *g711Decoder) Decode(payload []byte, pcm []int16) (int, error) {
	if len(pcm) < FrameSamples {
		return 0, ErrShortBuffer
	}
	if len(payload) != NarrowFrameSamples {
		if len(payload) == 0 {
			return 0, ErrEmptyPayload
		}
		return 0, ErrPayloadSize
	}
	d.expand(d.narrow[:], payload)
	return d.up.Process(pcm[:FrameSamples], d.narrow[:]), nil
}

// Conceal plays silence: G.711 carries nothing to conceal from (ITU-T
// G.711 Appendix I's waveform substitution could replace this one day).
// The silence still goes through the upsampler, so the last
// real frame's filter tail rings out instead of being cut off with a
// click, and the next real frame starts from consistent history.
func (d *g711Decoder) Conceal(pcm []int16) (int, error) {
	if len(pcm) < FrameSamples {
		return 0, ErrShortBuffer
	}
	clear(d.narrow[:])
	return d.up.Process(pcm[:FrameSamples], d.narrow[:]), nil
}

// Recover always fails: G.711 carries no redundancy.
func (d *g711Decoder) Recover([]byte, []int16) (int, bool) { return 0, false }

// g711Encoder downsamples 960 samples to 160 and compresses them.
type g711Encoder struct {
	compress func(dst []byte, pcm []int16) int
	down     Downsampler
	narrow   [NarrowFrameSamples]int16
}

// Encode downsamples pcm[:960] and writes 160 characters to payload.
func (e *g711Encoder) Encode(pcm []int16, payload []byte) (int, error) {
	if len(pcm) < FrameSamples || len(payload) < NarrowFrameSamples {
		return 0, ErrShortBuffer
	}
	e.down.Process(e.narrow[:], pcm[:FrameSamples])
	return e.compress(payload[:NarrowFrameSamples], e.narrow[:]), nil
}
