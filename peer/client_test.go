package peer

import (
	"context"
	"math"
	"sync"
	"testing"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
	"github.com/pion/webrtc/v4/pkg/media"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"github.com/confd/confd/forwarder/forwardertest"
	"github.com/confd/confd/forwarder/vp8"
	"github.com/confd/confd/mixer"
	"github.com/confd/confd/room"
	"github.com/confd/confd/rtpparse"
	"github.com/confd/confd/signalling/vertotest"
)

// The peer's tests drive it through its own seam: a room, peers made with
// New and Join, and real pion clients over loopback that offer, answer,
// send a tone and a synthetic VP8 camera, and decode what they receive.
// No signalling is involved: the test is the signalling, and a
// recordingSignal is what the peer tells it.

// testEnv is a room registry with 3500 and 3600, and the pion API.
type testEnv struct {
	rooms *room.Rooms
	media *Media
	log   *zap.Logger
}

func newEnv(t *testing.T) *testEnv {
	t.Helper()
	log := zaptest.NewLogger(t, zaptest.Level(zap.WarnLevel))
	rooms, err := room.New([]room.Config{{Number: "3500", Tones: room.TonesNever}, {Number: "3600", Tones: room.TonesNever}}, log)
	if err != nil {
		t.Fatal(err)
	}
	m, err := NewMedia(MediaConfig{LoopbackOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rooms.Close(); m.Close() })
	return &testEnv{rooms: rooms, media: m, log: log}
}

func (e *testEnv) room(t *testing.T, number string) *room.Room {
	t.Helper()
	r, err := e.rooms.Lookup(number)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// join makes a peer that is a member of room number.
func (e *testEnv) join(t *testing.T, number, name string) (*Peer, *recordingSignal) {
	t.Helper()
	sig := &recordingSignal{}
	p := New(e.media, sig, e.log.Named(name))
	if err := p.Join(e.room(t, number), room.JoinInfo{Name: name, Kind: room.KindBrowser, Key: name}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Shut)
	return p, sig
}

// recordingSignal keeps what a peer told its signalling.
type recordingSignal struct {
	mu     sync.Mutex
	slots  []room.SlotsEvent
	layers [][]string
	failed int
	closed []room.Reason
	moveTo []*room.Room
}

func (s *recordingSignal) Slots(e room.SlotsEvent) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.slots = append(s.slots, e)
}

func (s *recordingSignal) Layers(active []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.layers = append(s.layers, active)
}

func (s *recordingSignal) Failed() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failed++
}

func (s *recordingSignal) Closed(r room.Reason) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = append(s.closed, r)
}

func (s *recordingSignal) Move(to *room.Room) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.moveTo = append(s.moveTo, to)
	return nil
}

// lastSlots is the latest slots event, with ok false before any.
func (s *recordingSignal) lastSlots() (room.SlotsEvent, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.slots) == 0 {
		return room.SlotsEvent{}, false
	}
	return s.slots[len(s.slots)-1], true
}

// client is a browser stand-in: a loopback pion PeerConnection with a
// microphone sending a tone (silence for 0 Hz) and, with a camera SSRC,
// a synthetic VP8 camera whose frames carry that SSRC in their payload.
// It decodes the audio it receives and counts received frames by the
// camera that made them.
type client struct {
	t   *testing.T
	pc  *webrtc.PeerConnection
	hz  float64
	cam uint32

	mic   *webrtc.TrackLocalStaticSample
	video *webrtc.TrackLocalStaticRTP
	// dropEvery, when set before start, leaves out every dropEvery-th
	// camera packet (a lossy uplink).
	dropEvery int

	stop chan struct{}
	wg   sync.WaitGroup

	mu     sync.Mutex
	pcm    []int16 // the last second heard
	frames map[uint32]int
	mix    received // the audio it receives
}

// received is what a client has received of one stream: its packets, and
// the timestamp of the last one and when it came.
type received struct {
	packets int
	lastTS  uint32
	lastAt  time.Time
}

func newClient(t *testing.T, hz float64, cam uint32) *client {
	t.Helper()
	pc, err := vertotest.NewPeerConnection()
	if err != nil {
		t.Fatal(err)
	}
	c := &client{t: t, pc: pc, hz: hz, cam: cam, stop: make(chan struct{}), frames: map[uint32]int{}}
	c.mic, err = webrtc.NewTrackLocalStaticSample(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2}, "mic", "client")
	if err != nil {
		t.Fatal(err)
	}
	if cam != 0 {
		c.video, err = webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8, ClockRate: 90000}, "camera", "client")
		if err != nil {
			t.Fatal(err)
		}
	}
	pc.OnTrack(func(tr *webrtc.TrackRemote, _ *webrtc.RTPReceiver) { c.read(tr) })
	t.Cleanup(c.close)
	return c
}

// offer makes the client's offer: audio sendrecv, the camera (if any)
// sendrecv on the first video section, and receive-only video sections up
// to slots.
func (c *client) offer(ctx context.Context, slots int) string {
	c.t.Helper()
	micDir := webrtc.RTPTransceiverDirectionSendrecv
	if slots < 0 { // a broadcaster: it sends and receives nothing
		micDir, slots = webrtc.RTPTransceiverDirectionSendonly, 0
	}
	if _, err := c.pc.AddTransceiverFromTrack(c.mic, webrtc.RTPTransceiverInit{Direction: micDir}); err != nil {
		c.t.Fatal(err)
	}
	recv := slots
	if c.video != nil {
		dir := webrtc.RTPTransceiverDirectionSendonly
		if slots > 0 {
			dir, recv = webrtc.RTPTransceiverDirectionSendrecv, slots-1
		}
		if _, err := c.pc.AddTransceiverFromTrack(c.video, webrtc.RTPTransceiverInit{Direction: dir}); err != nil {
			c.t.Fatal(err)
		}
	}
	for range recv {
		c.addSlot()
	}
	return c.localSDP(ctx, nil)
}

// viewerOffer is the offer of a player that only receives: audio and one
// video section, both recvonly.
func (c *client) viewerOffer(ctx context.Context) string {
	c.t.Helper()
	if _, err := c.pc.AddTransceiverFromKind(webrtc.RTPCodecTypeAudio, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionRecvonly}); err != nil {
		c.t.Fatal(err)
	}
	c.addSlot()
	return c.localSDP(ctx, nil)
}

// addSlot adds one receive-only video section (for a re-offer).
func (c *client) addSlot() {
	if _, err := c.pc.AddTransceiverFromKind(webrtc.RTPCodecTypeVideo, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionRecvonly}); err != nil {
		c.t.Fatal(err)
	}
}

// answerOffer answers a server offer (a reattach), sending the microphone
// and camera on the sections the offer has for them.
func (c *client) answerOffer(ctx context.Context, offer string) string {
	c.t.Helper()
	if err := c.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: offer}); err != nil {
		c.t.Fatal(err)
	}
	if _, err := c.pc.AddTrack(c.mic); err != nil {
		c.t.Fatal(err)
	}
	if c.video != nil {
		if _, err := c.pc.AddTrack(c.video); err != nil {
			c.t.Fatal(err)
		}
	}
	answer, err := c.pc.CreateAnswer(nil)
	if err != nil {
		c.t.Fatal(err)
	}
	return c.localSDP(ctx, &answer)
}

// localSDP sets desc (a new offer when nil) and waits for ICE gathering.
func (c *client) localSDP(ctx context.Context, desc *webrtc.SessionDescription) string {
	c.t.Helper()
	if desc == nil {
		offer, err := c.pc.CreateOffer(nil)
		if err != nil {
			c.t.Fatal(err)
		}
		desc = &offer
	}
	gathered := webrtc.GatheringCompletePromise(c.pc)
	if err := c.pc.SetLocalDescription(*desc); err != nil {
		c.t.Fatal(err)
	}
	select {
	case <-gathered:
	case <-ctx.Done():
		c.t.Fatal("ice gathering:", ctx.Err())
	}
	return c.pc.LocalDescription().SDP
}

// accept applies the peer's answer and starts sending.
func (c *client) accept(answer string) {
	c.t.Helper()
	if err := c.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: answer}); err != nil {
		c.t.Fatal(err)
	}
	c.start()
}

// start sends the microphone every 20 ms and the camera at 25 frames a
// second, each paced by its own ticker.
func (c *client) start() {
	enc, err := mixer.NewEncoder(mixer.CodecOpus)
	if err != nil {
		c.t.Fatal(err)
	}
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		var pcm [mixer.FrameSamples]int16
		var buf [mixer.MaxPayload]byte
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for n := 0; ; n += mixer.FrameSamples {
			select {
			case <-c.stop:
				return
			case <-tick.C:
			}
			for i := range pcm {
				pcm[i] = int16(8000 * math.Sin(2*math.Pi*c.hz*float64(n+i)/mixer.SampleRate))
			}
			k, err := enc.Encode(pcm[:], buf[:])
			if err == nil {
				_ = c.mic.WriteSample(media.Sample{Data: buf[:k], Duration: 20 * time.Millisecond})
			}
		}
	}()
	if c.video == nil {
		return
	}
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		src := forwardertest.NewVP8Source(forwardertest.VP8Config{SSRC: c.cam, KeyframeInterval: 25, FPS: 25, FrameBytes: 1200})
		tick := time.NewTicker(40 * time.Millisecond)
		defer tick.Stop()
		for sent := 0; ; {
			select {
			case <-c.stop:
				return
			case <-tick.C:
			}
			for _, raw := range src.NextFrame() {
				if sent++; c.dropEvery > 0 && sent%c.dropEvery == 0 {
					continue
				}
				_, _ = c.video.Write(raw)
			}
		}
	}()
}

// readRTCP calls fn with every RTCP packet the client's senders receive
// (confd's reports and requests about what the client sends), with the
// sender's kind and SSRC, on a goroutine per sender until the client
// closes.
func (c *client) readRTCP(fn func(kind webrtc.RTPCodecType, ssrc uint32, p rtcp.Packet)) {
	for _, s := range c.pc.GetSenders() {
		if s.Track() == nil {
			continue
		}
		kind, ssrc := s.Track().Kind(), uint32(s.GetParameters().Encodings[0].SSRC)
		c.wg.Add(1)
		go func() {
			defer c.wg.Done()
			for {
				pkts, _, err := s.ReadRTCP()
				if err != nil {
					return
				}
				for _, p := range pkts {
					fn(kind, ssrc, p)
				}
			}
		}()
	}
}

// read decodes received audio and counts received video frames.
func (c *client) read(tr *webrtc.TrackRemote) {
	buf := make([]byte, 1500)
	var h rtp.Header
	dec, err := mixer.NewDecoder(mixer.CodecOpus)
	if err != nil {
		return
	}
	frame := make([]int16, mixer.FrameSamples)
	for {
		n, _, err := tr.Read(buf)
		if err != nil {
			return
		}
		payload, err := rtpparse.Parse(buf[:n], &h)
		if err != nil || len(payload) == 0 {
			continue
		}
		if tr.Kind() == webrtc.RTPCodecTypeAudio {
			c.mu.Lock()
			c.mix.packets++
			c.mix.lastTS, c.mix.lastAt = h.Timestamp, time.Now()
			c.mu.Unlock()
			if k, err := dec.Decode(payload, frame); err == nil {
				c.heard(frame[:k])
			}
			continue
		}
		var d vp8.Descriptor
		if d.Unmarshal(payload) != nil || !d.Start {
			continue
		}
		if ssrc, _, ok := forwardertest.FrameOf(payload, &d); ok {
			c.mu.Lock()
			c.frames[ssrc]++
			c.mu.Unlock()
		}
	}
}

func (c *client) heard(pcm []int16) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.pcm = append(c.pcm, pcm...)
	if len(c.pcm) > mixer.SampleRate {
		c.pcm = append(c.pcm[:0], c.pcm[len(c.pcm)-mixer.SampleRate:]...)
	}
}

// framesFrom is how many frames of camera ssrc the client received.
func (c *client) framesFrom(ssrc uint32) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.frames[ssrc]
}

// level is the tone hz's level in the last second heard (dB).
func (c *client) level(hz float64) float64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.pcm) < mixer.SampleRate {
		return math.Inf(-1)
	}
	return mixer.ToneLevelBlocks(c.pcm, mixer.SampleRate, hz, mixer.SampleRate/10)
}

func (c *client) close() {
	select {
	case <-c.stop:
	default:
		close(c.stop)
	}
	_ = c.pc.Close()
	c.wg.Wait()
}

// connect answers the client's offer with p and starts the media.
func connect(ctx context.Context, t *testing.T, p *Peer, c *client, slots int) {
	t.Helper()
	answer, err := p.Answer(ctx, c.offer(ctx, slots))
	if err != nil {
		t.Fatal(err)
	}
	c.accept(answer)
	p.Activate()
}

// waitFor polls cond until it holds or ctx ends.
func waitFor(ctx context.Context, t *testing.T, what string, cond func() bool) {
	t.Helper()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		select {
		case <-ctx.Done():
			t.Fatalf("%s: %v", what, ctx.Err())
		case <-tick.C:
		}
	}
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func sessionAnswer(sdp string) webrtc.SessionDescription {
	return webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: sdp}
}
