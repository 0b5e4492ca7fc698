package peer

import (
	"strings"
	"sync"

	"github.com/pion/interceptor"
	"github.com/pion/interceptor/pkg/cc"
	"github.com/pion/interceptor/pkg/gcc"
	"github.com/pion/interceptor/pkg/twcc"
	"github.com/pion/sdp/v3"
	"github.com/pion/webrtc/v4"
	"go.uber.org/zap"

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

// bweHandoff carries the estimator the cc interceptor makes for a new
// PeerConnection (inside webrtc.API.NewPeerConnection) to the caller,
// which holds mu across that call.
type bweHandoff struct {
	mu   sync.Mutex
	last cc.BandwidthEstimator
}

// configureBWE has every PeerConnection estimate its send bandwidth with
// pion's GCC from the subscriber's transport-wide CC feedback. The cc
// interceptor must come before the one that numbers outgoing packets, so
// that it sees their transport sequence numbers. Packets are not paced:
// the forwarder already sends at the rate of the layers it picks, and a
// pacer would queue (and copy) every packet; directPacer (pacer.go) hands
// each on at once, with no lock across the write and no allocation.
func configureBWE(me *webrtc.MediaEngine, reg *interceptor.Registry, h *bweHandoff) error {
	f, err := cc.NewInterceptor(func() (cc.BandwidthEstimator, error) {
		return gcc.NewSendSideBWE(gcc.SendSideBWEInitialBitrate(bweInitial), gcc.SendSideBWEMinBitrate(bweMin),
			gcc.SendSideBWEMaxBitrate(bweMax), gcc.SendSideBWEPacer(newDirectPacer()))
	})
	if err != nil {
		return err
	}
	f.OnNewPeerConnection(func(_ string, est cc.BandwidthEstimator) { h.last = est })
	reg.Add(videoOnly{f})
	// Transport-wide sequence numbers go on video alone, both ways: the
	// estimate is what the slots share, and audio (one mix stream out, a
	// microphone in, a few tens of kbit/s) neither adapts to it nor needs
	// feedback. Numbering audio too would cost every mixed member a
	// feedback clock (ten RTCP packets a second) and every mix packet the
	// estimator's bookkeeping.
	if err := me.RegisterHeaderExtension(webrtc.RTPHeaderExtensionCapability{URI: sdp.TransportCCURI}, webrtc.RTPCodecTypeVideo); err != nil {
		return err
	}
	ext, err := twcc.NewHeaderExtensionInterceptor()
	if err != nil {
		return err
	}
	reg.Add(ext)
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

// videoOnly puts the send-side estimator in the way of video streams
// alone: an audio stream's packets carry no transport-wide sequence
// number, so the estimator could only keep a record of them that no
// feedback ever answers.
type videoOnly struct{ inner interceptor.Factory }

// NewInterceptor implements interceptor.Factory.
func (f videoOnly) NewInterceptor(id string) (interceptor.Interceptor, error) {
	in, err := f.inner.NewInterceptor(id)
	if err != nil {
		return nil, err
	}
	return videoOnlyInterceptor{in}, nil
}

type videoOnlyInterceptor struct{ interceptor.Interceptor }

// BindLocalStream passes audio streams by.
func (v videoOnlyInterceptor) BindLocalStream(info *interceptor.StreamInfo, w interceptor.RTPWriter) interceptor.RTPWriter {
	if !strings.HasPrefix(strings.ToLower(info.MimeType), "video/") {
		return w
	}
	return v.Interceptor.BindLocalStream(info, w)
}

// UnbindLocalStream implements interceptor.Interceptor.
func (v videoOnlyInterceptor) UnbindLocalStream(info *interceptor.StreamInfo) {
	if strings.HasPrefix(strings.ToLower(info.MimeType), "video/") {
		v.Interceptor.UnbindLocalStream(info)
	}
}

// downlink is one PeerConnection's bandwidth estimate and the Allocator
// that shares it among the peer's slots. Its goroutine runs until the
// PeerConnection closes (or the peer does).
type downlink struct {
	pc    *webrtc.PeerConnection
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
func newDownlink(pc *webrtc.PeerConnection, est cc.BandwidthEstimator, log *zap.Logger) *downlink {
	cfg := forwarder.AllocatorConfig{Log: log}
	if est != nil {
		cfg.Congestion = func() forwarder.Congestion {
			st := est.GetStats()
			loss, _ := st["averageLoss"].(float64)
			usage, _ := st["usage"].(string)
			return forwarder.Congestion{Loss: loss, Overuse: usage == "overuse"}
		}
	}
	d := &downlink{pc: pc, alloc: forwarder.NewAllocator(cfg), stop: make(chan struct{})}
	if est != nil {
		est.OnTargetBitrateChange(d.alloc.SetEstimate)
	}
	return d
}
