package rtpparse

import (
	"bytes"
	"errors"
	"testing"

	"github.com/pion/rtp"
)

// packet marshals a header with pion and appends payload and padding.
func packet(t testing.TB, h rtp.Header, payload []byte, pad int) []byte {
	t.Helper()
	h.Version = 2
	h.Padding = pad > 0
	b, err := h.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	b = append(b, payload...)
	if pad > 0 {
		b = append(b, make([]byte, pad-1)...)
		b = append(b, byte(pad))
	}
	return b
}

// TestParse: the payload of good packets, with CSRCs, an extension and
// padding; a packet of padding alone has an empty payload.
func TestParse(t *testing.T) {
	ext := rtp.Header{SequenceNumber: 7, Timestamp: 9, SSRC: 0xabc, CSRC: []uint32{1, 2}, Extension: true, ExtensionProfile: rtp.ExtensionProfileOneByte}
	if err := ext.SetExtension(1, []byte{0x55}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name    string
		h       rtp.Header
		payload []byte
		pad     int
	}{
		{"plain", rtp.Header{PayloadType: 111, SequenceNumber: 1, Timestamp: 2, SSRC: 3}, []byte("opus"), 0},
		{"csrc, extension, padding", ext, []byte("vp8 payload"), 4},
		{"padding alone", rtp.Header{SSRC: 5}, nil, 20},
	} {
		raw := packet(t, tc.h, tc.payload, tc.pad)
		var h rtp.Header
		got, err := Parse(raw, &h)
		if err != nil || !bytes.Equal(got, tc.payload) || h.SSRC != tc.h.SSRC || h.SequenceNumber != tc.h.SequenceNumber {
			t.Errorf("%s: payload %q ssrc %x err %v, want %q", tc.name, got, h.SSRC, err, tc.payload)
		}
	}
	var h rtp.Header
	raw := packet(t, ext, []byte("x"), 0)
	if _, err := Parse(raw, &h); err != nil || len(h.GetExtension(1)) != 1 {
		t.Errorf("extension not read: %v %v", h.Extensions, err)
	}
}

// TestParseRefuses what RFC 3550 §5.1 forbids.
func TestParseRefuses(t *testing.T) {
	good := packet(t, rtp.Header{SSRC: 1, CSRC: []uint32{9}}, []byte("abcd"), 0)
	padded := packet(t, rtp.Header{SSRC: 1}, []byte("abcd"), 4)
	mutate := func(b []byte, f func([]byte) []byte) []byte { return f(append([]byte(nil), b...)) }
	for _, tc := range []struct {
		name string
		raw  []byte
		want error
	}{
		{"empty", nil, ErrShort},
		{"11 bytes", good[:11], ErrShort},
		{"version 1", mutate(good, func(b []byte) []byte { b[0] = b[0]&0x3f | 1<<6; return b }), ErrVersion},
		{"version 0", mutate(good, func(b []byte) []byte { b[0] &= 0x3f; return b }), ErrVersion},
		{"CSRCs past the end", mutate(good, func(b []byte) []byte { b[0] |= 0x0f; return b }), ErrShort},
		{"extension past the end", mutate(good, func(b []byte) []byte { b[0] |= 0x10; return b }), ErrExtension},
		{"padding count 0", mutate(padded, func(b []byte) []byte { b[len(b)-1] = 0; return b }), ErrPadding},
		{"padding into the header", mutate(padded, func(b []byte) []byte { b[len(b)-1] = 200; return b }), ErrPadding},
		{"padding bit, no room", mutate(good[:12], func(b []byte) []byte { b[0] = 0xa0; b[11] = 1; return b }), ErrPadding},
	} {
		var h rtp.Header
		if _, err := Parse(tc.raw, &h); !errors.Is(err, tc.want) {
			t.Errorf("%s: err %v, want %v", tc.name, err, tc.want)
		}
	}
}

// TestParseAllocatesNothing, for good packets and garbage alike.
func TestParseAllocatesNothing(t *testing.T) {
	ext := rtp.Header{SSRC: 1, Extension: true, ExtensionProfile: rtp.ExtensionProfileOneByte}
	_ = ext.SetExtension(1, []byte{1})
	good := packet(t, ext, []byte("payload"), 2)
	bad := append([]byte{0x40}, good[1:]...)
	var h rtp.Header
	_, _ = Parse(good, &h) // the extension list grows once
	if a := testing.AllocsPerRun(1000, func() { _, _ = Parse(good, &h); _, _ = Parse(bad, &h) }); a != 0 {
		t.Errorf("%v allocations per packet, want 0", a)
	}
}

// FuzzParse: whatever the bytes, Parse neither panics nor returns a
// payload outside the packet, and a payload it returns starts after a
// whole header.
func FuzzParse(f *testing.F) {
	f.Add(packet(f, rtp.Header{SSRC: 1, CSRC: []uint32{2}}, []byte("abc"), 3))
	f.Add([]byte{0x90, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xbe, 0xde, 0, 1, 0x10, 0xff, 0, 0})
	f.Add([]byte{0xa0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1})
	f.Fuzz(func(t *testing.T, raw []byte) {
		var h rtp.Header
		payload, err := Parse(raw, &h)
		if err != nil {
			return
		}
		n, herr := HeaderLen(raw)
		if herr != nil || h.Version != 2 || len(payload) > len(raw)-n {
			t.Fatalf("accepted %x: payload %d bytes, header %d (%v)", raw, len(payload), n, herr)
		}
		if len(payload) > 0 && &payload[0] != &raw[n] {
			t.Fatalf("payload does not start after the header")
		}
	})
}
