package main

import (
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/sdp/v3"
	"github.com/pion/webrtc/v4"

	"github.com/confd/confd/forwarder/forwardertest"
	"github.com/confd/confd/forwarder/vp8"
	"github.com/confd/confd/mixer"
)

// The camera: one VP8 encoding at about 1.2 Mbit/s, what a browser sends
// for a 720p camera's top layer. Frames of 5000 bytes at 30 fps and a key
// frame (three times the size) every 2 s and whenever asked, in packets
// of at most 1100 bytes of payload.
const (
	cameraFrameBytes       = 5000
	cameraKeyframeInterval = 60
	cameraWidth            = 1280
	cameraHeight           = 720
)

// cameraRate is the packets a second the camera sends when nobody asks
// for key frames: 154.5.
var cameraRate = sync.OnceValue(func() float64 {
	c := newCamera(nil)
	n := 0
	for range cameraKeyframeInterval {
		n += len(c.src.NextFrame())
	}
	return float64(n) * float64(time.Second/frameInterval) / cameraKeyframeInterval
})

// camera is a peer's synthetic camera: forwardertest's VP8 source, which
// answers PLI and FIR with a key frame as an encoder does.
type camera struct {
	track *webrtc.TrackLocalStaticRTP
	mu    sync.Mutex
	src   *forwardertest.VP8Source
}

func newCamera(track *webrtc.TrackLocalStaticRTP) *camera {
	return &camera{track: track, src: forwardertest.NewVP8Source(forwardertest.VP8Config{
		SSRC: rand.Uint32(), FrameBytes: cameraFrameBytes, KeyframeInterval: cameraKeyframeInterval,
		Width: cameraWidth, Height: cameraHeight, FirstSeq: uint16(rand.Uint32()), FirstTS: rand.Uint32(),
	})}
}

// writeFrame sends the next frame. pion's track puts the negotiated SSRC
// and payload type on every packet.
func (c *camera) writeFrame() {
	c.mu.Lock()
	pkts := c.src.NextFrame()
	c.mu.Unlock()
	for _, p := range pkts {
		_, _ = c.track.Write(p) // fails only once the PeerConnection is closing
	}
}

// serveRTCP reads the camera sender's RTCP until its PeerConnection
// closes, making a key frame on request.
func (c *camera) serveRTCP(s *webrtc.RTPSender) {
	for {
		pkts, _, err := s.ReadRTCP()
		if err != nil {
			return
		}
		for _, p := range pkts {
			if isKeyframeRequest(p) {
				c.mu.Lock()
				c.src.ForceKeyframe()
				c.mu.Unlock()
			}
		}
	}
}

// isKeyframe says whether an RTP payload is the first packet of a VP8
// key frame.
func isKeyframe(payload []byte) bool {
	var d vp8.Descriptor
	if d.Unmarshal(payload) != nil {
		return false
	}
	_, _, ok := vp8.KeyframeSize(payload, &d)
	return ok
}

// opusFrames is one second of a microphone's audio, encoded once and
// sent in a loop: 50 Opus frames with their RFC 6464 levels.
type opusFrames struct {
	payload [][]byte
	level   []byte // the level extension's byte: voice activity bit, then -dBov
}

// mediaSet encodes each microphone's second of audio once for all peers.
type mediaSet struct {
	mu    sync.Mutex
	tones map[float64]*opusFrames // by frequency; 0 is silence
}

func newMediaSet() *mediaSet { return &mediaSet{tones: map[float64]*opusFrames{}} }

// toneAmplitude puts a tone at -12 dBFS peak, -15 dBov RMS.
const toneAmplitude = 8000

// frames returns the audio section s sends, encoding it on first use.
func (m *mediaSet) frames(s section) (*opusFrames, error) {
	hz := s.hz
	if s.src != sendTone {
		hz = 0
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if f := m.tones[hz]; f != nil {
		return f, nil
	}
	enc, err := mixer.NewEncoder(mixer.CodecOpus)
	if err != nil {
		return nil, err
	}
	f := &opusFrames{}
	pcm := make([]int16, mixer.FrameSamples)
	// A whole number of hertz fits a whole number of cycles in a second,
	// so the loop has no phase break.
	for n := range mixer.SampleRate / mixer.FrameSamples {
		var energy float64
		for i := range pcm {
			v := toneAmplitude * math.Sin(2*math.Pi*hz*float64(n*mixer.FrameSamples+i)/mixer.SampleRate)
			pcm[i] = int16(v)
			energy += v * v
		}
		buf := make([]byte, mixer.MaxPayload)
		k, err := enc.Encode(pcm, buf)
		if err != nil {
			return nil, err
		}
		f.payload = append(f.payload, buf[:k])
		f.level = append(f.level, audioLevel(energy/float64(len(pcm))))
	}
	m.tones[hz] = f
	return f, nil
}

// audioLevel is the RFC 6464 byte for a frame of mean square power ms: the
// V bit when it holds voice, and the level in -dBov, 127 for silence.
func audioLevel(ms float64) byte {
	if ms == 0 {
		return 127
	}
	dBov := 10 * math.Log10(ms/(32768*32768))
	return 0x80 | byte(min(127, max(0, -dBov)))
}

// microphone sends its opusFrames in a loop, one 20 ms packet at a time,
// with the audio level when the answer negotiated it. Where the answer
// asks for Opus DTX (usedtx=1, RFC 7587 §6.1), it sends as a browser's
// encoder does in silence: the first silent frame, then one every
// dtxInterval, the timestamp moving on for those it leaves out.
type microphone struct {
	track   *webrtc.TrackLocalStaticRTP
	sender  *webrtc.RTPSender
	frames  *opusFrames
	levelID uint8 // the level extension's ID, 0 for none: set by negotiated, before the loop starts
	dtx     bool  // set by negotiated, likewise
	silent  int   // silent frames in a row so far
	pkt     rtp.Packet
	next    int
}

// dtxInterval is how often, in frames, an Opus encoder in DTX sends a
// frame during silence: every 400 ms.
const dtxInterval = 20

func newMicrophone(track *webrtc.TrackLocalStaticRTP, sender *webrtc.RTPSender, frames *opusFrames) *microphone {
	m := &microphone{track: track, sender: sender, frames: frames}
	m.pkt.Header = rtp.Header{Version: 2, SequenceNumber: uint16(rand.Uint32()), Timestamp: rand.Uint32()}
	return m
}

// negotiated reads the audio level extension's ID and whether DTX is
// asked for from the answer.
func (m *microphone) negotiated(answer string) {
	for _, e := range m.sender.GetParameters().HeaderExtensions {
		if e.URI == sdp.AudioLevelURI {
			m.levelID = uint8(e.ID)
		}
	}
	m.dtx = asksForDTX(answer)
}

// asksForDTX reports whether an SDP's Opus format parameters say
// usedtx=1.
func asksForDTX(desc string) bool {
	var d sdp.SessionDescription
	if d.UnmarshalString(desc) != nil {
		return false
	}
	for _, md := range d.MediaDescriptions {
		opus := map[string]bool{}
		for _, a := range md.Attributes {
			if pt, codec, ok := strings.Cut(a.Value, " "); a.Key == "rtpmap" && ok && strings.HasPrefix(strings.ToLower(codec), "opus/") {
				opus[pt] = true
			}
		}
		for _, a := range md.Attributes {
			if pt, params, ok := strings.Cut(a.Value, " "); a.Key == "fmtp" && ok && opus[pt] &&
				slices.Contains(strings.Split(strings.ReplaceAll(params, " ", ""), ";"), "usedtx=1") {
				return true
			}
		}
	}
	return false
}

func (m *microphone) writeFrame() {
	i := m.next % len(m.frames.payload)
	m.next++
	if m.frames.level[i] == 127 {
		m.silent++
	} else {
		m.silent = 0
	}
	if m.dtx && m.silent > 1 && m.silent%dtxInterval != 1 {
		m.pkt.Timestamp += mixer.FrameSamples // left out: a gap in time, not a loss
		return
	}
	m.pkt.Payload = m.frames.payload[i]
	if m.levelID != 0 {
		_ = m.pkt.Header.SetExtension(m.levelID, m.frames.level[i:i+1])
	}
	_ = m.track.WriteRTP(&m.pkt) // fails only once the PeerConnection is closing
	m.pkt.SequenceNumber++
	m.pkt.Timestamp += mixer.FrameSamples
}
