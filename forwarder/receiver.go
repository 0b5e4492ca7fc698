package forwarder

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/interceptor"
	"github.com/pion/rtcp"
	"go.uber.org/zap"

	"github.com/confd/confd/forwarder/vp8"
	"github.com/confd/confd/rtpparse"
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
	// SSRC is the publisher's SSRC for a single-layer track (Start).
	// Simulcast layers name their own (AddLayer).
	SSRC uint32
	Kind Kind
	// CacheSize is how many packets are kept per layer for NACK replay
	// (default 512, about 2 s of 720p video).
	CacheSize int
	// KeyframeInterval is the least time between two PLIs to the publisher
	// for one layer (default 500 ms): enough for an encoder to produce a
	// key frame, short enough that a switching viewer is not kept waiting.
	KeyframeInterval time.Duration
	// SwitchKeyframeWait is how long after a layer's last key frame a slot
	// that switches up to it, with a picture on its screen meanwhile,
	// waits for the publisher's own next key frame before asking for one
	// (default 4 s). Every viewer of a layer receives each of its key
	// frames, switching or not: a publisher that makes key frames at
	// least this often is never asked for more by switches, and one that
	// makes them less often is asked for at most one per layer per wait.
	// A negative wait has switches ask at once, as any other request.
	SwitchKeyframeWait time.Duration
	Log                *zap.Logger
	// Burst, when set, is held across each packet's fan-out, so that the
	// network can send the copies for every viewer together.
	Burst Burster
}

// Burster gathers the packets written between Hold and Release into one
// send (medianet.Net is one).
type Burster interface {
	Hold()
	Release()
}

// ReceiverStats are the counters of one Receiver, summed over its layers.
type ReceiverStats struct {
	Packets, Bytes, Keyframes, Dropped, KeyframeRequests uint64
}

// Receiver reads one published track, one layer per simulcast encoding
// (RFC 8853), and fans the packets of every layer out to its Sinks. A
// single-layer track is a Receiver with one layer.
type Receiver struct {
	cfg    ReceiverConfig
	rtcp   RTCPWriter
	layers [MaxLayers]atomic.Pointer[layer]
	sinks  atomic.Pointer[[]Sink]
	mu     sync.Mutex // serialises sink list and layer list updates, and Close

	kfPending atomic.Uint32 // bit i: a key frame of layer i is wanted
	kfSwitch  atomic.Uint32 // bit i: a key frame of layer i is wanted for a switch up (SwitchKeyframeWait)
	kfSignal  chan struct{}
	// demandSignal wakes the control goroutine when a slot wants a layer
	// that is paused.
	demandSignal chan struct{}
	demand       demand
	closed       chan struct{}
	isClosed     bool // guarded by mu
	started      bool // guarded by mu: the key-frame goroutine runs
	done         chan struct{}
	wg           sync.WaitGroup

	kfSent atomic.Uint64
	// clock is the time packets are stamped with and layers measured at,
	// in nanoseconds; tests replace it.
	clock func() int64
}

func wallClock() int64 { return time.Now().UnixNano() }

// NewReceiver makes a Receiver with no layer yet: Start or AddLayer give it
// its layers and begin reading.
func NewReceiver(cfg ReceiverConfig, upstream RTCPWriter) *Receiver {
	if cfg.CacheSize == 0 {
		cfg.CacheSize = 512
	}
	if cfg.KeyframeInterval == 0 {
		cfg.KeyframeInterval = 500 * time.Millisecond
	}
	if cfg.SwitchKeyframeWait == 0 {
		cfg.SwitchKeyframeWait = 4 * time.Second
	}
	if cfg.Log == nil {
		cfg.Log = zap.NewNop()
	}
	r := &Receiver{
		cfg:          cfg,
		rtcp:         upstream,
		kfSignal:     make(chan struct{}, 1),
		demandSignal: make(chan struct{}, 1),
		closed:       make(chan struct{}),
		done:         make(chan struct{}),
	}
	r.clock = wallClock
	r.sinks.Store(&[]Sink{})
	return r
}

// Start reads a single-layer track from src (layer 0, SSRC from the
// config) until src fails or Close.
func (r *Receiver) Start(src RTPReader) {
	_ = r.AddLayer(0, "", r.cfg.SSRC, src)
}

// AddLayer starts reading simulcast layer index (0 is the smallest) with
// the given rid and SSRC from src. It fails with ErrClosed after Close and
// ErrLayerTaken when index is out of range or already read.
func (r *Receiver) AddLayer(index int, rid string, ssrc uint32, src RTPReader) error {
	if err := r.addLayer(index, rid, ssrc, src); err != nil {
		return err
	}
	r.retargetSinks()
	return nil
}

// retargetSinks has every slot watching the Receiver choose its layer
// again: a layer was added.
func (r *Receiver) retargetSinks() {
	for _, s := range *r.sinks.Load() {
		if dt, ok := s.(*DownTrack); ok {
			dt.retarget()
		}
	}
}

func (r *Receiver) addLayer(index int, rid string, ssrc uint32, src RTPReader) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	switch {
	case r.isClosed:
		return ErrClosed
	case index < 0 || index >= MaxLayers || r.layers[index].Load() != nil:
		return ErrLayerTaken
	}
	l := r.putLayerLocked(index, rid, ssrc)
	if !r.started {
		r.started = true
		r.wg.Add(1)
		go r.controlLoop()
		go func() {
			<-r.closed
			r.wg.Wait()
			close(r.done)
		}()
	}
	r.wg.Add(1)
	go r.readLoop(l, src)
	return nil
}

// putLayerLocked creates layer index, without reading it.
func (r *Receiver) putLayerLocked(index int, rid string, ssrc uint32) *layer {
	l := newLayer(index, rid, ssrc, r.cfg.CacheSize, r)
	r.layers[index].Store(l)
	return l
}

// Close stops the Receiver. Its readers end when their sources return an
// error (the caller closes the track or PeerConnection).
func (r *Receiver) Close() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.isClosed {
		r.isClosed = true
		close(r.closed)
	}
}

// Done is closed when the Receiver is closed and its goroutines have ended.
func (r *Receiver) Done() <-chan struct{} { return r.done }

// SSRC is the publisher's SSRC of the lowest layer.
func (r *Receiver) SSRC() uint32 {
	for i := range r.layers {
		if l := r.layers[i].Load(); l != nil {
			return l.ssrc
		}
	}
	return r.cfg.SSRC
}

// Layers describes the layers read so far, smallest first, measured now.
func (r *Receiver) Layers() []LayerInfo {
	return r.layersAt(r.clock())
}

func (r *Receiver) layersAt(now int64) []LayerInfo {
	var out []LayerInfo
	for i := range r.layers {
		if l := r.layers[i].Load(); l != nil {
			out = append(out, l.info(now))
		}
	}
	r.availability(out, now)
	return out
}

func (r *Receiver) layer(i int) *layer {
	if i < 0 || i >= MaxLayers {
		return nil
	}
	return r.layers[i].Load()
}

func (r *Receiver) readLoop(l *layer, src RTPReader) {
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
		r.handleLayer(l, buf[:n], r.clock())
	}
}

// handle processes one raw RTP packet of layer 0 (tests and benchmarks
// stand in for its reader goroutine with it).
func (r *Receiver) handle(raw []byte, now int64) {
	r.handleLayer(r.layers[0].Load(), raw, now)
}

// handleLayer processes one raw RTP packet of l: parse, account, cache,
// fan out. It runs on l's reader goroutine only.
func (r *Receiver) handleLayer(l *layer, raw []byte, now int64) {
	if !parsePacket(&l.pkt, raw, r.cfg.Kind) {
		l.dropped.Add(1)
		return
	}
	l.account(raw, now)
	if l.pkt.Keyframe {
		if bit := uint32(1) << l.index; r.kfSwitch.Load()&bit != 0 {
			r.kfSwitch.And(^bit) // the publisher's own key frame serves the switch
		}
	}
	l.cache.Store(l.hdr.SequenceNumber, raw)
	l.pkt.Arrival = now
	sinks := *r.sinks.Load()
	if b := r.cfg.Burst; b != nil && len(sinks) > 1 {
		b.Hold()
		defer b.Release()
	}
	for _, s := range sinks {
		s.WriteRTP(&l.pkt, &l.out)
	}
}

// parsePacket parses raw into p (whose Header must be set), in place and
// without allocating. A padding-only packet parses with an empty payload so
// that sinks can keep their output numbering contiguous.
func parsePacket(p *Packet, raw []byte, kind Kind) bool {
	payload, err := rtpparse.Parse(raw, p.Header)
	if err != nil {
		return false
	}
	p.Payload = payload
	p.Keyframe = false
	p.VP8 = vp8.Descriptor{}
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

// RequestKeyframe asks the publisher for a key frame of every layer. It
// never blocks: requests are coalesced and throttled per layer by the
// key-frame goroutine.
func (r *Receiver) RequestKeyframe() {
	var mask uint32
	for i := range r.layers {
		if r.layers[i].Load() != nil {
			mask |= 1 << i
		}
	}
	r.requestKeyframes(mask)
}

// RequestLayerKeyframe asks for a key frame of one layer, as RequestKeyframe.
func (r *Receiver) RequestLayerKeyframe(layer int) {
	if layer >= 0 && layer < MaxLayers {
		r.requestKeyframes(1 << layer)
	}
}

// RequestSwitchKeyframe asks for a key frame of layer for a slot that
// switches up to it and shows another layer meanwhile: the request waits
// for the publisher's own key frame up to SwitchKeyframeWait after the
// layer's last one, and is dropped when one comes.
func (r *Receiver) RequestSwitchKeyframe(layer int) {
	if layer < 0 || layer >= MaxLayers {
		return
	}
	bit := uint32(1) << layer
	if r.cfg.SwitchKeyframeWait < 0 {
		r.requestKeyframes(bit)
		return
	}
	if r.kfSwitch.Or(bit)&bit == bit {
		return // already waiting
	}
	select {
	case r.kfSignal <- struct{}{}:
	default:
	}
}

func (r *Receiver) requestKeyframes(mask uint32) {
	if mask == 0 {
		return
	}
	if r.kfPending.Or(mask)&mask == mask {
		return // already pending: the signal is on its way
	}
	select {
	case r.kfSignal <- struct{}{}:
	default:
	}
}

// demandTick is how often the control goroutine re-evaluates which layers
// the publisher should send: a fraction of PauseAfter, so a pause comes at
// most a quarter late.
const demandTick = PauseAfter / 4

// controlLoop is the Receiver's control goroutine. It sends the PLIs
// (RFC 4585 §6.3.1) the layers' requests ask for, at most one per layer
// per KeyframeInterval: one PLI answers every request for its layer made
// before it went out, however many slots asked, so a hundred viewers
// switching at once cost the publisher one key frame. It also decides
// which layers the publisher should send.
func (r *Receiver) controlLoop() {
	defer r.wg.Done()
	if r.cfg.Kind != KindVideo {
		<-r.closed
		return
	}
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	tick := time.NewTicker(demandTick)
	defer tick.Stop()
	var last [MaxLayers]time.Time
	for {
		select {
		case <-r.closed:
			return
		case <-r.kfSignal:
		case <-timer.C:
		case <-r.demandSignal:
			r.updateDemand(r.clock())
			continue
		case <-tick.C:
			r.updateDemand(r.clock())
			continue
		}
		if wait := r.sendDuePLIs(&last); wait > 0 {
			timer.Reset(wait)
		}
	}
}

// sendDuePLIs sends a PLI for every pending layer whose throttle has
// passed and returns how long until the next pending one may go (0: none
// is pending).
func (r *Receiver) sendDuePLIs(last *[MaxLayers]time.Time) time.Duration {
	var wait time.Duration
	later := func(left time.Duration) {
		if wait == 0 || left < wait {
			wait = left
		}
	}
	pending, switching := r.kfPending.Load(), r.kfSwitch.Load()
	for i := range MaxLayers {
		bit := uint32(1) << i
		if (pending|switching)&bit == 0 {
			continue
		}
		l := r.layers[i].Load()
		if l == nil {
			r.kfPending.And(^bit) // no such layer: nothing to ask for
			r.kfSwitch.And(^bit)
			continue
		}
		if pending&bit == 0 {
			// Only a switch asks: wait for the publisher's own key frame.
			since := time.Duration(r.clock() - l.lastKeyframe.Load())
			if left := r.cfg.SwitchKeyframeWait - since; left > 0 {
				later(left)
				continue
			}
		}
		if left := r.cfg.KeyframeInterval - time.Since(last[i]); left > 0 {
			later(left)
			continue
		}
		// The PLI about to go out answers every request made until now,
		// including those that arrived while it waited out the throttle;
		// without clearing them here a burst would cost a second,
		// redundant PLI one interval later.
		r.kfPending.And(^bit)
		r.kfSwitch.And(^bit)
		if r.rtcp == nil {
			continue
		}
		last[i] = time.Now()
		r.kfSent.Add(1)
		if err := r.rtcp.WriteRTCP(l.pli); err != nil {
			r.cfg.Log.Debug("keyframe request failed", zap.Int("layer", i), zap.Error(err))
		}
	}
	return wait
}

// Packet copies the cached packet of layer 0 with sequence number seq into
// dst.
func (r *Receiver) Packet(seq uint16, dst []byte) (int, bool) {
	return r.LayerPacket(0, seq, dst)
}

// LayerPacket copies the cached packet of layer with sequence number seq
// into dst.
func (r *Receiver) LayerPacket(layer int, seq uint16, dst []byte) (int, bool) {
	l := r.layer(layer)
	if l == nil {
		return 0, false
	}
	return l.cache.Get(seq, dst)
}

// SenderReport records an RTCP sender report (RFC 3550 §6.4.1) the
// publisher sent for the layer whose SSRC is ssrc: ntp is its 64-bit NTP
// timestamp, rtpTS the layer's RTP timestamp at that instant. A slot that
// switches between two layers of this Receiver uses their latest reports
// to keep its timestamps exactly on the publisher's capture clock
// (Munger.SwitchAligned). Reports for an SSRC no layer has are ignored,
// and so are those of a layer that sent no packet in the last
// senderReportMaxSilence. It may be called from any goroutine; reports
// come about once a second per layer.
func (r *Receiver) SenderReport(ssrc uint32, ntp uint64, rtpTS uint32) {
	now := r.clock()
	for i := range r.layers {
		l := r.layers[i].Load()
		if l == nil || l.ssrc != ssrc {
			continue
		}
		if last := l.lastArrival.Load(); last != 0 && now-last <= int64(senderReportMaxSilence) {
			l.setSenderReport(SenderReport{NTP: ntp, RTP: rtpTS, Arrival: now})
		}
		return
	}
}

// senderReport is the latest sender report of layer (zero: none, or no
// such layer).
func (r *Receiver) senderReport(layer int) SenderReport {
	if l := r.layer(layer); l != nil {
		return l.senderReport()
	}
	return SenderReport{}
}

// Stats returns the Receiver's counters.
func (r *Receiver) Stats() ReceiverStats {
	s := ReceiverStats{KeyframeRequests: r.kfSent.Load()}
	for i := range r.layers {
		if l := r.layers[i].Load(); l != nil {
			s.Packets += l.packets.Load()
			s.Bytes += l.bytes.Load()
			s.Keyframes += l.keyframes.Load()
			s.Dropped += l.dropped.Load()
		}
	}
	return s
}
