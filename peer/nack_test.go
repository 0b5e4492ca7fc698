package peer

import (
	"sync/atomic"
	"testing"

	"github.com/pion/rtcp"
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
	for _, s := range ca.pc.GetSenders() {
		if s.Track() != ca.video {
			continue
		}
		ca.wg.Add(1)
		go func() {
			defer ca.wg.Done()
			for {
				pkts, _, err := s.ReadRTCP()
				if err != nil {
					return
				}
				for _, p := range pkts {
					if _, ok := p.(*rtcp.TransportLayerNack); ok {
						nacks.Add(1)
					}
				}
			}
		}()
	}
	waitFor(ctx, t, "the camera is asked for its lost packets", func() bool { return nacks.Load() > 0 })
}
