package forwarder

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/interceptor"
	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"go.uber.org/zap"

	"github.com/confd/confd/forwarder/packetcache"
)

// RTPReader is an inbound RTP stream; *webrtc.TrackRemote satisfies it.
type RTPReader interface {
	Read(b []byte) (int, interceptor.Attributes, error)
}

// RTCPWriter sends RTCP; *webrtc.PeerConnection satisfies it.
type RTCPWriter interface {
	WriteRTCP(pkts []rtcp.Packet) error
}

// Kind tells what a Receiver carries.
type Kind int

// Receiver kinds.
const (
	KindVideo Kind = iota // VP8: descriptors parsed, key frames tracked
	KindAudio             // passed through unparsed
)

// ReceiverConfig configures a Receiver.
type ReceiverConfig struct {
	SSRC uint32
	Kind Kind
	// CacheSize is how many packets are kept for NACK replay (default 512,
	// about 2 s of 720p video).
	CacheSize int
	// KeyframeInterval is the least time between two PLIs to the publisher
	// (default 500 ms): enough for an encoder to produce a key frame, short
	// enough that a switching viewer is not kept waiting.
	KeyframeInterval time.Duration
	Log              *zap.Logger
}

// ReceiverStats are the counters of one Receiver.
type ReceiverStats struct {
	Packets, Bytes, Keyframes, Dropped, KeyframeRequests uint64
}

// Receiver reads one published track and fans its packets out to Sinks.
type Receiver struct {
	cfg   ReceiverConfig
	rtcp  RTCPWriter
	cache *packetcache.Cache
	sinks atomic.Pointer[[]Sink]
	mu    sync.Mutex // serialises sink list updates

	kfRequest chan struct{}
	closeOnce sync.Once
	closed    chan struct{}
	done      chan struct{}
	wg        sync.WaitGroup

	// Owned by the reader goroutine.
	hdr rtp.Header
	pkt Packet
	out Scratch

	packets, bytes, keyframes, dropped, kfSent atomic.Uint64
}

// NewReceiver makes a Receiver; Start begins reading.
func NewReceiver(cfg ReceiverConfig, upstream RTCPWriter) *Receiver {
	if cfg.CacheSize == 0 {
		cfg.CacheSize = 512
	}
	if cfg.KeyframeInterval == 0 {
		cfg.KeyframeInterval = 500 * time.Millisecond
	}
	if cfg.Log == nil {
		cfg.Log = zap.NewNop()
	}
	r := &Receiver{
		cfg:       cfg,
		rtcp:      upstream,
		cache:     packetcache.New(cfg.CacheSize),
		kfRequest: make(chan struct{}, 1),
		closed:    make(chan struct{}),
		done:      make(chan struct{}),
	}
	r.pkt.Header = &r.hdr
	r.pkt.Source = r
	r.sinks.Store(&[]Sink{})
	return r
}

// Start runs the reader and key-frame goroutines until src fails or Close.
func (r *Receiver) Start(src RTPReader) {
	r.wg.Add(2)
	go r.readLoop(src)
	go r.keyframeLoop()
	go func() {
		r.wg.Wait()
		close(r.done)
	}()
}

// Close stops the Receiver. The reader goroutine ends when its source
// returns an error (the caller closes the track or PeerConnection).
func (r *Receiver) Close() {
	r.closeOnce.Do(func() { close(r.closed) })
}

// Done is closed when the Receiver's goroutines have ended.
func (r *Receiver) Done() <-chan struct{} { return r.done }

// SSRC is the publisher's SSRC.
func (r *Receiver) SSRC() uint32 { return r.cfg.SSRC }

func (r *Receiver) readLoop(src RTPReader) {
	defer r.wg.Done()
	defer r.Close()
	buf := make([]byte, MaxPacketSize)
	for {
		n, _, err := src.Read(buf)
		if err != nil {
			return
		}
		select {
		case <-r.closed:
			return
		default:
		}
		r.handle(buf[:n], time.Now().UnixNano())
	}
}

// handle processes one raw RTP packet: parse, cache, fan out. It runs on the
// reader goroutine only (or a benchmark standing in for it).
func (r *Receiver) handle(raw []byte, now int64) {
	if !r.parse(raw) {
		r.dropped.Add(1)
		return
	}
	r.packets.Add(1)
	r.bytes.Add(uint64(len(raw)))
	if r.pkt.Keyframe {
		r.keyframes.Add(1)
	}
	r.cache.Store(r.hdr.SequenceNumber, raw)
	r.pkt.Arrival = now
	for _, s := range *r.sinks.Load() {
		s.WriteRTP(&r.pkt, &r.out)
	}
}

// parse fills r.hdr and r.pkt from raw; false means a garbage packet.
func (r *Receiver) parse(raw []byte) bool {
	return parsePacket(&r.pkt, raw, r.cfg.Kind)
}

// parsePacket parses raw into p (whose Header must be set), in place and
// without allocating. A padding-only packet parses with an empty payload so
// that sinks can keep their output numbering contiguous.
func parsePacket(p *Packet, raw []byte, kind Kind) bool {
	n, err := p.Header.Unmarshal(raw)
	if err != nil {
		return false
	}
	end := len(raw)
	if p.Header.Padding {
		pad := int(raw[end-1])
		if pad == 0 || end-pad < n {
			return false
		}
		end -= pad
	}
	p.Payload = raw[n:end]
	p.Keyframe = false
	if kind != KindVideo || len(p.Payload) == 0 {
		return true
	}
	if p.VP8.Unmarshal(p.Payload) != nil {
		return false
	}
	p.Keyframe = p.VP8.Keyframe
	return true
}

// AddSink starts handing packets to s.
func (r *Receiver) AddSink(s Sink) {
	r.mu.Lock()
	defer r.mu.Unlock()
	old := *r.sinks.Load()
	next := make([]Sink, 0, len(old)+1)
	next = append(append(next, old...), s)
	r.sinks.Store(&next)
}

// RemoveSink stops handing packets to s. A packet already being handed out
// may still reach s once.
func (r *Receiver) RemoveSink(s Sink) {
	r.mu.Lock()
	defer r.mu.Unlock()
	old := *r.sinks.Load()
	next := make([]Sink, 0, len(old))
	for _, o := range old {
		if o != s {
			next = append(next, o)
		}
	}
	r.sinks.Store(&next)
}

// Sinks is the number of sinks attached.
func (r *Receiver) Sinks() int { return len(*r.sinks.Load()) }

// RequestKeyframe asks the publisher for a key frame. It never blocks:
// requests are coalesced and throttled by the key-frame goroutine.
func (r *Receiver) RequestKeyframe() {
	select {
	case r.kfRequest <- struct{}{}:
	default:
	}
}

func (r *Receiver) keyframeLoop() {
	defer r.wg.Done()
	if r.cfg.Kind != KindVideo || r.rtcp == nil {
		<-r.closed
		return
	}
	timer := time.NewTimer(0)
	<-timer.C
	var last time.Time
	pli := []rtcp.Packet{&rtcp.PictureLossIndication{MediaSSRC: r.cfg.SSRC}}
	for {
		select {
		case <-r.closed:
			return
		case <-r.kfRequest:
		}
		if wait := r.cfg.KeyframeInterval - time.Since(last); wait > 0 {
			timer.Reset(wait)
			select {
			case <-r.closed:
				return
			case <-timer.C:
			}
		}
		// The PLI about to go out answers every request made until now,
		// including those that arrived while it waited out the throttle;
		// without this a burst would cost a second, redundant PLI one
		// interval later.
		select {
		case <-r.kfRequest:
		default:
		}
		last = time.Now()
		r.kfSent.Add(1)
		if err := r.rtcp.WriteRTCP(pli); err != nil {
			r.cfg.Log.Debug("keyframe request failed", zap.Error(err))
		}
	}
}

// Packet copies the cached packet with sequence number seq into dst.
func (r *Receiver) Packet(seq uint16, dst []byte) (int, bool) {
	return r.cache.Get(seq, dst)
}

// Stats returns the Receiver's counters.
func (r *Receiver) Stats() ReceiverStats {
	return ReceiverStats{
		Packets:          r.packets.Load(),
		Bytes:            r.bytes.Load(),
		Keyframes:        r.keyframes.Load(),
		Dropped:          r.dropped.Load(),
		KeyframeRequests: r.kfSent.Load(),
	}
}
