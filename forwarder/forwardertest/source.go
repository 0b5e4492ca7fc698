package forwardertest

import (
	"github.com/pion/rtp"

	"github.com/confd/confd/forwarder/vp8"
)

// descriptorLen is the size of the descriptors VP8Source writes: X octet,
// 15-bit picture ID, TL0PICIDX and the TID octet.
const descriptorLen = 6

// temporalPattern is the TID of each frame of a 3-layer temporal group
// (L1T3 as browsers encode it): base, enhancement 2, enhancement 1, 2.
var temporalPattern = [4]uint8{0, 2, 1, 2}

// syncPattern is the layer sync (Y) bit of each frame of the group
// (RFC 7741 §4.2: the frame depends only on the base layer). The first TID
// 2 frame and the TID 1 frame reference only the base frame; the second
// TID 2 frame also references the TID 1 frame, so it is no sync point.
var syncPattern = [4]bool{true, true, true, false}

// VP8Source is a synthetic VP8 encoder and RTP packetizer. It is not safe for
// concurrent use.
type VP8Source struct {
	cfg       VP8Config
	seq       uint16
	ts        uint32
	pictureID uint16
	tl0       uint8
	frames    int
	sinceKey  int // frames since the last key frame
	forceKey  bool
}

// NewVP8Source returns a source for cfg; zero fields take defaults.
func NewVP8Source(cfg VP8Config) *VP8Source {
	cfg = cfg.withDefaults()
	return &VP8Source{
		cfg:       cfg,
		seq:       cfg.FirstSeq,
		ts:        cfg.FirstTS,
		pictureID: cfg.FirstPictureID & 0x7fff,
		tl0:       cfg.FirstTL0PICIDX,
	}
}

// ForceKeyframe makes the next frame a key frame, as a PLI would.
func (s *VP8Source) ForceKeyframe() {
	s.forceKey = true
}

// Frames returns the number of frames produced so far.
func (s *VP8Source) Frames() int {
	return s.frames
}

// Config returns the configuration in use, defaults applied.
func (s *VP8Source) Config() VP8Config {
	return s.cfg
}

// NextFrame returns the RTP packets (marshalled header and payload, each a
// fresh slice) of the next frame: 15-bit picture ID (+1 per frame),
// TL0PICIDX, TID, S bit on the first packet, marker on the last, the same
// timestamp throughout and sequence numbers +1 per packet. A key frame's
// first packet carries a valid VP8 key frame header. Packets the config's
// Lose function picks are left out, their sequence numbers used up.
func (s *VP8Source) NextFrame() [][]byte {
	key := s.frames == 0 || s.forceKey || s.sinceKey >= s.cfg.KeyframeInterval
	desc := s.descriptor(key)
	data := frameData(&s.cfg, key, uint32(s.frames))
	pkts := s.packetize(&desc, data)
	s.advance(key)
	return pkts
}

// NextIsKeyframe reports whether the next frame will be a key frame.
func (s *VP8Source) NextIsKeyframe() bool {
	return s.frames == 0 || s.forceKey || s.sinceKey >= s.cfg.KeyframeInterval
}

// descriptor builds the frame's descriptor. The temporal pattern restarts at
// every key frame because a key frame must be in the base layer (TID 0);
// encoders restart their layer cycle there too.
func (s *VP8Source) descriptor(key bool) vp8.Descriptor {
	tid, sync := uint8(0), true
	if s.cfg.TemporalLayers && !key {
		tid = temporalPattern[s.sinceKey%len(temporalPattern)]
		sync = syncPattern[s.sinceKey%len(syncPattern)]
	}
	// TL0PICIDX counts base layer frames: a TID 0 frame carries a new index,
	// higher layers repeat the index of the base frame they build on.
	if tid == 0 && s.frames > 0 {
		s.tl0++
	}
	return vp8.Descriptor{
		Extended: true, HasPictureID: true, PictureID15: true, PictureID: s.pictureID,
		HasTL0PICIDX: true, TL0PICIDX: s.tl0,
		HasTID: true, TID: tid, LayerSync: sync,
	}
}

// advance moves the per-frame counters past the frame just produced.
func (s *VP8Source) advance(key bool) {
	s.frames++
	s.pictureID = (s.pictureID + 1) & 0x7fff
	s.ts += uint32(clockRate / s.cfg.FPS)
	s.sinceKey++
	if key {
		s.sinceKey = 1
		s.forceKey = false
	}
}

// packetize splits data over packets of at most MTU payload bytes, each
// starting with desc (S bit only on the first).
func (s *VP8Source) packetize(desc *vp8.Descriptor, data []byte) [][]byte {
	chunk := s.cfg.MTU - descriptorLen
	var pkts [][]byte
	for off := 0; off < len(data); off += chunk {
		end := min(off+chunk, len(data))
		desc.Start = off == 0
		p := s.packet(desc, data[off:end], end == len(data))
		if s.cfg.Lose == nil || !s.cfg.Lose(s.seq-1) {
			pkts = append(pkts, p)
		}
	}
	return pkts
}

// packet marshals one RTP packet (RFC 3550 §5.1) and advances the sequence
// number.
func (s *VP8Source) packet(desc *vp8.Descriptor, data []byte, last bool) []byte {
	h := rtp.Header{
		Version:        2,
		Marker:         last,
		PayloadType:    s.cfg.PayloadType,
		SequenceNumber: s.seq,
		Timestamp:      s.ts,
		SSRC:           s.cfg.SSRC,
	}
	s.seq++
	buf := make([]byte, h.MarshalSize()+descriptorLen+len(data))
	n, err := h.MarshalTo(buf)
	if err != nil {
		panic("forwardertest: marshal RTP header: " + err.Error()) // buf is sized for it
	}
	m, err := desc.MarshalTo(buf[n:])
	if err != nil {
		panic("forwardertest: marshal VP8 descriptor: " + err.Error())
	}
	copy(buf[n+m:], data)
	return buf
}
