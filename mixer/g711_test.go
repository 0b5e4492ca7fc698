package mixer

import (
	"math"
	"testing"
)

// The references below restate G.711's tables in the form the
// Recommendation prints them, independently of g711.go's bit tricks:
// per segment, the first decoder output value and the step between
// outputs (in the law's own 14-bit or 13-bit units), and the decision
// value where the next segment begins.

// µ-law, G.711 Table 2a (14-bit magnitudes).
var (
	ulawSegFirst = [8]int{0, 33, 99, 231, 495, 1023, 2079, 4191}
	ulawSegStep  = [8]int{2, 4, 8, 16, 32, 64, 128, 256}
	ulawSegEnd   = [8]int{31, 95, 223, 479, 991, 2015, 4063, 8159}
)

// A-law, G.711 Table 1a (13-bit magnitudes). Segments 0 and 1 are the
// two halves of the Recommendation's first, 64-wide "segment 1".
var (
	alawSegFirst = [8]int{1, 33, 66, 132, 264, 528, 1056, 2112}
	alawSegStep  = [8]int{2, 2, 4, 8, 16, 32, 64, 128}
	alawSegEnd   = [8]int{32, 64, 128, 256, 512, 1024, 2048, 4096}
)

// ulawRef decodes a µ-law character from Table 2a: bit 7 is the sign
// (1 = positive) and the segment and step bits are sent inverted.
func ulawRef(b byte) int {
	seg, step := 7-int(b>>4&7), 15-int(b&15)
	v := (ulawSegFirst[seg] + step*ulawSegStep[seg]) * 4 // 14 → 16 bits
	if b&0x80 == 0 {
		return -v
	}
	return v
}

// alawRef decodes an A-law character from Table 1a: bit 7 is the sign
// (1 = positive) and the even bits are inverted (XOR 0x55).
func alawRef(b byte) int {
	c := b ^ 0x55
	seg, step := int(c>>4&7), int(c&15)
	v := (alawSegFirst[seg] + step*alawSegStep[seg]) * 8 // 13 → 16 bits
	if c&0x80 == 0 {
		return -v
	}
	return v
}

func TestG711DecodeMatchesTables(t *testing.T) {
	for i := range 256 {
		b := byte(i)
		if got, want := int(ULawDecode(b)), ulawRef(b); got != want {
			t.Errorf("ULawDecode(%#02x) = %d, want %d", b, got, want)
		}
		if got, want := int(ALawDecode(b)), alawRef(b); got != want {
			t.Errorf("ALawDecode(%#02x) = %d, want %d", b, got, want)
		}
	}
}

func TestG711KnownValues(t *testing.T) {
	for _, c := range []struct {
		name string
		dec  func(byte) int16
		b    byte
		want int16
	}{
		{"µ", ULawDecode, 0xFF, 0},
		{"µ", ULawDecode, 0x7F, 0},
		{"µ", ULawDecode, 0x00, -32124},
		{"µ", ULawDecode, 0x80, 32124},
		{"µ", ULawDecode, 0xFE, 2 * 4},
		{"µ", ULawDecode, 0xEF, 33 * 4},
		{"A", ALawDecode, 0xD5, 8},
		{"A", ALawDecode, 0x55, -8},
		{"A", ALawDecode, 0x2A, -32256},
		{"A", ALawDecode, 0xAA, 32256},
	} {
		if got := c.dec(c.b); got != c.want {
			t.Errorf("%s-law decode(%#02x) = %d, want %d", c.name, c.b, got, c.want)
		}
	}
	// The idle (silence) characters: µ-law 0xFF, A-law 0xD5 (G.711).
	if got := ULawEncode(0); got != 0xFF {
		t.Errorf("ULawEncode(0) = %#02x, want 0xff", got)
	}
	if got := ALawEncode(0); got != 0xD5 {
		t.Errorf("ALawEncode(0) = %#02x, want 0xd5", got)
	}
}

func TestG711EncodeInvertsDecode(t *testing.T) {
	for i := range 256 {
		b := byte(i)
		want := b
		if b == 0x7F { // µ-law −0 and +0 both decode to 0, which encodes as +0
			want = 0xFF
		}
		if got := ULawEncode(ULawDecode(b)); got != want {
			t.Errorf("ULawEncode(ULawDecode(%#02x)) = %#02x", b, got)
		}
		if got := ALawEncode(ALawDecode(b)); got != b {
			t.Errorf("ALawEncode(ALawDecode(%#02x)) = %#02x", b, got)
		}
	}
}

// segmentOf finds the segment holding magnitude m from the decision
// values at the segment ends; past the last one G.711 clips to segment 7.
func segmentOf(ends [8]int, m int) int {
	for seg, end := range ends {
		if m < end {
			return seg
		}
	}
	return 7
}

// magnitude folds s as G.711's reference code does (one's complement for
// negatives) and drops the bits below the law's resolution.
func magnitude(s int, drop uint) int {
	if s < 0 {
		s = -s - 1
	}
	return s >> drop
}

func TestULawEncodeEveryInput(t *testing.T) {
	for s := math.MinInt16; s <= math.MaxInt16; s++ {
		b := ULawEncode(int16(s))
		m := magnitude(s, 2)
		seg := segmentOf(ulawSegEnd, m)
		if got := 7 - int(b>>4&7); got != seg {
			t.Fatalf("ULawEncode(%d) = %#02x: segment %d, want %d", s, b, got, seg)
		}
		if (b&0x80 != 0) != (s >= 0) {
			t.Fatalf("ULawEncode(%d) = %#02x: wrong sign", s, b)
		}
		if m >= ulawSegEnd[7] { // clipped: must be the largest output
			if b&0x7F != 0 {
				t.Fatalf("ULawEncode(%d) = %#02x, want full scale", s, b)
			}
			continue
		}
		// Half a step (×4 to 16 bits) plus the 2 dropped bits and the
		// one's-complement offset.
		tol := ulawSegStep[seg]*4/2 + 4
		if d := int(ULawDecode(b)) - s; d > tol || d < -tol {
			t.Fatalf("ULawEncode(%d) = %#02x decodes to %d: error %d > %d", s, b, ULawDecode(b), d, tol)
		}
	}
}

func TestALawEncodeEveryInput(t *testing.T) {
	for s := math.MinInt16; s <= math.MaxInt16; s++ {
		b := ALawEncode(int16(s))
		m := magnitude(s, 3)
		seg := segmentOf(alawSegEnd, m)
		c := b ^ 0x55
		if got := int(c >> 4 & 7); got != seg {
			t.Fatalf("ALawEncode(%d) = %#02x: segment %d, want %d", s, b, got, seg)
		}
		if (c&0x80 != 0) != (s >= 0) {
			t.Fatalf("ALawEncode(%d) = %#02x: wrong sign", s, b)
		}
		// A-law's decision intervals are exact in 16-bit units, so the
		// output is within half a step (×8 to 16 bits).
		tol := alawSegStep[seg] * 8 / 2
		if d := int(ALawDecode(b)) - s; d > tol || d < -tol {
			t.Fatalf("ALawEncode(%d) = %#02x decodes to %d: error %d > %d", s, b, ALawDecode(b), d, tol)
		}
	}
}

// g191ULaw and g191ALaw restate the ITU-T G.191 STL reference encoders'
// arithmetic (segment found by shifting) as an exhaustive cross-check of
// the bit-length version in g711.go.
func g191ULaw(s int16) byte {
	abs := magnitude(int(s), 2) + 33
	abs = min(abs, 0x1FFF)
	seg := 1
	for i := abs >> 6; i != 0; i >>= 1 {
		seg++
	}
	out := byte((8-seg)<<4 | (15 - (abs>>seg)&15))
	if s >= 0 {
		out |= 0x80
	}
	return out
}

func g191ALaw(s int16) byte {
	ix := magnitude(int(s), 4)
	if ix > 15 {
		exp := 1
		for ix > 31 {
			ix >>= 1
			exp++
		}
		ix = ix - 16 + exp<<4
	}
	if s >= 0 {
		ix |= 0x80
	}
	return byte(ix) ^ 0x55
}

func TestG711EncodeMatchesG191(t *testing.T) {
	for s := math.MinInt16; s <= math.MaxInt16; s++ {
		if got, want := ULawEncode(int16(s)), g191ULaw(int16(s)); got != want {
			t.Fatalf("ULawEncode(%d) = %#02x, G.191 gives %#02x", s, got, want)
		}
		if got, want := ALawEncode(int16(s)), g191ALaw(int16(s)); got != want {
			t.Fatalf("ALawEncode(%d) = %#02x, G.191 gives %#02x", s, got, want)
		}
	}
}

func TestG711Symmetric(t *testing.T) {
	for s := range math.MaxInt16 + 1 {
		p, n := int16(s), ^int16(s)
		if ULawEncode(p)^0x80 != ULawEncode(n) || ALawEncode(p)^0x80 != ALawEncode(n) {
			t.Fatalf("encode(%d) and encode(%d) differ by more than the sign", p, n)
		}
	}
}

func TestG711SlicesAndAllocs(t *testing.T) {
	pcm := make([]int16, NarrowFrameSamples)
	fillSine(pcm, 20000, NarrowRate, 1000, 0)
	enc := make([]byte, NarrowFrameSamples)
	dec := make([]int16, NarrowFrameSamples)
	for _, law := range []struct {
		name   string
		encode func([]byte, []int16) int
		decode func([]int16, []byte) int
		one    func(int16) byte
	}{
		{"µ", EncodeULaw, DecodeULaw, ULawEncode},
		{"A", EncodeALaw, DecodeALaw, ALawEncode},
	} {
		if n := law.encode(enc, pcm); n != len(pcm) {
			t.Fatalf("%s-law encode: %d, want %d", law.name, n, len(pcm))
		}
		for i, s := range pcm {
			if enc[i] != law.one(s) {
				t.Fatalf("%s-law slice encode differs at %d", law.name, i)
			}
		}
		if n := law.decode(dec[:10], enc); n != 10 {
			t.Fatalf("%s-law decode into 10: %d", law.name, n)
		}
		a := testing.AllocsPerRun(200, func() {
			law.encode(enc, pcm)
			law.decode(dec, enc)
		})
		if a != 0 {
			t.Errorf("%s-law: %.1f allocations per frame, want 0", law.name, a)
		}
	}
}

func BenchmarkULawEncodeFrame(b *testing.B) {
	pcm := make([]int16, NarrowFrameSamples)
	fillSine(pcm, 20000, NarrowRate, 1000, 0)
	out := make([]byte, NarrowFrameSamples)
	b.ReportAllocs()
	for b.Loop() {
		EncodeULaw(out, pcm)
	}
}
