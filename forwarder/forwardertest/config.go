package forwardertest

// Defaults applied by NewVP8Source to zero-valued VP8Config fields.
const (
	DefaultPayloadType      = 96 // first dynamic payload type (RFC 3551 §6)
	DefaultKeyframeInterval = 30
	DefaultFrameBytes       = 3000
	DefaultMTU              = 1100
	DefaultFPS              = 30
	DefaultWidth            = 320
	DefaultHeight           = 180
)

// clockRate is the RTP clock of VP8 (RFC 7741 §6.1).
const clockRate = 90000

// VP8Config describes a VP8Source. Zero fields take the defaults above.
type VP8Config struct {
	SSRC             uint32
	PayloadType      uint8 // default 96
	KeyframeInterval int   // frames between key frames (default 30); 0 keeps the default
	FrameBytes       int   // bytes of VP8 data per frame (default 3000), split over packets
	KeyframeBytes    int   // default 3*FrameBytes
	MTU              int   // max payload bytes per packet incl. descriptor (default 1100)
	FPS              int   // default 30; RTP clock 90 kHz, so ts advances 90000/FPS per frame
	Width, Height    int   // coded in the key frame header (default 320x180)
	FirstSeq         uint16
	FirstTS          uint32
	FirstPictureID   uint16 // masked to 15 bits
	FirstTL0PICIDX   uint8
	TemporalLayers   bool // TID pattern 0,2,1,2 when true; TID always 0 when false
	// Lose, when set, is asked about every packet's sequence number; the
	// packets it returns true for are lost: never returned.
	Lose func(seq uint16) bool
}

// withDefaults fills zero fields and raises sizes too small to hold the
// frame header, marker and descriptor, which FrameOf needs in the first
// packet of every frame.
func (c VP8Config) withDefaults() VP8Config {
	if c.PayloadType == 0 {
		c.PayloadType = DefaultPayloadType
	}
	c.KeyframeInterval = orDefault(c.KeyframeInterval, DefaultKeyframeInterval)
	c.FrameBytes = max(orDefault(c.FrameBytes, DefaultFrameBytes), interHeaderLen+markerLen)
	c.KeyframeBytes = max(orDefault(c.KeyframeBytes, 3*c.FrameBytes), keyHeaderLen+markerLen)
	c.MTU = max(orDefault(c.MTU, DefaultMTU), descriptorLen+keyHeaderLen+markerLen)
	c.FPS = orDefault(c.FPS, DefaultFPS)
	c.Width = orDefault(c.Width, DefaultWidth)
	c.Height = orDefault(c.Height, DefaultHeight)
	return c
}

// orDefault returns def when v is zero or negative.
func orDefault(v, def int) int {
	if v <= 0 {
		return def
	}
	return v
}
