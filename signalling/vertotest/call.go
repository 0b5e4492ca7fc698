package vertotest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/pion/ice/v4"
	"github.com/pion/interceptor"
	"github.com/pion/rtcp"
	"github.com/pion/webrtc/v4"

	"github.com/confd/confd/forwarder/forwardertest"
)

// CallOptions shape a call's offer.
type CallOptions struct {
	Dest    string
	Name    string
	Slots   int  // video sections the client receives on (the first also sends the camera)
	Publish bool // send a synthetic VP8 camera
	SSRC    uint32
	// IVF, when set, publishes this VP8 file (looped) instead of the
	// synthetic camera, for receivers that decode, such as browsers.
	IVF string
	// ToneHz makes the microphone send a sine at this frequency, Opus
	// encoded; 0 sends silence.
	ToneHz float64
	// ScreenShare offers one send-only video section (the synthetic camera
	// with SSRC) and no audio, as Verto clients share a screen.
	ScreenShare bool
	// Simulcast publishes the synthetic camera as three encodings, rids
	// q, h and f at 320x180, 640x360 and 1280x720, their frames marked
	// with SSRC, SSRC+1 and SSRC+2.
	Simulcast bool
	// Throttle, when set, limits the rate at which the call receives RTP.
	Throttle *Throttle
	// Configure, when set, adjusts the PeerConnection's settings and
	// configuration before it is made (network types, ICE servers, a
	// relay-only transport policy).
	Configure func(*webrtc.SettingEngine, *webrtc.Configuration)
	// Broadcast offers what a WHIP publisher does: the microphone and the
	// camera (simulcast when set), both send-only, and nothing to receive.
	Broadcast bool
	// Watch offers what a WHEP player does: audio and one video section,
	// both receive-only.
	Watch bool
}

// Call is one call with its PeerConnection.
type Call struct {
	ID     string
	client *Client
	opts   CallOptions

	mu       sync.Mutex
	pc       *webrtc.PeerConnection
	answer   chan string
	bye      bool
	slots    SlotsData
	streams  map[string]*Stream // by mid
	source   *forwardertest.VP8Source
	sentAt   []time.Time // guarded by mu: when each synthetic frame went out, by frame number
	camera   *webrtc.TrackLocalStaticRTP
	ivf      *ivfCamera
	sim      *simulcastCamera
	pubs     []publisher // guarded by mu: the running media loops
	mic      *microphone
	speaker  speaker
	attached chan struct{}

	receiverReports atomic.Int64
	// attachErr is the outcome of the last reattach.
	attachErr error
}

// NewPeerConnection makes a loopback-only pion PeerConnection.
func NewPeerConnection() (*webrtc.PeerConnection, error) {
	return newPeerConnection(nil, nil)
}

// newPeerConnection makes a loopback-only pion PeerConnection whose
// received RTP goes through throttle, when set, and whose TWCC feedback
// tells when packets reached its socket (see arrivals).
func newPeerConnection(throttle *Throttle, configure func(*webrtc.SettingEngine, *webrtc.Configuration)) (*webrtc.PeerConnection, error) {
	me := &webrtc.MediaEngine{}
	if err := me.RegisterDefaultCodecs(); err != nil {
		return nil, err
	}
	a := newArrivals()
	reg := &interceptor.Registry{}
	if err := configureInterceptors(me, reg, a); err != nil {
		return nil, err
	}
	se := webrtc.SettingEngine{}
	se.SetIncludeLoopbackCandidate(true)
	se.SetIPFilter(func(ip net.IP) bool { return ip.IsLoopback() })
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	n, err := newClientNet(throttle, a)
	if err != nil {
		return nil, err
	}
	se.SetNet(n)
	var pcc webrtc.Configuration
	if configure != nil {
		configure(&se, &pcc)
	}
	api := webrtc.NewAPI(webrtc.WithMediaEngine(me), webrtc.WithInterceptorRegistry(reg), webrtc.WithSettingEngine(se))
	return api.NewPeerConnection(pcc)
}

// Invite places a call and waits until confd answers it.
func (c *Client) Invite(ctx context.Context, opts CallOptions) (*Call, error) {
	call := &Call{ID: uuid.NewString(), client: c, opts: opts, answer: make(chan string, 1), streams: map[string]*Stream{}}
	offer, err := call.makeOffer()
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	c.calls[call.ID] = call
	c.mu.Unlock()
	r, err := c.Request(ctx, "verto.invite", map[string]any{"sdp": offer, "dialogParams": call.dialog()})
	if err != nil {
		return nil, err
	}
	if r.Error != nil {
		call.Close()
		return nil, r.Error
	}
	select {
	case sdp := <-call.answer:
		if err := call.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: sdp}); err != nil {
			return nil, err
		}
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	call.startPublishing()
	return call, nil
}

func (c *Call) dialog() map[string]any {
	return map[string]any{
		"callID": c.ID, "destination_number": c.opts.Dest, "caller_id_name": c.opts.Name,
		"caller_id_number": c.opts.Name, "useVideo": c.opts.Slots > 0 || c.opts.ScreenShare, "screenShare": c.opts.ScreenShare,
	}
}

func (c *Call) makeOffer() (string, error) {
	pc, err := newPeerConnection(c.opts.Throttle, c.opts.Configure)
	if err != nil {
		return "", err
	}
	c.pc = pc
	pc.OnTrack(c.onTrack)
	if err := c.addMedia(pc); err != nil {
		return "", err
	}
	offer, err := pc.CreateOffer(nil)
	if err != nil {
		return "", err
	}
	return gather(pc, offer)
}

// addMedia adds the offer's sections: a screen share is one send-only video
// section and nothing else (verto-spec §10); a call has audio, then the
// camera and receive-only slots.
func (c *Call) addMedia(pc *webrtc.PeerConnection) error {
	switch {
	case c.opts.ScreenShare:
		return c.addCamera(pc, webrtc.RTPTransceiverDirectionSendonly)
	case c.opts.Broadcast:
		if err := c.addMic(pc, webrtc.RTPTransceiverDirectionSendonly); err != nil {
			return err
		}
		return c.addCamera(pc, webrtc.RTPTransceiverDirectionSendonly)
	case c.opts.Watch:
		for _, kind := range []webrtc.RTPCodecType{webrtc.RTPCodecTypeAudio, webrtc.RTPCodecTypeVideo} {
			if _, err := pc.AddTransceiverFromKind(kind, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionRecvonly}); err != nil {
				return err
			}
		}
		return nil
	}
	if err := c.addMic(pc, webrtc.RTPTransceiverDirectionSendrecv); err != nil {
		return err
	}
	return c.addVideo(pc)
}

func (c *Call) addVideo(pc *webrtc.PeerConnection) error {
	for i := range c.opts.Slots {
		if i == 0 && c.opts.Publish {
			if err := c.addCamera(pc, webrtc.RTPTransceiverDirectionSendrecv); err != nil {
				return err
			}
			continue
		}
		if _, err := pc.AddTransceiverFromKind(webrtc.RTPCodecTypeVideo, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionRecvonly}); err != nil {
			return err
		}
	}
	return nil
}

func (c *Call) addCamera(pc *webrtc.PeerConnection, dir webrtc.RTPTransceiverDirection) error {
	if c.opts.Simulcast {
		return c.addSimulcastCamera(pc, dir)
	}
	if c.opts.IVF != "" {
		cam, err := newIVFCamera(c.opts.IVF, c.opts.Name)
		if err != nil {
			return err
		}
		tr, err := pc.AddTransceiverFromTrack(cam.track, webrtc.RTPTransceiverInit{Direction: dir})
		if err != nil {
			return err
		}
		c.ivf = cam
		go cam.readRTCP(tr.Sender())
		return nil
	}
	track, err := webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8, ClockRate: 90000}, "camera", c.opts.Name)
	if err != nil {
		return err
	}
	tr, err := pc.AddTransceiverFromTrack(track, webrtc.RTPTransceiverInit{Direction: dir})
	if err != nil {
		return err
	}
	c.camera = track
	c.source = forwardertest.NewVP8Source(forwardertest.VP8Config{SSRC: c.opts.SSRC, PayloadType: 96})
	go c.readCameraRTCP(tr.Sender())
	return nil
}

// readCameraRTCP answers key frame requests as an encoder would.
func (c *Call) readCameraRTCP(s *webrtc.RTPSender) {
	for {
		pkts, _, err := s.ReadRTCP()
		if err != nil {
			return
		}
		for _, p := range pkts {
			switch p.(type) {
			case *rtcp.PictureLossIndication, *rtcp.FullIntraRequest:
				c.mu.Lock()
				c.source.ForceKeyframe()
				c.mu.Unlock()
			case *rtcp.ReceiverReport:
				c.receiverReports.Add(1)
			}
		}
	}
}

// ReceiverReports counts the RTCP receiver reports confd sent about the camera.
func (c *Call) ReceiverReports() int64 { return c.receiverReports.Load() }

func gather(pc *webrtc.PeerConnection, desc webrtc.SessionDescription) (string, error) {
	done := webrtc.GatheringCompletePromise(pc)
	if err := pc.SetLocalDescription(desc); err != nil {
		return "", err
	}
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		return "", errors.New("ice gathering timed out")
	}
	return pc.LocalDescription().SDP, nil
}

func (c *Call) answered(sdp string) {
	select {
	case c.answer <- sdp:
	default:
	}
}

func (c *Call) byeReceived() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.bye = true
}

// GotBye reports whether confd hung the call up.
func (c *Call) GotBye() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.bye
}

func (c *Call) setSlots(d SlotsData) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.slots = d
}

// Slots is the last confd.slots event.
func (c *Call) Slots() SlotsData {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.slots
}

// startPublishing sends the synthetic camera at 30 frames a second.
// publisher is one running media loop.
type publisher struct{ stop, done chan struct{} }

func (c *Call) startPublishing() {
	switch {
	case c.ivf != nil:
		c.publishEvery(c.ivf.interval, c.ivf.writeNext)
	case c.sim != nil:
		c.publishEvery(time.Second/30, c.writeSimulcastFrame)
	case c.camera != nil:
		c.publishEvery(time.Second/30, c.writeSyntheticFrame)
	}
	if c.mic != nil {
		c.publishEvery(20*time.Millisecond, c.mic.writeNext)
	}
}

// publishEvery calls step at the camera's frame rate until Close.
func (c *Call) publishEvery(interval time.Duration, step func() error) {
	stop, done := make(chan struct{}), make(chan struct{})
	c.mu.Lock()
	c.pubs = append(c.pubs, publisher{stop, done})
	c.mu.Unlock()
	go func() {
		defer close(done)
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
			}
			if step() != nil {
				return
			}
		}
	}()
}

func (c *Call) writeSyntheticFrame() error {
	c.mu.Lock()
	pkts := c.source.NextFrame()
	c.sentAt = append(c.sentAt, time.Now())
	c.mu.Unlock()
	for _, p := range pkts {
		if _, err := c.camera.Write(p); err != nil {
			return err
		}
	}
	return nil
}

// SentAt is when the synthetic camera sent the given frame (numbered from
// 0, as Packet.Frame names it).
func (c *Call) SentAt(frame uint32) (time.Time, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if int(frame) >= len(c.sentAt) {
		return time.Time{}, false
	}
	return c.sentAt[frame], true
}

// Hangup sends verto.bye and closes the PeerConnection.
func (c *Call) Hangup(ctx context.Context) error {
	r, err := c.clientOf().Request(ctx, "verto.bye", map[string]any{"dialogParams": map[string]any{"callID": c.ID}, "cause": "NORMAL_CLEARING"})
	c.Close()
	if err != nil {
		return err
	}
	if r.Error != nil {
		return r.Error
	}
	return nil
}

// Close stops publishing and closes the PeerConnection. It may be called
// more than once, from any goroutine.
func (c *Call) Close() {
	c.mu.Lock()
	pubs := c.pubs
	c.pubs = nil
	pc := c.pc
	c.mu.Unlock()
	for _, p := range pubs {
		close(p.stop)
		<-p.done
	}
	if pc != nil {
		_ = pc.Close()
	}
}

// PC is the call's current PeerConnection.
func (c *Call) PC() *webrtc.PeerConnection {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.pc
}

// Stream is what one slot has received so far.
func (c *Call) Stream(mid string) *Stream {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.streams[mid]
}

// WaitSlots waits until every one of the call's slots has received frames
// from the given source SSRCs (in any slot).
func (c *Call) WaitSources(ctx context.Context, ssrcs ...uint32) error {
	return WaitFor(ctx, func() bool {
		seen := map[uint32]bool{}
		c.mu.Lock()
		for _, s := range c.streams {
			for _, src := range s.Sources() {
				seen[src] = true
			}
		}
		c.mu.Unlock()
		for _, want := range ssrcs {
			if !seen[want] {
				return false
			}
		}
		return true
	})
}

func (c *Call) String() string { return fmt.Sprintf("call %s (%s)", c.ID[:8], c.opts.Name) }

func drainRTCP(s *webrtc.RTPSender) {
	buf := make([]byte, 1500)
	for {
		if _, _, err := s.Read(buf); err != nil {
			return
		}
	}
}
