package peer

import (
	"sync/atomic"
	"testing"

	"github.com/pion/rtcp"
	"github.com/pion/webrtc/v4"
)

// TestPublisherGetsNACKs: a camera whose uplink loses packets is asked
// for them again (generic NACK, RFC 4585): the NACK generator, which an
// audio-only PeerConnection never starts, starts when the camera binds.
func TestPublisherGetsNACKs(t *testing.T) {
	env := newEnv(t)
	ctx := testCtx(t)
	a, _ := env.join(t, "3500", "alice")
	ca := newClient(t, 440, 0xA)
	ca.dropEvery = 7
	connect(ctx, t, a, ca, 0)
	var nacks atomic.Int64
	ca.readRTCP(func(kind webrtc.RTPCodecType, _ uint32, p rtcp.Packet) {
		if _, ok := p.(*rtcp.TransportLayerNack); ok && kind == webrtc.RTPCodecTypeVideo {
			nacks.Add(1)
		}
	})
	waitFor(ctx, t, "the camera is asked for its lost packets", func() bool { return nacks.Load() > 0 })
}
