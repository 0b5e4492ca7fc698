package main

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/ice/v4"
	"github.com/pion/interceptor"
	"github.com/pion/logging"
	"github.com/pion/rtcp"
	"github.com/pion/sdp/v3"
	"github.com/pion/webrtc/v4"
)

// newClientAPI is the pion set-up every peer of the load generator
// shares, as close to a browser's as pion's own parts get: the default
// codecs and interceptors (NACK, RTCP reports, statistics, TWCC feedback
// on what it receives), transport-wide sequence numbers on what it sends
// and the RFC 6464 audio level on its microphone; loopback and UDP only.
func newClientAPI() (*webrtc.API, error) {
	me := &webrtc.MediaEngine{}
	if err := me.RegisterDefaultCodecs(); err != nil {
		return nil, err
	}
	if err := me.RegisterHeaderExtension(webrtc.RTPHeaderExtensionCapability{URI: sdp.AudioLevelURI}, webrtc.RTPCodecTypeAudio); err != nil {
		return nil, err
	}
	// pion reports writes that race a closing PeerConnection as errors;
	// the peers close by the hundred, so the generator logs nothing.
	quiet := logging.NewDefaultLoggerFactory()
	quiet.DefaultLogLevel = logging.LogLevelDisabled
	reg := &interceptor.Registry{}
	if err := webrtc.RegisterDefaultInterceptorsWithOptions(me, reg, webrtc.WithInterceptorLoggerFactory(quiet)); err != nil {
		return nil, err
	}
	if err := webrtc.ConfigureTWCCHeaderExtensionSender(me, reg); err != nil {
		return nil, err
	}
	se := webrtc.SettingEngine{LoggerFactory: quiet}
	se.SetIncludeLoopbackCandidate(true)
	se.SetIPFilter(func(ip net.IP) bool { return ip.IsLoopback() })
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	return webrtc.NewAPI(webrtc.WithMediaEngine(me), webrtc.WithInterceptorRegistry(reg), webrtc.WithSettingEngine(se)), nil
}

// source is what a section of a peer's offer sends.
type source int

const (
	sendNothing source = iota // receive only, or a microphone that stays silent on the wire (idle)
	sendCamera                // the synthetic VP8 camera (camera.go)
	sendTone                  // Opus: a sine (section.hz)
	sendSilence               // Opus: encoded silence, as a muted browser sends: 50 packets a second, or DTX where the answer asks (usedtx=1)
)

// section is one m-line of a peer's offer.
type section struct {
	kind webrtc.RTPCodecType
	dir  webrtc.RTPTransceiverDirection
	src  source
	hz   float64 // sendTone's frequency
	// track is the ID (a=msid) of the track the section sends, by which
	// the stock server names what it forwards.
	track string
}

// counters are what a peer has received: RTP packets with media (their
// bytes, and how many began a VP8 key frame), and padding-only packets
// (bandwidth probes).
type counters struct {
	packets, bytes, keyframes, padding atomic.Uint64
}

// tally is a snapshot of counters, summed over peers.
type tally struct{ packets, bytes, keyframes, padding uint64 }

func (t tally) plus(o tally) tally {
	return tally{t.packets + o.packets, t.bytes + o.bytes, t.keyframes + o.keyframes, t.padding + o.padding}
}

func (t tally) minus(o tally) tally {
	return tally{t.packets - o.packets, t.bytes - o.bytes, t.keyframes - o.keyframes, t.padding - o.padding}
}

// peer is one PeerConnection of the load generator: it sends what its
// sections send and counts what it receives. Every goroutine it starts
// (a reader per received track, an RTCP reader per sender, a loop per
// source) is its own: close ends them and waits for them.
type peer struct {
	name     string
	pc       *webrtc.PeerConnection
	sections []section
	recv     counters

	mu     sync.Mutex
	loops  []loop // the sources, started by start
	mics   []*microphone
	closed bool
	// signalling is the connection that keeps the call up (a Verto
	// websocket), closed with the peer; nil for HTTP sessions.
	signalling io.Closer

	stop chan struct{}
	wg   sync.WaitGroup
}

// newPeer makes a peer's PeerConnection with the given sections, in order.
func newPeer(api *webrtc.API, media *mediaSet, name string, sections []section) (*peer, error) {
	pc, err := api.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		return nil, err
	}
	p := &peer{name: name, pc: pc, sections: sections, stop: make(chan struct{})}
	pc.OnTrack(func(t *webrtc.TrackRemote, _ *webrtc.RTPReceiver) { p.spawn(func() { p.count(t) }) })
	for _, s := range sections {
		if err := p.addSection(media, s); err != nil {
			p.close()
			return nil, err
		}
	}
	return p, nil
}

func (p *peer) addSection(media *mediaSet, s section) error {
	if s.dir == webrtc.RTPTransceiverDirectionRecvonly {
		_, err := p.pc.AddTransceiverFromKind(s.kind, webrtc.RTPTransceiverInit{Direction: s.dir})
		return err
	}
	codec := webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2}
	if s.kind == webrtc.RTPCodecTypeVideo {
		codec = webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8, ClockRate: 90000}
	}
	track, err := webrtc.NewTrackLocalStaticRTP(codec, s.track, p.name)
	if err != nil {
		return err
	}
	tr, err := p.pc.AddTransceiverFromTrack(track, webrtc.RTPTransceiverInit{Direction: s.dir})
	if err != nil {
		return err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	switch s.src {
	case sendCamera:
		cam := newCamera(track)
		p.loops = append(p.loops, loop{frameInterval, cam.writeFrame})
		p.spawnLocked(func() { cam.serveRTCP(tr.Sender()) })
		return nil
	case sendTone, sendSilence:
		frames, err := media.frames(s)
		if err != nil {
			return err
		}
		mic := newMicrophone(track, tr.Sender(), frames)
		p.mics = append(p.mics, mic)
		p.loops = append(p.loops, loop{audioInterval, mic.writeFrame})
	}
	p.spawnLocked(func() { drainRTCP(tr.Sender()) })
	return nil
}

// offer is the peer's complete offer: ICE gathered, nothing trickled.
func (p *peer) offer(ctx context.Context) (string, error) {
	offer, err := p.pc.CreateOffer(nil)
	if err != nil {
		return "", err
	}
	gathered := webrtc.GatheringCompletePromise(p.pc)
	if err := p.pc.SetLocalDescription(offer); err != nil {
		return "", err
	}
	select {
	case <-gathered:
	case <-ctx.Done():
		return "", fmt.Errorf("ice gathering: %w", ctx.Err())
	}
	return p.pc.LocalDescription().SDP, nil
}

// accept applies the server's answer.
func (p *peer) accept(answer string) error {
	if err := p.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: answer}); err != nil {
		return err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, m := range p.mics {
		m.negotiated(answer)
	}
	return nil
}

// connected waits for ICE and DTLS to complete.
func (p *peer) connected(ctx context.Context) error {
	t := time.NewTicker(20 * time.Millisecond)
	defer t.Stop()
	for {
		switch p.pc.ConnectionState() {
		case webrtc.PeerConnectionStateConnected:
			return nil
		case webrtc.PeerConnectionStateFailed, webrtc.PeerConnectionStateClosed:
			return fmt.Errorf("%s: connection %s", p.name, p.pc.ConnectionState())
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s: not connected: %w", p.name, ctx.Err())
		case <-t.C:
		}
	}
}

// loop is a source: step sends its next frame, every interval.
type loop struct {
	interval time.Duration
	step     func()
}

// Media clocks: 30 video frames and 50 Opus packets a second.
const (
	frameInterval = time.Second / 30
	audioInterval = 20 * time.Millisecond
)

// start runs the peer's sources, each on its own clock from a random
// phase, as independent browsers' would be. Call it after accept.
func (p *peer) start() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, l := range p.loops {
		p.spawnLocked(func() { p.every(l.interval, l.step) })
	}
}

func (p *peer) every(interval time.Duration, step func()) {
	phase := time.NewTimer(rand.N(interval))
	select {
	case <-p.stop:
		phase.Stop()
		return
	case <-phase.C:
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		step()
		select {
		case <-p.stop:
			return
		case <-t.C:
		}
	}
}

// count reads a received track until its PeerConnection closes, counting
// its packets. Reading goes through pion's interceptors, which is what
// makes the peer send receiver reports, NACKs and TWCC feedback.
func (p *peer) count(t *webrtc.TrackRemote) {
	video := t.Kind() == webrtc.RTPCodecTypeVideo
	buf := make([]byte, 1500)
	for {
		n, _, err := t.Read(buf)
		if err != nil {
			return
		}
		payload, ok := rtpPayload(buf[:n])
		switch {
		case !ok:
		case len(payload) == 0:
			p.recv.padding.Add(1)
		default:
			p.recv.packets.Add(1)
			p.recv.bytes.Add(uint64(n))
			if video && isKeyframe(payload) {
				p.recv.keyframes.Add(1)
			}
		}
	}
}

// rtpPayload is an RTP packet's payload, without the header, its
// extensions and the padding (RFC 3550 §5.1, §5.3.1).
func rtpPayload(b []byte) ([]byte, bool) {
	if len(b) < 12 || b[0]>>6 != 2 {
		return nil, false
	}
	n := 12 + 4*int(b[0]&0x0f)
	if b[0]&0x10 != 0 {
		if len(b) < n+4 {
			return nil, false
		}
		n += 4 + 4*(int(b[n+2])<<8|int(b[n+3]))
	}
	end := len(b)
	if b[0]&0x20 != 0 {
		end -= int(b[len(b)-1])
	}
	if end < n {
		return nil, false
	}
	return b[n:end], true
}

func (p *peer) received() tally {
	return tally{p.recv.packets.Load(), p.recv.bytes.Load(), p.recv.keyframes.Load(), p.recv.padding.Load()}
}

// spawn runs f as one of the peer's goroutines unless it is closed.
func (p *peer) spawn(f func()) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.spawnLocked(f)
}

func (p *peer) spawnLocked(f func()) {
	if p.closed {
		return
	}
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		f()
	}()
}

// close ends the peer: its sources stop, its PeerConnection and
// signalling close, and its goroutines are waited for. It may be called
// more than once.
func (p *peer) close() {
	p.mu.Lock()
	first := !p.closed
	p.closed = true
	sig := p.signalling
	p.mu.Unlock()
	if first {
		close(p.stop)
		_ = p.pc.Close()
		if sig != nil {
			_ = sig.Close()
		}
	}
	p.wg.Wait()
}

// setSignalling hands the peer the connection its call lives on.
func (p *peer) setSignalling(c io.Closer) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.signalling = c
}

func drainRTCP(s *webrtc.RTPSender) {
	buf := make([]byte, 1500)
	for {
		if _, _, err := s.Read(buf); err != nil {
			return
		}
	}
}

// isKeyframeRequest says whether an RTCP packet asks for a key frame.
func isKeyframeRequest(p rtcp.Packet) bool {
	switch p.(type) {
	case *rtcp.PictureLossIndication, *rtcp.FullIntraRequest:
		return true
	}
	return false
}
