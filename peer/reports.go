package peer

import (
	"sync"

	"github.com/pion/interceptor"
	"github.com/pion/rtcp"
)

// quietReceiverReports wraps the RTCP receiver-report generator so that a
// PeerConnection does not report, every second, on a stream that has
// told it nothing since its last report: no packet and no sender report
// (a muted microphone that sends nothing, a camera section never used).
// Such a report repeats the last one word for word; leaving it out costs
// the sender nothing (ICE consent, not RTCP, says the path is alive) and
// saves an idle member an encrypted packet and a wake-up a second.
type quietReceiverReports struct{ inner interceptor.Factory }

// NewInterceptor implements interceptor.Factory.
func (f quietReceiverReports) NewInterceptor(id string) (interceptor.Interceptor, error) {
	in, err := f.inner.NewInterceptor(id)
	if err != nil {
		return nil, err
	}
	return &quietReports{Interceptor: in}, nil
}

type quietReports struct {
	interceptor.Interceptor
	mu   sync.Mutex
	last map[uint32]rrState // per reported SSRC, what its last report said
}

type rrState struct{ seq, lsr uint32 }

// BindRTCPWriter gives the generator a writer that drops stale reports;
// the interceptors after it write to w as before.
func (q *quietReports) BindRTCPWriter(w interceptor.RTCPWriter) interceptor.RTCPWriter {
	q.Interceptor.BindRTCPWriter(interceptor.RTCPWriterFunc(func(pkts []rtcp.Packet, a interceptor.Attributes) (int, error) {
		if q.stale(pkts) {
			return 0, nil
		}
		return w.Write(pkts, a)
	}))
	return w
}

// stale says pkts is one receiver report of one stream that says what
// the stream's previous report said (a stream never heard from reports
// sequence number 0 and no sender report).
func (q *quietReports) stale(pkts []rtcp.Packet) bool {
	if len(pkts) != 1 {
		return false
	}
	rr, ok := pkts[0].(*rtcp.ReceiverReport)
	if !ok || len(rr.Reports) != 1 {
		return false
	}
	r := rr.Reports[0]
	now := rrState{seq: r.LastSequenceNumber, lsr: r.LastSenderReport}
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.last == nil {
		q.last = map[uint32]rrState{}
	}
	prev := q.last[r.SSRC]
	q.last[r.SSRC] = now
	return prev == now
}
