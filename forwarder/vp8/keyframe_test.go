package vp8

import "testing"

// TestKeyframeSize reads the dimensions of a key frame header, ignores the
// scaling bits, and refuses inter frames, truncated headers and a wrong
// start code.
func TestKeyframeSize(t *testing.T) {
	// Descriptor: X, S, PID 0; I with a 7-bit picture ID 5. Then the key
	// frame header: tag (P bit 0), start code, 1280|scale 1<<14, 720.
	key := []byte{0x90, 0x80, 0x05, 0x10, 0x02, 0x00, 0x9d, 0x01, 0x2a, 0x00, 0x45, 0xd0, 0x02, 0xff}
	var d Descriptor
	if err := d.Unmarshal(key); err != nil {
		t.Fatal(err)
	}
	if w, h, ok := KeyframeSize(key, &d); !ok || w != 1280 || h != 720 {
		t.Errorf("KeyframeSize = %d, %d, %v; want 1280, 720, true", w, h, ok)
	}
	if _, _, ok := KeyframeSize(key[:12], &d); ok {
		t.Error("truncated header accepted")
	}
	bad := append([]byte(nil), key...)
	bad[7] = 0x02
	if _, _, ok := KeyframeSize(bad, &d); ok {
		t.Error("wrong start code accepted")
	}
	inter := append([]byte(nil), key...)
	inter[3] |= 0x01
	if err := d.Unmarshal(inter); err != nil {
		t.Fatal(err)
	}
	if _, _, ok := KeyframeSize(inter, &d); ok {
		t.Error("inter frame accepted")
	}
}
