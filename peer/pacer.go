package peer

import (
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/pion/interceptor"
	"github.com/pion/rtp"
)

// directPacer is the send-side estimator's pacer (gcc.Pacer): it sends
// every packet at once, as the forwarder already sends at the rate of the
// layers it picks. It differs from pion's own no-op pacer in the two
// things the packet path needs:
//
//   - no lock across the write: its streams are a copy-on-write map read
//     with one atomic load, so the slots and the mix of one PeerConnection
//     write concurrently, each down to its own socket write;
//   - no allocation: a packet that comes without attributes (a track's
//     WriteRTP passes none) gets a map from a pool, in which the estimator
//     notes the transport-wide sequence number's extension ID instead of
//     making a map of its own for every packet. Nothing below the pacer
//     keeps the map past the write.
type directPacer struct {
	streams atomic.Pointer[map[uint32]interceptor.RTPWriter]
	mu      sync.Mutex // serialises AddStream
}

// attributesPool holds the attribute maps lent to packets for one write.
var attributesPool = sync.Pool{New: func() any { return make(interceptor.Attributes, 1) }}

func newDirectPacer() *directPacer {
	p := &directPacer{}
	p.streams.Store(&map[uint32]interceptor.RTPWriter{})
	return p
}

// AddStream implements gcc.Pacer: packets with ssrc go to w.
func (p *directPacer) AddStream(ssrc uint32, w interceptor.RTPWriter) {
	p.mu.Lock()
	defer p.mu.Unlock()
	old := *p.streams.Load()
	next := make(map[uint32]interceptor.RTPWriter, len(old)+1)
	for k, v := range old {
		next[k] = v
	}
	next[ssrc] = w
	p.streams.Store(&next)
}

// errUnknownStream is a packet whose SSRC was never added.
var errUnknownStream = fmt.Errorf("peer: pacer: unknown ssrc")

// Write implements interceptor.RTPWriter.
func (p *directPacer) Write(h *rtp.Header, payload []byte, a interceptor.Attributes) (int, error) {
	w, ok := (*p.streams.Load())[h.SSRC]
	if !ok {
		return 0, errUnknownStream
	}
	if a != nil {
		return w.Write(h, payload, a)
	}
	a = attributesPool.Get().(interceptor.Attributes)
	n, err := w.Write(h, payload, a)
	attributesPool.Put(a)
	return n, err
}

// SetTargetBitrate implements gcc.Pacer: the rate is not paced.
func (*directPacer) SetTargetBitrate(int) {}

// Close implements gcc.Pacer.
func (*directPacer) Close() error { return nil }
