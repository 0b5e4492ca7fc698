package peer

import (
	"sync"

	"github.com/pion/interceptor"
)

// lazyNACKFactory makes each PeerConnection's NACK generator start its
// clock only when the PeerConnection receives a stream that takes NACKs
// (a camera): pion's generator wakes every 100 ms from the moment the
// PeerConnection exists, which for the many members who send no video
// (an audio-only browser, a listener, a WHEP viewer) is ten wake-ups a
// second for nothing.
type lazyNACKFactory struct{ inner interceptor.Factory }

// NewInterceptor implements interceptor.Factory.
func (f lazyNACKFactory) NewInterceptor(id string) (interceptor.Interceptor, error) {
	in, err := f.inner.NewInterceptor(id)
	if err != nil {
		return nil, err
	}
	return &lazyNACK{Interceptor: in}, nil
}

// lazyNACK is one PeerConnection's NACK generator, its RTCP writer held
// back until a NACK-able stream binds.
type lazyNACK struct {
	interceptor.Interceptor
	mu      sync.Mutex
	writer  interceptor.RTCPWriter // the PeerConnection's, until started
	started bool
}

// BindRTCPWriter keeps the writer for the generator's start.
func (l *lazyNACK) BindRTCPWriter(w interceptor.RTCPWriter) interceptor.RTCPWriter {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.started {
		return l.Interceptor.BindRTCPWriter(w)
	}
	l.writer = w
	return w
}

// BindRemoteStream starts the generator on the first stream it would
// ask retransmissions for.
func (l *lazyNACK) BindRemoteStream(info *interceptor.StreamInfo, r interceptor.RTPReader) interceptor.RTPReader {
	if takesNACK(info) {
		l.mu.Lock()
		if !l.started && l.writer != nil {
			l.started = true
			l.Interceptor.BindRTCPWriter(l.writer)
			l.writer = nil
		}
		l.mu.Unlock()
	}
	return l.Interceptor.BindRemoteStream(info, r)
}

// takesNACK says the stream's codec negotiated generic NACK (RFC 4585).
func takesNACK(info *interceptor.StreamInfo) bool {
	for _, fb := range info.RTCPFeedback {
		if fb.Type == "nack" && fb.Parameter == "" {
			return true
		}
	}
	return false
}
