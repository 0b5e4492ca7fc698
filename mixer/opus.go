package mixer

import (
	"fmt"

	"github.com/hraban/opus"
)

// Opus (RFC 6716) through libopus, carried in RTP per RFC 7587: the RTP
// clock is always 48 kHz, whatever bandwidth the encoder chooses, so a
// 20 ms frame advances the timestamp by 960.
//
// github.com/hraban/opus passes cap(pcm), not len(pcm), to libopus as the
// frame size, and cap(payload) as the largest packet it may write. Every
// call below therefore reslices with a full slice expression (s[:n:n]), so
// libopus sees exactly one 20 ms frame and never writes past what the
// caller passed.

const (
	// opusBitrate is the default output bitrate: inside the 28–40 kb/s
	// that RFC 7587 §3.1.1 recommends for full-band speech, with room for
	// the in-band FEC copy of the previous frame.
	opusBitrate = 32000
	// opusLossPercent tells the encoder to expect 10 % loss. libopus only
	// spends bits on in-band FEC (LBRR) when this hint is non-zero, and
	// the higher it is, the more it spends; 10 % protects against the
	// occasional burst without taking much from the primary frame.
	opusLossPercent = 10
	// opusComplexity trades encoder CPU for quality. libopus defaults to 10;
	// at 5 a 20 ms voice frame encodes several times faster and the
	// difference is hard to hear at 32 kb/s, and a mixer encodes once per
	// speaker and codec every 20 ms (measured with BenchmarkMixer).
	opusComplexity = 5
)

// OpusDecoder decodes 48 kHz mono Opus. A stereo packet (a browser may
// send one although confd's SDP asks for mono) is downmixed by libopus.
// One goroutine at a time.
type OpusDecoder struct {
	dec *opus.Decoder
}

// NewOpusDecoder returns a 48 kHz mono decoder.
func NewOpusDecoder() (*OpusDecoder, error) {
	dec, err := opus.NewDecoder(SampleRate, 1)
	if err != nil {
		return nil, fmt.Errorf("mixer: opus decoder: %w", err)
	}
	return &OpusDecoder{dec: dec}, nil
}

// Decode decodes one packet into pcm, which needs room for FrameSamples,
// and returns the samples written: FrameSamples for a 20 ms packet (fewer
// for a 10 ms one). A packet longer than 20 ms is an error.
func (d *OpusDecoder) Decode(payload []byte, pcm []int16) (int, error) {
	if len(pcm) < FrameSamples {
		return 0, ErrShortBuffer
	}
	if len(payload) == 0 {
		return 0, ErrEmptyPayload
	}
	n, err := d.dec.Decode(payload, pcm[:FrameSamples:FrameSamples])
	if err != nil {
		return 0, fmt.Errorf("mixer: opus decode: %w", err)
	}
	return n, nil
}

// Conceal synthesises a missing 20 ms frame with libopus packet-loss
// concealment, which extrapolates from the frames before it and fades to
// silence over a run of losses.
func (d *OpusDecoder) Conceal(pcm []int16) (int, error) {
	if len(pcm) < FrameSamples {
		return 0, ErrShortBuffer
	}
	if err := d.dec.DecodePLC(pcm[:FrameSamples:FrameSamples]); err != nil {
		return 0, fmt.Errorf("mixer: opus conceal: %w", err)
	}
	return FrameSamples, nil
}

// Recover rebuilds a missing frame from the in-band FEC (SILK LBRR data)
// carried in next, the packet that followed it. libopus silently falls
// back to concealment when next carries no FEC, so Recover first checks
// for it and reports ok=false, leaving the decoder untouched, when there
// is none: the caller then conceals, and decodes next normally later.
func (d *OpusDecoder) Recover(next []byte, pcm []int16) (int, bool) {
	if len(pcm) < FrameSamples || !opusHasFEC(next) {
		return 0, false
	}
	if err := d.dec.DecodeFEC(next, pcm[:FrameSamples:FrameSamples]); err != nil {
		return 0, false
	}
	return FrameSamples, true
}

// opusHasFEC reports whether packet's first frame carries LBRR (in-band
// FEC) data for the frame before it. Only SILK-only and hybrid packets can
// (RFC 6716 §3.1, TOC configurations 0–15). Their range-coded data starts
// with the SILK header bits (§4.2): one VAD flag per SILK frame, then the
// LBRR flag, each coded with probability ½, which the range coder (§4.1)
// leaves as plain bits at the top of the first byte. So the LBRR flag is
// bit 7−silkFrames of the frame's first byte. For stereo it is the mid
// channel's flag, the one that matters. TestOpusFECFlagMatchesLibopus
// checks this against libopus's own decision.
func opusHasFEC(packet []byte) bool {
	if len(packet) < 2 {
		return false
	}
	config := packet[0] >> 3
	if config >= 16 { // CELT-only
		return false
	}
	off, ok := opusFirstFrame(packet)
	if !ok || off >= len(packet) {
		return false
	}
	return packet[off]>>(7-opusSILKFrames(config))&1 == 1
}

// opusSILKFrames is the number of SILK frames in one Opus frame of the
// given configuration: SILK codes 40 and 60 ms frames as two or three
// 20 ms ones (RFC 6716 §4.2); 10 and 20 ms frames are one.
func opusSILKFrames(config byte) uint {
	if config >= 12 { // hybrid: 10 or 20 ms
		return 1
	}
	switch config & 3 { // SILK-only: 10, 20, 40, 60 ms
	case 2:
		return 2
	case 3:
		return 3
	}
	return 1
}

// opusFirstFrame returns the offset of the first frame's data, skipping
// the frame-packing header of RFC 6716 §3.2.
func opusFirstFrame(packet []byte) (int, bool) {
	switch packet[0] & 3 {
	case 0, 1: // one frame, or two of equal size: data follows the TOC
		return 1, true
	case 2: // two frames: the first one's length (1 or 2 bytes) comes first
		return 1 + opusLengthBytes(packet[1]), true
	}
	return opusCode3First(packet)
}

// opusLengthBytes is the size of a frame-length field starting with b
// (§3.2.1): values below 252 take one byte, larger ones two.
func opusLengthBytes(b byte) int {
	if b < 252 {
		return 1
	}
	return 2
}

// opusCode3First skips a code 3 packet's frame-count byte, padding length
// and, for VBR, the lengths of all but the last frame (§3.2.5).
func opusCode3First(packet []byte) (int, bool) {
	count := packet[1]
	frames, vbr, padded := int(count&0x3F), count&0x80 != 0, count&0x40 != 0
	off := 2
	for padded { // 255 means 254 bytes of padding and another length byte
		if off >= len(packet) {
			return 0, false
		}
		padded = packet[off] == 255
		off++
	}
	if !vbr {
		return off, true
	}
	for range frames - 1 {
		if off >= len(packet) {
			return 0, false
		}
		off += opusLengthBytes(packet[off])
	}
	return off, true
}

// OpusEncoder encodes 48 kHz mono Opus for one mixer output. One goroutine
// at a time.
type OpusEncoder struct {
	enc *opus.Encoder
}

// NewOpusEncoder returns a 48 kHz mono encoder tuned for voice: VoIP
// application, in-band FEC with a 10 % loss hint, 32 kb/s.
//
// DTX stays off. With DTX, libopus sends nothing (or a 1-byte frame every
// 400 ms) during silence, but the mixer's outputs are shared by many
// listeners and fed to track writers and packetizers that assume one
// frame per 20 ms tick; gaps would look like loss to every receiver's
// jitter buffer and trigger concealment. Silence in Opus costs only a few
// bytes per frame anyway.
func NewOpusEncoder() (*OpusEncoder, error) {
	enc, err := opus.NewEncoder(SampleRate, 1, opus.AppVoIP)
	if err != nil {
		return nil, fmt.Errorf("mixer: opus encoder: %w", err)
	}
	e := &OpusEncoder{enc: enc}
	for _, set := range []func() error{
		func() error { return enc.SetBitrate(opusBitrate) },
		func() error { return enc.SetInBandFEC(true) },
		func() error { return enc.SetPacketLossPerc(opusLossPercent) },
		func() error { return enc.SetDTX(false) },
		func() error { return enc.SetComplexity(opusComplexity) },
	} {
		if err := set(); err != nil {
			return nil, fmt.Errorf("mixer: opus encoder setup: %w", err)
		}
	}
	return e, nil
}

// SetBitrate changes the target bitrate in bits per second (libopus
// accepts 500 to 512000).
func (e *OpusEncoder) SetBitrate(bps int) error {
	if err := e.enc.SetBitrate(bps); err != nil {
		return fmt.Errorf("mixer: opus bitrate %d: %w", bps, err)
	}
	return nil
}

// Encode encodes the first FrameSamples of pcm into payload and returns the
// packet's length; libopus writes at most len(payload) bytes (MaxPayload is
// always enough).
func (e *OpusEncoder) Encode(pcm []int16, payload []byte) (int, error) {
	if len(pcm) < FrameSamples || len(payload) == 0 {
		return 0, ErrShortBuffer
	}
	n, err := e.enc.Encode(pcm[:FrameSamples], payload[:len(payload):len(payload)])
	if err != nil {
		return 0, fmt.Errorf("mixer: opus encode: %w", err)
	}
	return n, nil
}
