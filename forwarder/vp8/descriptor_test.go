package vp8

import (
	"bytes"
	"errors"
	"testing"
)

// fullPacket has every optional field: 15-bit picture ID 0x0123, TL0PICIDX
// 0x42, TID 2 with Y set, KEYIDX 5, followed by a key-frame payload header.
var fullPacket = []byte{0x90, 0xf0, 0x81, 0x23, 0x42, 0xa5, 0x00, 0x9d}

var fullDescriptor = Descriptor{
	Extended: true, Start: true,
	HasPictureID: true, PictureID15: true, PictureID: 0x0123,
	HasTL0PICIDX: true, TL0PICIDX: 0x42,
	HasTID: true, TID: 2, LayerSync: true,
	HasKeyIdx: true, KeyIdx: 5,
	Size: 6, Keyframe: true,
}

func TestUnmarshal(t *testing.T) {
	tests := []struct {
		name string
		in   []byte
		want Descriptor
	}{
		{"minimal key", []byte{0x10, 0x00}, Descriptor{Start: true, Size: 1, Keyframe: true}},
		{"minimal inter", []byte{0x10, 0x01}, Descriptor{Start: true, Size: 1}},
		{"continuation", []byte{0x00}, Descriptor{Size: 1}},
		{"continuation ignores P", []byte{0x00, 0x00}, Descriptor{Size: 1}},
		{"second partition start", []byte{0x11}, Descriptor{Start: true, PartitionID: 1, Size: 1}},
		{"N and reserved bits", []byte{0x6b}, Descriptor{NonReference: true, PartitionID: 3, Size: 1}},
		{"X without fields", []byte{0x90, 0x0f, 0x00}, Descriptor{Extended: true, Start: true, Size: 2, Keyframe: true}},
		{"7-bit picture ID", []byte{0x90, 0x80, 0x7f, 0x01}, Descriptor{
			Extended: true, Start: true, HasPictureID: true, PictureID: 0x7f, Size: 3}},
		{"15-bit picture ID max", []byte{0x90, 0x80, 0xff, 0xff, 0x00}, Descriptor{
			Extended: true, Start: true, HasPictureID: true, PictureID15: true, PictureID: 0x7fff,
			Size: 4, Keyframe: true}},
		{"L only", []byte{0x80, 0x40, 0x07}, Descriptor{
			Extended: true, HasTL0PICIDX: true, TL0PICIDX: 7, Size: 3}},
		{"T only ignores KEYIDX", []byte{0x80, 0x20, 0x7f}, Descriptor{
			Extended: true, HasTID: true, TID: 1, LayerSync: true, Size: 3}},
		{"K only ignores TID and Y", []byte{0x80, 0x10, 0xff}, Descriptor{
			Extended: true, HasKeyIdx: true, KeyIdx: 31, Size: 3}},
		{"7-bit ID with L and T", []byte{0x90, 0xe0, 0x05, 0x09, 0x40, 0x01}, Descriptor{
			Extended: true, Start: true, HasPictureID: true, PictureID: 5,
			HasTL0PICIDX: true, TL0PICIDX: 9, HasTID: true, TID: 1, Size: 5}},
		{"all fields", fullPacket, fullDescriptor},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var d Descriptor
			if err := d.Unmarshal(tt.in); err != nil {
				t.Fatalf("Unmarshal: %v", err)
			}
			if d != tt.want {
				t.Errorf("got  %+v\nwant %+v", d, tt.want)
			}
		})
	}
}

func TestUnmarshalShort(t *testing.T) {
	tests := []struct {
		name string
		in   []byte
	}{
		{"empty", nil},
		{"start without payload header", []byte{0x10}},
		{"X without extension octet", []byte{0x80}},
		{"I without picture ID", []byte{0x80, 0x80}},
		{"M without second picture ID byte", []byte{0x80, 0x80, 0x80}},
		{"L without TL0PICIDX", []byte{0x80, 0x40}},
		{"T without TID octet", []byte{0x80, 0x20}},
		{"K without KEYIDX octet", []byte{0x80, 0x10}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := fullDescriptor
			if err := d.Unmarshal(tt.in); !errors.Is(err, ErrShortPacket) {
				t.Fatalf("err = %v, want ErrShortPacket", err)
			}
			if d != (Descriptor{}) {
				t.Errorf("descriptor not zeroed on error: %+v", d)
			}
		})
	}
}

// TestUnmarshalTruncatedEveryLength cuts descriptors that need a payload
// header byte at every shorter length.
func TestUnmarshalTruncatedEveryLength(t *testing.T) {
	packets := [][]byte{
		fullPacket[:7],
		{0x90, 0xe0, 0x05, 0x09, 0x40, 0x01},
		{0x90, 0x80, 0xff, 0xff, 0x00},
		{0x90, 0x10, 0x1f, 0x00},
	}
	for _, p := range packets {
		var d Descriptor
		if err := d.Unmarshal(p); err != nil {
			t.Fatalf("% x: full packet: %v", p, err)
		}
		for n := 0; n < len(p); n++ {
			if err := d.Unmarshal(p[:n]); !errors.Is(err, ErrShortPacket) {
				t.Errorf("% x cut to %d: err = %v, want ErrShortPacket", p, n, err)
			}
		}
	}
}

func TestKeyframeBit(t *testing.T) {
	for hdr := 0; hdr < 256; hdr++ {
		var d Descriptor
		if err := d.Unmarshal([]byte{0x90, 0x80, 0x01, byte(hdr)}); err != nil {
			t.Fatal(err)
		}
		if want := hdr&1 == 0; d.Keyframe != want {
			t.Errorf("payload header %#02x: Keyframe = %v, want %v", hdr, d.Keyframe, want)
		}
	}
}

func TestMarshalRoundTrip(t *testing.T) {
	descs := []Descriptor{
		{Start: true},
		{NonReference: true, PartitionID: 7},
		{Extended: true, Start: true},
		{Extended: true, HasPictureID: true, PictureID: 0x7f},
		{Extended: true, HasPictureID: true, PictureID15: true, PictureID: 0x7fff},
		{Extended: true, HasTL0PICIDX: true, TL0PICIDX: 0xff},
		{Extended: true, HasTID: true, TID: 3, LayerSync: true},
		{Extended: true, HasKeyIdx: true, KeyIdx: 31},
		fullDescriptor,
	}
	for _, want := range descs {
		for _, hdr := range []byte{0x00, 0x01} {
			buf := make([]byte, 16)
			n, err := want.MarshalTo(buf)
			if err != nil {
				t.Fatal(err)
			}
			buf[n] = hdr
			want.Size = n
			want.Keyframe = want.Start && want.PartitionID == 0 && hdr == 0
			var got Descriptor
			if err := got.Unmarshal(buf[:n+1]); err != nil {
				t.Fatal(err)
			}
			if got != want {
				t.Errorf("got  %+v\nwant %+v", got, want)
			}
		}
	}
}

func TestMarshalImpliesX(t *testing.T) {
	d := Descriptor{HasTL0PICIDX: true, TL0PICIDX: 3}
	buf := make([]byte, 3)
	n, err := d.MarshalTo(buf)
	if err != nil || !bytes.Equal(buf[:n], []byte{0x80, 0x40, 0x03}) {
		t.Fatalf("MarshalTo = % x, %v", buf[:n], err)
	}
}

func TestMarshalMasksWideValues(t *testing.T) {
	d := Descriptor{PartitionID: 0xff, HasPictureID: true, PictureID: 0xffff,
		HasTID: true, TID: 0xff, HasKeyIdx: true, KeyIdx: 0xff}
	buf := make([]byte, 8)
	n, err := d.MarshalTo(buf)
	want := []byte{0x87, 0xb0, 0x7f, 0xdf}
	if err != nil || !bytes.Equal(buf[:n], want) {
		t.Fatalf("MarshalTo = % x, %v; want % x", buf[:n], err, want)
	}
}

func TestMarshalShortBuffer(t *testing.T) {
	for n := 0; n < 6; n++ {
		if _, err := fullDescriptor.MarshalTo(make([]byte, n)); !errors.Is(err, ErrShortBuffer) {
			t.Errorf("dst len %d: err = %v, want ErrShortBuffer", n, err)
		}
	}
}
