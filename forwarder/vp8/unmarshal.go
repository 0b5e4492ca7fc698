package vp8

// Unmarshal parses the descriptor at the start of payload (the RTP payload)
// into d. It returns ErrShortPacket when payload is empty, ends inside the
// descriptor, or is the first packet of a frame (S set, PID 0) without the
// payload header byte that carries the key-frame bit. On error d is zeroed.
// Reserved bits are ignored, as RFC 7741 §4.2 requires of receivers.
func (d *Descriptor) Unmarshal(payload []byte) error {
	err := d.unmarshal(payload)
	if err != nil {
		*d = Descriptor{}
	}
	return err
}

func (d *Descriptor) unmarshal(p []byte) error {
	*d = Descriptor{}
	if len(p) == 0 {
		return ErrShortPacket
	}
	d.Extended = p[0]&xBit != 0
	d.NonReference = p[0]&nBit != 0
	d.Start = p[0]&sBit != 0
	d.PartitionID = p[0] & pidMask
	d.Size = 1
	if d.Extended {
		if err := d.unmarshalExtension(p); err != nil {
			return err
		}
	}
	return d.unmarshalKeyframe(p)
}

// unmarshalExtension parses the X octet and the optional fields it announces,
// leaving d.Size at the end of the descriptor.
func (d *Descriptor) unmarshalExtension(p []byte) error {
	if len(p) < 2 {
		return ErrShortPacket
	}
	d.HasPictureID = p[1]&iBit != 0
	d.HasTL0PICIDX = p[1]&lBit != 0
	d.HasTID = p[1]&tBit != 0
	d.HasKeyIdx = p[1]&kBit != 0
	d.Size = 2
	if err := d.unmarshalPictureID(p); err != nil {
		return err
	}
	if err := d.unmarshalTL0PICIDX(p); err != nil {
		return err
	}
	return d.unmarshalTIDKeyIdx(p)
}

func (d *Descriptor) unmarshalPictureID(p []byte) error {
	if !d.HasPictureID {
		return nil
	}
	if len(p) <= d.Size {
		return ErrShortPacket
	}
	if p[d.Size]&mBit == 0 {
		d.PictureID = uint16(p[d.Size])
		d.Size++
		return nil
	}
	if len(p) <= d.Size+1 {
		return ErrShortPacket
	}
	d.PictureID15 = true
	d.PictureID = uint16(p[d.Size]&pictureID7Mask)<<8 | uint16(p[d.Size+1])
	d.Size += 2
	return nil
}

func (d *Descriptor) unmarshalTL0PICIDX(p []byte) error {
	if !d.HasTL0PICIDX {
		return nil
	}
	if len(p) <= d.Size {
		return ErrShortPacket
	}
	d.TL0PICIDX = p[d.Size]
	d.Size++
	return nil
}

// unmarshalTIDKeyIdx parses the octet shared by TID/Y and KEYIDX. Only the
// subfields whose flag is set are taken; the others must be ignored
// (RFC 7741 §4.2), so they stay zero.
func (d *Descriptor) unmarshalTIDKeyIdx(p []byte) error {
	if !d.hasTIDKeyIdx() {
		return nil
	}
	if len(p) <= d.Size {
		return ErrShortPacket
	}
	b := p[d.Size]
	if d.HasTID {
		d.TID = b >> tidShift
		d.LayerSync = b&yBit != 0
	}
	if d.HasKeyIdx {
		d.KeyIdx = b & keyIdxMask
	}
	d.Size++
	return nil
}

// unmarshalKeyframe reads the P bit of the VP8 payload header, which is only
// present at the start of partition 0 (RFC 7741 §4.3).
func (d *Descriptor) unmarshalKeyframe(p []byte) error {
	if !d.Start || d.PartitionID != 0 {
		return nil
	}
	if len(p) <= d.Size {
		return ErrShortPacket
	}
	d.Keyframe = p[d.Size]&pBit == 0
	return nil
}
