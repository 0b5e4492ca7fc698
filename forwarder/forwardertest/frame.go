package forwardertest

import (
	"encoding/binary"

	"github.com/confd/confd/forwarder/vp8"
)

// Sizes of the VP8 payload header (RFC 7741 §4.3, RFC 6386 §9.1): the 3-byte
// frame tag, followed on key frames by a 3-byte start code and two 2-byte
// dimensions.
const (
	interHeaderLen = 3
	keyHeaderLen   = 10
)

// markerLen is the size of the (SSRC, frame) marker after the payload header.
const markerLen = 8

// patternCheckLen bounds how many fill bytes FrameOf verifies.
const patternCheckLen = 16

// Frame tag fields (RFC 6386 §9.1), a 24-bit little-endian word.
const (
	tagInterFrame    = 1 << 0 // inverse key frame flag: set on inter frames
	tagShowFrame     = 1 << 4
	tagFirstPartBits = 5
	firstPartMax     = 1<<19 - 1
	dimensionMask    = 1<<14 - 1 // 14-bit width/height, scale bits left 0
)

// keyStartCode opens every key frame's data after the frame tag.
var keyStartCode = [3]byte{0x9d, 0x01, 0x2a}

// frameData builds the VP8 data of one frame: payload header, marker, then a
// fill pattern derived from (ssrc, frame).
func frameData(cfg *VP8Config, key bool, frame uint32) []byte {
	size, hdr := cfg.FrameBytes, interHeaderLen
	if key {
		size, hdr = cfg.KeyframeBytes, keyHeaderLen
	}
	data := make([]byte, size)
	putFrameTag(data, key, size-hdr)
	if key {
		putKeyHeader(data, cfg.Width, cfg.Height)
	}
	binary.BigEndian.PutUint32(data[hdr:], cfg.SSRC)
	binary.BigEndian.PutUint32(data[hdr+4:], frame)
	fillPattern(data[hdr+markerLen:], cfg.SSRC, frame)
	return data
}

// putFrameTag writes a version 0, shown frame tag. first_partition_size is
// synthetic (the rest of the data) since nothing decodes these frames.
func putFrameTag(b []byte, key bool, partSize int) {
	tag := uint32(min(partSize, firstPartMax))<<tagFirstPartBits | tagShowFrame
	if !key {
		tag |= tagInterFrame
	}
	b[0], b[1], b[2] = byte(tag), byte(tag>>8), byte(tag>>16)
}

// putKeyHeader writes the start code and dimensions after the frame tag.
func putKeyHeader(b []byte, width, height int) {
	copy(b[3:6], keyStartCode[:])
	binary.LittleEndian.PutUint16(b[6:], uint16(width&dimensionMask))
	binary.LittleEndian.PutUint16(b[8:], uint16(height&dimensionMask))
}

// patternByte is the fill byte at offset i after the marker. Mixing both
// values in means a packet from the wrong source or frame fails the check.
func patternByte(ssrc, frame uint32, i int) byte {
	seed := ssrc*2654435761 ^ frame*40503
	return byte(seed>>(8*(i%4))) + byte(i)
}

func fillPattern(b []byte, ssrc, frame uint32) {
	for i := range b {
		b[i] = patternByte(ssrc, frame, i)
	}
}

// FrameOf recovers the source SSRC and frame number (0 for a source's first
// frame) from payload, the RTP payload of the first packet of a frame made by
// VP8Source, with d its parsed descriptor. ok is false when payload is not
// the first packet of a frame, is too short, or its fill bytes do not match
// the marker.
func FrameOf(payload []byte, d *vp8.Descriptor) (ssrc uint32, frame uint32, ok bool) {
	if d == nil || !d.Start || d.PartitionID != 0 {
		return 0, 0, false
	}
	off := d.Size + interHeaderLen
	if d.Keyframe {
		off = d.Size + keyHeaderLen
	}
	if len(payload) < off+markerLen {
		return 0, 0, false
	}
	ssrc = binary.BigEndian.Uint32(payload[off:])
	frame = binary.BigEndian.Uint32(payload[off+4:])
	if !patternMatches(payload[off+markerLen:], ssrc, frame) {
		return 0, 0, false
	}
	return ssrc, frame, true
}

// patternMatches checks the first fill bytes present in the packet.
func patternMatches(b []byte, ssrc, frame uint32) bool {
	for i := 0; i < len(b) && i < patternCheckLen; i++ {
		if b[i] != patternByte(ssrc, frame, i) {
			return false
		}
	}
	return true
}
