package forwardertest

// Layer sizes of a Simulcast source: the three encodings browsers send for a
// 720p camera with scaleResolutionDownBy 4, 2 and 1, and their RIDs.
var (
	SimulcastRIDs    = [3]string{"q", "h", "f"}
	SimulcastWidths  = [3]int{320, 640, 1280}
	SimulcastHeights = [3]int{180, 360, 720}
)

// SimulcastConfig describes a Simulcast source. Zero fields take defaults.
type SimulcastConfig struct {
	// SSRCs of the layers, smallest first (default base, base+1, base+2).
	SSRCs [3]uint32
	// FrameBytes of the smallest layer (default 600); each larger layer
	// sends three times the bytes of the one below.
	FrameBytes       int
	KeyframeInterval int // frames between key frames of each layer (default 30)
	TemporalLayers   bool
	MTU              int
	// Lose, when set, is asked about every packet of every layer.
	Lose func(layer int, seq uint16) bool
}

// Simulcast is a synthetic three-layer VP8 simulcast publisher (RFC 8853):
// one VP8Source per layer at 320x180, 640x360 and 1280x720, frames in
// lockstep. Each layer has its own SSRC, sequence numbers, timestamps (a
// different random-looking origin per layer, as encoders pick) and picture
// IDs, so a forwarder switching between them has to rewrite all of them.
// Not safe for concurrent use.
type Simulcast struct {
	Layers [3]*VP8Source
}

// NewSimulcast returns a source for cfg.
func NewSimulcast(cfg SimulcastConfig) *Simulcast {
	if cfg.FrameBytes == 0 {
		cfg.FrameBytes = 600
	}
	s := &Simulcast{}
	for i := range s.Layers {
		ssrc := cfg.SSRCs[i]
		if ssrc == 0 {
			ssrc = 0x5100 + uint32(i)
		}
		var lose func(uint16) bool
		if cfg.Lose != nil {
			layer := i
			lose = func(seq uint16) bool { return cfg.Lose(layer, seq) }
		}
		s.Layers[i] = NewVP8Source(VP8Config{
			SSRC: ssrc, KeyframeInterval: cfg.KeyframeInterval, TemporalLayers: cfg.TemporalLayers, MTU: cfg.MTU,
			FrameBytes: cfg.FrameBytes * pow3(i), Width: SimulcastWidths[i], Height: SimulcastHeights[i],
			FirstSeq: uint16(1000 + 17000*i), FirstTS: uint32(90000 + 1_234_567_891*i),
			FirstPictureID: uint16(100 + 9000*i), FirstTL0PICIDX: uint8(10 + 80*i),
			Lose: lose,
		})
	}
	return s
}

func pow3(n int) int {
	p := 1
	for range n {
		p *= 3
	}
	return p
}

// NextFrame returns the packets of the next frame of every layer, smallest
// layer first.
func (s *Simulcast) NextFrame() [3][][]byte {
	var out [3][][]byte
	for i, l := range s.Layers {
		out[i] = l.NextFrame()
	}
	return out
}
