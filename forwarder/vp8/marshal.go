package vp8

// MarshalTo writes the descriptor described by d into dst and returns its
// size. The extension octet is written when d.Extended or any of I/L/T/K is
// set. Values wider than their field are truncated to it (a 7-bit picture ID
// gets PictureID&0x7f, TID is 2 bits, KEYIDX 5 bits, PID 3 bits); reserved
// bits are written as zero. d.Size and d.Keyframe are not used: the payload
// header is not part of the descriptor. Returns ErrShortBuffer if dst is too
// small.
func (d *Descriptor) MarshalTo(dst []byte) (int, error) {
	pic, tl0, size := d.layout()
	if len(dst) < size {
		return 0, ErrShortBuffer
	}
	dst[0] = d.firstOctet()
	if size == 1 {
		return size, nil
	}
	dst[1] = d.extensionOctet()
	if pic >= 0 {
		putPictureID(dst[pic:], d.PictureID15, d.PictureID)
	}
	if tl0 >= 0 {
		dst[tl0] = d.TL0PICIDX
	}
	if d.hasTIDKeyIdx() {
		dst[size-1] = d.tidKeyIdxOctet()
	}
	return size, nil
}

func (d *Descriptor) firstOctet() byte {
	b := d.PartitionID & pidMask
	if d.extended() {
		b |= xBit
	}
	if d.NonReference {
		b |= nBit
	}
	if d.Start {
		b |= sBit
	}
	return b
}

func (d *Descriptor) extensionOctet() byte {
	var b byte
	if d.HasPictureID {
		b |= iBit
	}
	if d.HasTL0PICIDX {
		b |= lBit
	}
	if d.HasTID {
		b |= tBit
	}
	if d.HasKeyIdx {
		b |= kBit
	}
	return b
}

// tidKeyIdxOctet builds the shared TID|Y|KEYIDX octet, leaving the subfields
// of an absent flag zero.
func (d *Descriptor) tidKeyIdxOctet() byte {
	var b byte
	if d.HasTID {
		b |= (d.TID & tidMask) << tidShift
		if d.LayerSync {
			b |= yBit
		}
	}
	if d.HasKeyIdx {
		b |= d.KeyIdx & keyIdxMask
	}
	return b
}

// putPictureID writes id into the picture ID field at the start of b, keeping
// the field width: the M bit marks the 15-bit form.
func putPictureID(b []byte, wide bool, id uint16) {
	if !wide {
		b[0] = byte(id) & pictureID7Mask
		return
	}
	b[0] = mBit | byte(id>>8)&pictureID7Mask
	b[1] = byte(id)
}
