package vp8

// Bits of the mandatory first descriptor octet (RFC 7741 §4.2).
const (
	xBit    = 0x80 // extended control bits present
	nBit    = 0x20 // non-reference frame
	sBit    = 0x10 // start of VP8 partition
	pidMask = 0x07 // partition index
)

// Bits of the extension octet and of the optional fields (RFC 7741 §4.2).
const (
	iBit       = 0x80 // picture ID present
	lBit       = 0x40 // TL0PICIDX present
	tBit       = 0x20 // TID and Y present
	kBit       = 0x10 // KEYIDX present
	mBit       = 0x80 // picture ID is 15 bits wide
	yBit       = 0x20 // layer sync
	tidShift   = 6
	keyIdxMask = 0x1f
)

// pBit is the inverse key frame flag of the VP8 payload header
// (RFC 7741 §4.3): 0 means the frame is a key frame.
const pBit = 0x01

// Field value masks used when a value must fit a narrower field.
const (
	pictureID7Mask  = 0x7f
	pictureID15Mask = 0x7fff
	tidMask         = 0x03
)

// Descriptor is a parsed VP8 payload descriptor plus the keyframe bit of the
// VP8 payload header.
type Descriptor struct {
	Extended     bool  // X
	NonReference bool  // N
	Start        bool  // S
	PartitionID  uint8 // PID
	HasPictureID bool  // I
	PictureID15  bool  // M: the picture ID is 15 bits (2 bytes) rather than 7
	PictureID    uint16
	HasTL0PICIDX bool // L
	TL0PICIDX    uint8
	HasTID       bool // T
	TID          uint8
	LayerSync    bool // Y
	HasKeyIdx    bool // K
	KeyIdx       uint8
	Size         int  // descriptor length in bytes (payload header starts at Size)
	Keyframe     bool // Start && PartitionID==0 && the payload header's P bit is 0: first packet of a key frame
}

// hasTIDKeyIdx reports whether the shared TID/Y/KEYIDX octet is present;
// RFC 7741 §4.2 requires it whenever T or K is set.
func (d *Descriptor) hasTIDKeyIdx() bool {
	return d.HasTID || d.HasKeyIdx
}

// extended reports whether the extension octet is (or must be) present.
func (d *Descriptor) extended() bool {
	return d.Extended || d.HasPictureID || d.HasTL0PICIDX || d.hasTIDKeyIdx()
}

// pictureIDLen is the width in bytes of the picture ID field.
func (d *Descriptor) pictureIDLen() int {
	if d.PictureID15 {
		return 2
	}
	return 1
}

// layout returns the offsets of the picture ID and TL0PICIDX fields (-1 when
// absent) and the descriptor length implied by d's flags.
func (d *Descriptor) layout() (pic, tl0, size int) {
	pic, tl0, size = -1, -1, 1
	if !d.extended() {
		return pic, tl0, size
	}
	size = 2
	if d.HasPictureID {
		pic = size
		size += d.pictureIDLen()
	}
	if d.HasTL0PICIDX {
		tl0 = size
		size++
	}
	if d.hasTIDKeyIdx() {
		size++
	}
	return pic, tl0, size
}
