package vp8

// Offsets in the VP8 key frame header that follows the payload descriptor
// (RFC 6386 §9.1, RFC 7741 §4.3): a 3-byte frame tag, the start code
// 9d 01 2a, then 14-bit width and height, little-endian, each with two
// scaling bits on top.
const (
	startCodeOffset = 3
	widthOffset     = 6
	heightOffset    = 8
	keyHeaderSize   = 10
	dimensionMask   = 0x3fff
)

// KeyframeSize returns the frame width and height coded in the key frame
// header of payload, the first packet of a key frame described by d. ok is
// false when d is not a key frame start, the header is truncated or its
// start code is wrong.
func KeyframeSize(payload []byte, d *Descriptor) (width, height int, ok bool) {
	if !d.Keyframe || len(payload) < d.Size+keyHeaderSize {
		return 0, 0, false
	}
	h := payload[d.Size:]
	if h[startCodeOffset] != 0x9d || h[startCodeOffset+1] != 0x01 || h[startCodeOffset+2] != 0x2a {
		return 0, 0, false
	}
	width = int(uint16(h[widthOffset])|uint16(h[widthOffset+1])<<8) & dimensionMask
	height = int(uint16(h[heightOffset])|uint16(h[heightOffset+1])<<8) & dimensionMask
	return width, height, true
}
