package vp8

import (
	"bytes"
	"errors"
	"testing"
)

// withBody appends a recognisable VP8 body to a descriptor so that tests can
// check that bytes after the descriptor are preserved.
func withBody(desc ...byte) []byte {
	p := append([]byte{}, desc...)
	for i := 0; i < 32; i++ {
		p = append(p, byte(0xa0+i))
	}
	return p
}

func mustParse(t *testing.T, p []byte) Descriptor {
	t.Helper()
	var d Descriptor
	if err := d.Unmarshal(p); err != nil {
		t.Fatalf("Unmarshal(% x): %v", p, err)
	}
	return d
}

func TestRewritePictureIDWrap(t *testing.T) {
	tests := []struct {
		name string
		in   []byte
		ids  []uint16
		want []uint16
	}{
		{"15-bit", withBody(0x90, 0x80, 0x80, 0x00), []uint16{0x7ffe, 0x7fff, 0x8000, 0x8001},
			[]uint16{0x7ffe, 0x7fff, 0, 1}},
		{"7-bit", withBody(0x90, 0x80, 0x00), []uint16{0x7e, 0x7f, 0x80, 0x81},
			[]uint16{0x7e, 0x7f, 0, 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := mustParse(t, tt.in)
			for i, id := range tt.ids {
				out := make([]byte, len(tt.in))
				if _, err := Rewrite(out, tt.in, &d, id, 0); err != nil {
					t.Fatal(err)
				}
				got := mustParse(t, out)
				if got.PictureID != tt.want[i] || got.PictureID15 != d.PictureID15 {
					t.Errorf("id %#x: got %#x (15-bit %v), want %#x", id, got.PictureID, got.PictureID15, tt.want[i])
				}
			}
		})
	}
}

func TestRewriteTL0PICIDXWrap(t *testing.T) {
	in := withBody(0x90, 0xc0, 0x85, 0x00, 0x10)
	d := mustParse(t, in)
	tl0 := uint8(254)
	for i := 0; i < 4; i++ {
		RewriteInPlace(in, &d, 0x500, tl0)
		if got := mustParse(t, in); got.TL0PICIDX != tl0 || got.PictureID != 0x500 {
			t.Errorf("got TL0PICIDX %d picture ID %#x, want %d 0x500", got.TL0PICIDX, got.PictureID, tl0)
		}
		tl0++
	}
}

// TestRewriteKeepsOtherBytes checks that only the picture ID and TL0PICIDX
// bytes change, for every combination of optional fields.
func TestRewriteKeepsOtherBytes(t *testing.T) {
	inputs := [][]byte{
		withBody(0x10),
		withBody(0x90, 0x00),
		withBody(0x90, 0x80, 0x12),
		withBody(0x90, 0x80, 0x92, 0x34),
		withBody(0x90, 0x40, 0x77),
		withBody(0x90, 0x30, 0xff),
		withBody(0xb4, 0xf0, 0xff, 0xff, 0x42, 0xa5),
		withBody(0x90, 0xd0, 0x01, 0x02, 0x1f),
	}
	for _, in := range inputs {
		d := mustParse(t, in)
		out := make([]byte, len(in)+4)
		n, err := Rewrite(out, in, &d, 0x2aaa, 0x55)
		if err != nil || n != len(in) {
			t.Fatalf("Rewrite(% x) = %d, %v", in, n, err)
		}
		assertOnlyFieldsChanged(t, in, out[:n], &d)
		got := mustParse(t, out[:n])
		want := d
		if d.HasPictureID {
			want.PictureID = 0x2aaa & pictureIDMask(&d)
		}
		if d.HasTL0PICIDX {
			want.TL0PICIDX = 0x55
		}
		if got != want {
			t.Errorf("% x: got %+v\nwant %+v", in, got, want)
		}
	}
}

func pictureIDMask(d *Descriptor) uint16 {
	if d.PictureID15 {
		return pictureID15Mask
	}
	return pictureID7Mask
}

func assertOnlyFieldsChanged(t *testing.T, in, out []byte, d *Descriptor) {
	t.Helper()
	pic, tl0, _ := d.layout()
	for i := range in {
		field := (pic >= 0 && i >= pic && i < pic+d.pictureIDLen()) || i == tl0
		if !field && in[i] != out[i] {
			t.Errorf("% x: byte %d changed %#02x -> %#02x", in, i, in[i], out[i])
		}
	}
}

func TestRewriteSameValuesIsIdentity(t *testing.T) {
	in := append([]byte{}, fullPacket...)
	d := mustParse(t, in)
	RewriteInPlace(in, &d, d.PictureID, d.TL0PICIDX)
	if !bytes.Equal(in, fullPacket) {
		t.Errorf("got % x, want % x", in, fullPacket)
	}
}

func TestRewriteErrors(t *testing.T) {
	d := mustParse(t, fullPacket)
	if _, err := Rewrite(make([]byte, len(fullPacket)-1), fullPacket, &d, 1, 1); !errors.Is(err, ErrShortBuffer) {
		t.Errorf("short dst: err = %v, want ErrShortBuffer", err)
	}
	short := fullPacket[:d.Size-1]
	if _, err := Rewrite(make([]byte, 16), short, &d, 1, 1); !errors.Is(err, ErrShortPacket) {
		t.Errorf("short payload: err = %v, want ErrShortPacket", err)
	}
	kept := append([]byte{}, short...)
	RewriteInPlace(kept, &d, 1, 1)
	if !bytes.Equal(kept, short) {
		t.Errorf("RewriteInPlace changed a too-short payload: % x", kept)
	}
}

func TestNoAllocations(t *testing.T) {
	payload := withBody(fullPacket[:6]...)
	dst := make([]byte, len(payload))
	var d Descriptor
	if n := testing.AllocsPerRun(100, func() { _ = d.Unmarshal(payload) }); n != 0 {
		t.Errorf("Unmarshal: %v allocations", n)
	}
	if n := testing.AllocsPerRun(100, func() { _, _ = Rewrite(dst, payload, &d, 7, 8) }); n != 0 {
		t.Errorf("Rewrite: %v allocations", n)
	}
	if n := testing.AllocsPerRun(100, func() { RewriteInPlace(dst, &d, 9, 10) }); n != 0 {
		t.Errorf("RewriteInPlace: %v allocations", n)
	}
	if n := testing.AllocsPerRun(100, func() { _ = d.Unmarshal(nil) }); n != 0 {
		t.Errorf("Unmarshal error path: %v allocations", n)
	}
}
