package vertotest

import (
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/interceptor"
	"github.com/pion/interceptor/pkg/twcc"
	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/sdp/v3"
	"github.com/pion/webrtc/v4"
)

// The client tells confd when each packet reached its socket, as a
// browser does: its network thread stamps every RTP packet carrying a
// transport-wide sequence number on arrival, and it sends transport-wide
// congestion control feedback (TWCC) from those stamps. Stamping when a
// track reader gets round to the packet instead, as a reader-side
// interceptor would, turns a busy test machine's scheduling delays into
// delay and loss confd would take for the network's.

// feedbackInterval is how often the client sends TWCC feedback.
const feedbackInterval = 100 * time.Millisecond

// arrivals is one PeerConnection's record of RTP arrivals at its socket.
type arrivals struct {
	// extID is the negotiated transport-cc header extension ID, 0 until
	// the PeerConnection binds its first stream. Under BUNDLE one ID
	// names the extension on every section.
	extID atomic.Uint32
	start time.Time

	mu  sync.Mutex
	rec *twcc.Recorder
	hdr rtp.Header // reused for every packet: the read path allocates nothing
}

func newArrivals() *arrivals {
	// The feedback's sender SSRC names this client's RTCP source: a
	// random one, never 0, as an endpoint picks its SSRCs (RFC 3550 §8).
	// The media SSRC is set by the recorder: that of the last packet
	// recorded, a stream confd sends on this transport and reads the
	// RTCP of.
	ssrc := rand.Uint32()
	for ssrc == 0 {
		ssrc = rand.Uint32()
	}
	return &arrivals{start: time.Now(), rec: twcc.NewRecorder(ssrc)}
}

// isRTCP tells RTCP from RTP in a datagram that is one of the two (RFC
// 5761 §4): RTCP's packet types 192 to 223 read, without the marker bit,
// as payload types 64 to 95, which RTP does not use.
func isRTCP(b []byte) bool {
	if len(b) < 2 {
		return false
	}
	pt := b[1] & 0x7f
	return pt >= 64 && pt <= 95
}

// record notes datagram b, read from the socket at now, if it is SRTP
// with a transport-wide sequence number. SRTP leaves the RTP header,
// header extensions included, in the clear.
func (a *arrivals) record(b []byte, now time.Time) {
	id := uint8(a.extID.Load())
	if id == 0 || !isRTP(b) || isRTCP(b) {
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if _, err := a.hdr.Unmarshal(b); err != nil {
		return
	}
	var tcc rtp.TransportCCExtension
	if tcc.Unmarshal(a.hdr.GetExtension(id)) != nil {
		return
	}
	a.rec.Record(a.hdr.SSRC, tcc.TransportSequence, now.Sub(a.start).Microseconds())
}

// feedback is the TWCC feedback for what arrived since the last call,
// none when nothing did.
func (a *arrivals) feedback() []rtcp.Packet {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.rec.BuildFeedbackPacket()
}

// learn takes the transport-cc extension ID from a stream the
// PeerConnection binds, all of which carry the negotiated extensions.
func (a *arrivals) learn(info *interceptor.StreamInfo) {
	for _, e := range info.RTPHeaderExtensions {
		if e.URI == sdp.TransportCCURI && e.ID > 0 && e.ID < 256 {
			a.extID.Store(uint32(e.ID))
			return
		}
	}
}

// feedbackFactory makes the interceptor that sends one PeerConnection's
// TWCC feedback; each newPeerConnection registers its own.
type feedbackFactory struct{ a *arrivals }

func (f feedbackFactory) NewInterceptor(string) (interceptor.Interceptor, error) {
	return &feedbackSender{a: f.a, stop: make(chan struct{}), done: make(chan struct{})}, nil
}

// feedbackSender learns the negotiated extension ID from the streams the
// PeerConnection binds and sends the feedback until the PeerConnection
// closes. It records nothing itself: the socket does.
type feedbackSender struct {
	interceptor.NoOp
	a *arrivals

	once    sync.Once // starts the loop
	stopped sync.Once
	started atomic.Bool
	stop    chan struct{}
	done    chan struct{}
}

// BindRTCPWriter is called once, as the PeerConnection is made: w is
// the way out for its RTCP (pc.WriteRTCP writes through it too).
func (s *feedbackSender) BindRTCPWriter(w interceptor.RTCPWriter) interceptor.RTCPWriter {
	s.once.Do(func() {
		s.started.Store(true)
		go s.loop(w)
	})
	return w
}

func (s *feedbackSender) BindLocalStream(info *interceptor.StreamInfo, w interceptor.RTPWriter) interceptor.RTPWriter {
	s.a.learn(info)
	return w
}

func (s *feedbackSender) BindRemoteStream(info *interceptor.StreamInfo, r interceptor.RTPReader) interceptor.RTPReader {
	s.a.learn(info)
	return r
}

// Close is called when the PeerConnection closes.
func (s *feedbackSender) Close() error {
	s.stopped.Do(func() { close(s.stop) })
	s.once.Do(func() {}) // a loop not started by now never starts
	if s.started.Load() {
		<-s.done
	}
	return nil
}

func (s *feedbackSender) loop(w interceptor.RTCPWriter) {
	defer close(s.done)
	t := time.NewTicker(feedbackInterval)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
		}
		if pkts := s.a.feedback(); len(pkts) > 0 {
			// Errors are those of a transport not yet or no longer
			// up; the next feedback reports the same packets' successors.
			_, _ = w.Write(pkts, interceptor.Attributes{})
		}
	}
}

// configureInterceptors gives a PeerConnection what pion's default
// interceptors do (NACK, RTCP reports, the simulcast header extensions,
// stats) with transport-wide congestion control feedback from a, which
// the client's sockets feed.
func configureInterceptors(me *webrtc.MediaEngine, reg *interceptor.Registry, a *arrivals) error {
	if err := webrtc.ConfigureNack(me, reg); err != nil {
		return err
	}
	if err := webrtc.ConfigureRTCPReports(reg); err != nil {
		return err
	}
	if err := webrtc.ConfigureSimulcastExtensionHeaders(me); err != nil {
		return err
	}
	if err := webrtc.ConfigureStatsInterceptor(reg); err != nil {
		return err
	}
	for _, kind := range []webrtc.RTPCodecType{webrtc.RTPCodecTypeAudio, webrtc.RTPCodecTypeVideo} {
		me.RegisterFeedback(webrtc.RTCPFeedback{Type: webrtc.TypeRTCPFBTransportCC}, kind)
		if err := me.RegisterHeaderExtension(webrtc.RTPHeaderExtensionCapability{URI: sdp.TransportCCURI}, kind); err != nil {
			return err
		}
	}
	reg.Add(feedbackFactory{a})
	return nil
}
