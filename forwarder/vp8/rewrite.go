package vp8

// Rewrite copies payload into dst with the picture ID and TL0PICIDX fields
// replaced by pictureID and tl0, and returns the number of bytes written.
// Only the fields d has are replaced and their widths are kept: a 7-bit
// picture ID gets pictureID&0x7f, a 15-bit one pictureID&0x7fff. d must
// describe payload (normally it was filled by Unmarshal from it). dst must
// have room for len(payload), else ErrShortBuffer; a payload shorter than d's
// descriptor gives ErrShortPacket. dst and payload may overlap.
func Rewrite(dst, payload []byte, d *Descriptor, pictureID uint16, tl0 uint8) (int, error) {
	if len(dst) < len(payload) {
		return 0, ErrShortBuffer
	}
	if _, _, size := d.layout(); size > len(payload) {
		return 0, ErrShortPacket
	}
	n := copy(dst, payload)
	rewriteFields(dst[:n], d, pictureID, tl0)
	return n, nil
}

// RewriteInPlace does what Rewrite does, on payload itself. A payload shorter
// than d's descriptor is left untouched.
func RewriteInPlace(payload []byte, d *Descriptor, pictureID uint16, tl0 uint8) {
	if _, _, size := d.layout(); size > len(payload) {
		return
	}
	rewriteFields(payload, d, pictureID, tl0)
}

// rewriteFields overwrites the picture ID and TL0PICIDX fields of p, which the
// caller has checked is long enough for d's layout.
func rewriteFields(p []byte, d *Descriptor, pictureID uint16, tl0 uint8) {
	pic, tl0Off, _ := d.layout()
	if pic >= 0 {
		putPictureID(p[pic:], d.PictureID15, pictureID)
	}
	if tl0Off >= 0 {
		p[tl0Off] = tl0
	}
}
