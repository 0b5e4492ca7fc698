package mixer

import "math/bits"

// G.711 (ITU-T Recommendation G.711, 1988) companding, µ-law (PCMU, RTP
// payload type 0) and A-law (PCMA, payload type 8) per RFC 3551 §4.5.14.
//
// The linear side is 16-bit PCM. G.711 itself is defined on 14-bit (µ-law)
// and 13-bit (A-law) uniform PCM, so, like the ITU-T G.191 Software Tool
// Library reference (module g711), the encoders drop the low 2 (µ-law) or
// 3 (A-law) bits and the decoders return the G.711 output values scaled
// back up to 16 bits. Negative samples are folded with the one's
// complement (^s rather than -s), again as G.191 does: it makes the
// quantiser exactly mirror-symmetric, so Encode(^s) == Encode(s) ^ 0x80 for
// every s, and -32768 needs no special case.
//
// Every function here is allocation-free; the 256-entry decode tables are
// built once at package initialisation.

const (
	// ulawBias is the 14-bit offset G.711 µ-law adds before taking the
	// segment (the "33" of G.711 Table 2a): with it, every segment's
	// decision values are powers of two apart and the segment is the
	// position of the top bit.
	ulawBias = 33
	// ulawMaxBiased is the largest biased 14-bit magnitude: inputs beyond
	// the last decision value (8159) clip to segment 7, step 15.
	ulawMaxBiased = 0x1FFF
	// alawToggle inverts the even bits of every A-law character (the
	// "even bit inversion" of G.711 Table 1a), which keeps the line's
	// idle pattern from being a long run of zeros.
	alawToggle = 0x55
	// signBit is set in a G.711 character for non-negative samples.
	signBit = 0x80
)

var (
	ulawDecodeTable = buildDecodeTable(ulawExpand)
	alawDecodeTable = buildDecodeTable(alawExpand)
)

func buildDecodeTable(expand func(byte) int16) (t [256]int16) {
	for i := range t {
		t[i] = expand(byte(i))
	}
	return t
}

// ulawExpand is the µ-law decoder of G.711 Table 2a. Inverting the whole
// character gives sign (1 = negative), 3-bit segment and 4-bit step. The output
// of step m in segment e is (2m+33)·2^e − 33 in 14-bit units, i.e. the
// midpoint of its decision interval.
func ulawExpand(b byte) int16 {
	b = ^b
	seg := uint(b>>4) & 7
	step := int32(b & 0x0F)
	mag := ((2*step+ulawBias)<<seg - ulawBias) << 2 // 14 → 16 bits
	if b&signBit != 0 {
		return int16(-mag)
	}
	return int16(mag)
}

// alawExpand is the A-law decoder of G.711 Table 1a. Segments 0 and 1
// share the same step (2 in 13-bit units), so the first 32 outputs are
// 1, 3, …, 63; from segment 2 on the step doubles per segment.
func alawExpand(b byte) int16 {
	b ^= alawToggle
	seg := uint(b>>4) & 7
	step := int32(b & 0x0F)
	mag := 2*step + 1 // segment 0, 13-bit units
	if seg > 0 {
		mag = (2*step + 33) << (seg - 1)
	}
	mag <<= 3 // 13 → 16 bits
	if b&signBit != 0 {
		return int16(mag)
	}
	return int16(-mag)
}

// ULawDecode returns the 16-bit linear value of one µ-law character.
func ULawDecode(b byte) int16 { return ulawDecodeTable[b] }

// ALawDecode returns the 16-bit linear value of one A-law character.
func ALawDecode(b byte) int16 { return alawDecodeTable[b] }

// foldSign splits s into a non-negative magnitude (one's complement for
// negatives, see the file comment) and the G.711 sign bit.
func foldSign(s int16) (mag uint16, sign byte) {
	if s < 0 {
		return uint16(^s), 0
	}
	return uint16(s), signBit
}

// ULawEncode compresses one 16-bit sample to a µ-law character (G.711
// Table 2a). The segment is found from the top bit of the biased 14-bit
// magnitude, which is what the table's decision values encode.
func ULawEncode(s int16) byte {
	mag, sign := foldSign(s)
	biased := min(uint(mag>>2)+ulawBias, ulawMaxBiased) // ≥ 33, < 2^13
	seg := uint(bits.Len(biased)) - 6                   // 2^5 ≤ biased>>seg < 2^6
	step := (biased >> (seg + 1)) & 0x0F
	// µ-law sends segment and step inverted (G.711 Table 2a) and the sign
	// bit plain: 1 for non-negative.
	return (sign | 0x7F) ^ byte(seg<<4|step)
}

// ALawEncode compresses one 16-bit sample to an A-law character (G.711
// Table 1a). The 12-bit magnitude (13-bit sign-magnitude) below 16 is
// segment 0; above, the segment is the position of the top bit.
func ALawEncode(s int16) byte {
	mag, sign := foldSign(s)
	ix := uint(mag >> 4) // 0 ≤ ix < 2048
	if ix < 16 {
		return (sign | byte(ix)) ^ alawToggle
	}
	seg := uint(bits.Len(ix)) - 4 // 1..7
	step := (ix >> (seg - 1)) & 0x0F
	return (sign | byte(seg<<4) | byte(step)) ^ alawToggle
}

// EncodeULaw compresses min(len(dst), len(pcm)) samples into dst and
// returns that count.
func EncodeULaw(dst []byte, pcm []int16) int {
	n := min(len(dst), len(pcm))
	for i, s := range pcm[:n] {
		dst[i] = ULawEncode(s)
	}
	return n
}

// DecodeULaw expands min(len(dst), len(src)) µ-law characters into dst and
// returns that count.
func DecodeULaw(dst []int16, src []byte) int {
	n := min(len(dst), len(src))
	for i, b := range src[:n] {
		dst[i] = ulawDecodeTable[b]
	}
	return n
}

// EncodeALaw compresses min(len(dst), len(pcm)) samples into dst and
// returns that count.
func EncodeALaw(dst []byte, pcm []int16) int {
	n := min(len(dst), len(pcm))
	for i, s := range pcm[:n] {
		dst[i] = ALawEncode(s)
	}
	return n
}

// DecodeALaw expands min(len(dst), len(src)) A-law characters into dst and
// returns that count.
func DecodeALaw(dst []int16, src []byte) int {
	n := min(len(dst), len(src))
	for i, b := range src[:n] {
		dst[i] = alawDecodeTable[b]
	}
	return n
}
