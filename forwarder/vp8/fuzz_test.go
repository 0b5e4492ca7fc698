package vp8

import (
	"bytes"
	"testing"
)

// FuzzDescriptor checks that Unmarshal never panics, that a parsed descriptor
// survives MarshalTo/Unmarshal unchanged, and that Rewrite changes exactly
// the picture ID and TL0PICIDX values.
func FuzzDescriptor(f *testing.F) {
	f.Add([]byte{0x10, 0x00}, uint16(0), uint8(0))
	f.Add([]byte{0x90, 0x80, 0x7f, 0x01}, uint16(0x80), uint8(0))
	f.Add(append([]byte{}, fullPacket...), uint16(0x7fff), uint8(0xff))
	f.Add([]byte{0x80, 0x10, 0xff}, uint16(1), uint8(1))
	f.Fuzz(func(t *testing.T, payload []byte, pictureID uint16, tl0 uint8) {
		var d Descriptor
		if d.Unmarshal(payload) != nil {
			return
		}
		if d.Size > len(payload) {
			t.Fatalf("Size %d > len %d", d.Size, len(payload))
		}
		checkRoundTrip(t, payload, &d)
		checkRewrite(t, payload, &d, pictureID, tl0)
	})
}

// checkRoundTrip re-marshals d in front of the original remainder of the
// payload, so even the Keyframe field must come back equal.
func checkRoundTrip(t *testing.T, payload []byte, d *Descriptor) {
	buf := make([]byte, 16+len(payload))
	n, err := d.MarshalTo(buf)
	if err != nil {
		t.Fatalf("MarshalTo: %v", err)
	}
	n += copy(buf[n:], payload[d.Size:])
	var got Descriptor
	if err := got.Unmarshal(buf[:n]); err != nil {
		t.Fatalf("Unmarshal after MarshalTo: %v", err)
	}
	if got != *d {
		t.Fatalf("round trip:\ngot  %+v\nwant %+v", got, *d)
	}
}

func checkRewrite(t *testing.T, payload []byte, d *Descriptor, pictureID uint16, tl0 uint8) {
	out := make([]byte, len(payload))
	if _, err := Rewrite(out, payload, d, pictureID, tl0); err != nil {
		t.Fatalf("Rewrite: %v", err)
	}
	if !bytes.Equal(out[d.Size:], payload[d.Size:]) {
		t.Fatal("Rewrite changed bytes after the descriptor")
	}
	var got Descriptor
	if err := got.Unmarshal(out); err != nil {
		t.Fatalf("Unmarshal after Rewrite: %v", err)
	}
	want := *d
	if d.HasPictureID {
		want.PictureID = pictureID & pictureIDMask(d)
	}
	if d.HasTL0PICIDX {
		want.TL0PICIDX = tl0
	}
	if got != want {
		t.Fatalf("after Rewrite:\ngot  %+v\nwant %+v", got, want)
	}
}
