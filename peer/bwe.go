package peer

import (
	"strings"
	"sync"
	"time"

	"github.com/pion/interceptor"
	"github.com/pion/interceptor/pkg/twcc"
	"github.com/pion/rtp"
	"github.com/pion/sdp/v3"
	"github.com/pion/webrtc/v4"
	"go.uber.org/zap"

	"github.com/confd/confd/bwe"
	"github.com/confd/confd/forwarder"
)

// Send-side bandwidth estimation (transport-wide congestion control,
// draft-holmer-rmcat-transport-wide-cc-extensions) bounds. The estimate
// starts where a broadband viewer of one 720p speaker and a few
// thumbnails fits: the loss-based controller takes it down within a
// second where that is too much, while starting low would show every
// viewer the small layer for the many seconds GCC takes to climb.
const (
	bweInitial = 2_500_000
	bweMin     = 100_000
	bweMax     = 20_000_000
)

// bweHandoff carries the estimator the interceptor makes for a new
// PeerConnection (inside webrtc.API.NewPeerConnection) to the caller,
// which holds mu across that call.
type bweHandoff struct {
	mu   sync.Mutex
	last *bwe.Estimator
}

// configureBWE has every PeerConnection estimate its send bandwidth with
// confd's estimator (package bwe) from the subscriber's transport-wide CC
// feedback. Its interceptor numbers each outgoing video packet, records
// it in the estimator's history and hands the subscriber's RTCP to the
// estimator as it is read: no goroutine, lock or allocation per packet,
// and feedback is taken in on the goroutine that read it. Packets are not
// paced: the forwarder already sends at the rate of the layers it picks.
func configureBWE(me *webrtc.MediaEngine, reg *interceptor.Registry, h *bweHandoff) error {
	reg.Add(estimatorFactory{h})
	// Transport-wide sequence numbers go on video alone, both ways: the
	// estimate is what the slots share, and audio (one mix stream out, a
	// microphone in, a few tens of kbit/s) neither adapts to it nor needs
	// feedback. Numbering audio too would cost every mixed member a
	// feedback clock (ten RTCP packets a second) and every mix packet the
	// estimator's bookkeeping.
	if err := me.RegisterHeaderExtension(webrtc.RTPHeaderExtensionCapability{URI: sdp.TransportCCURI}, webrtc.RTPCodecTypeVideo); err != nil {
		return err
	}
	// Publishers get transport-wide CC feedback in turn: a browser sizes
	// its simulcast encodings by its own send-side estimate, which without
	// feedback stays at its start value and leaves the large layer off.
	me.RegisterFeedback(webrtc.RTCPFeedback{Type: webrtc.TypeRTCPFBTransportCC}, webrtc.RTPCodecTypeVideo)
	gen, err := twcc.NewSenderInterceptor()
	if err != nil {
		return err
	}
	reg.Add(gen)
	return nil
}

// estimatorFactory makes each PeerConnection's estimator and the
// interceptor that feeds it.
type estimatorFactory struct{ h *bweHandoff }

// NewInterceptor implements interceptor.Factory; it runs inside
// NewPeerConnection, under the handoff's mu.
func (f estimatorFactory) NewInterceptor(string) (interceptor.Interceptor, error) {
	e := bwe.New(bwe.Config{Initial: bweInitial, Min: bweMin, Max: bweMax})
	f.h.last = e
	return &estimating{est: e}, nil
}

// estimating is the interceptor between a PeerConnection and its
// estimator.
type estimating struct {
	interceptor.NoOp
	est *bwe.Estimator
}

// BindLocalStream numbers a video stream's packets. An audio stream, or
// one whose answer left the extension out, passes by.
func (e *estimating) BindLocalStream(info *interceptor.StreamInfo, w interceptor.RTPWriter) interceptor.RTPWriter {
	if !strings.HasPrefix(strings.ToLower(info.MimeType), "video/") {
		return w
	}
	var id uint8
	for _, x := range info.RTPHeaderExtensions {
		if x.URI == sdp.TransportCCURI {
			id = uint8(x.ID)
		}
	}
	if id == 0 {
		return w
	}
	est := e.est
	est.Start()
	return interceptor.RTPWriterFunc(func(h *rtp.Header, payload []byte, a interceptor.Attributes) (int, error) {
		seq, ext := est.Stamp()
		if err := h.SetExtension(id, ext); err != nil {
			return 0, err
		}
		est.Sent(seq, h.MarshalSize()+len(payload), time.Now().UnixNano())
		return w.Write(h, payload, a)
	})
}

// BindRTCPReader hands the estimator the feedback in what the subscriber
// sends; the packets go on to the next reader whole, as read. A
// malformed feedback message is counted by the estimator (Stats) and
// left to the reader after.
func (e *estimating) BindRTCPReader(r interceptor.RTCPReader) interceptor.RTCPReader {
	est := e.est
	return interceptor.RTCPReaderFunc(func(b []byte, a interceptor.Attributes) (int, interceptor.Attributes, error) {
		n, a, err := r.Read(b, a)
		if err == nil {
			_ = est.RTCP(b[:n], time.Now().UnixNano())
		}
		return n, a, err
	})
}

// downlink is one PeerConnection's bandwidth estimate and the Allocator
// that shares it among the peer's slots. Its goroutine runs until the
// PeerConnection closes (or the peer does).
type downlink struct {
	pc    *webrtc.PeerConnection
	est   *bwe.Estimator // nil when the registry made none
	alloc *forwarder.Allocator
	stop  chan struct{}
	once  sync.Once
}

func (d *downlink) close() {
	if d != nil {
		d.once.Do(func() { close(d.stop) })
	}
}

// newDownlink gives pc an Allocator fed by its estimator (nil when the
// registry made none).
func newDownlink(pc *webrtc.PeerConnection, est *bwe.Estimator, log *zap.Logger) *downlink {
	cfg := forwarder.AllocatorConfig{Log: log}
	if est != nil {
		cfg.Congestion = func() forwarder.Congestion {
			loss, over := est.Congestion()
			return forwarder.Congestion{Loss: loss, Overuse: over}
		}
	}
	d := &downlink{pc: pc, est: est, alloc: forwarder.NewAllocator(cfg), stop: make(chan struct{})}
	if est != nil {
		est.OnTarget(d.alloc.SetEstimate)
	}
	return d
}
