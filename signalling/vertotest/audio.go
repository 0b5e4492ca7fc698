package vertotest

import (
	"math"
	"sync"
	"time"

	"github.com/pion/rtp"

	"github.com/pion/webrtc/v4"
	"github.com/pion/webrtc/v4/pkg/media"

	"github.com/confd/confd/mixer"
	"github.com/confd/confd/rtpparse"
)

// microphone sends a tone (or silence) as Opus, 20 ms per packet.
type microphone struct {
	track *webrtc.TrackLocalStaticSample
	enc   mixer.Encoder
	hz    float64
	n     int // samples sent
	pcm   [mixer.FrameSamples]int16
	buf   [mixer.MaxPayload]byte
}

func (c *Call) addMic(pc *webrtc.PeerConnection, dir webrtc.RTPTransceiverDirection) error {
	track, err := webrtc.NewTrackLocalStaticSample(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2}, "mic", c.opts.Name)
	if err != nil {
		return err
	}
	enc, err := mixer.NewEncoder(mixer.CodecOpus)
	if err != nil {
		return err
	}
	tr, err := pc.AddTransceiverFromTrack(track, webrtc.RTPTransceiverInit{Direction: dir})
	if err != nil {
		return err
	}
	go drainRTCP(tr.Sender())
	c.mic = &microphone{track: track, enc: enc, hz: c.opts.ToneHz}
	return nil
}

// writeNext encodes and sends the next 20 ms: a sine at -12 dBFS.
func (m *microphone) writeNext() error {
	for i := range m.pcm {
		m.pcm[i] = int16(8000 * math.Sin(2*math.Pi*m.hz*float64(m.n+i)/mixer.SampleRate))
	}
	m.n += mixer.FrameSamples
	n, err := m.enc.Encode(m.pcm[:], m.buf[:])
	if err != nil {
		return err
	}
	return m.track.WriteSample(media.Sample{Data: m.buf[:n], Duration: 20 * time.Millisecond})
}

// speaker decodes what the call receives on its audio track and keeps the
// most recent second of it.
type speaker struct {
	mu  sync.Mutex
	pcm []int16 // ring of the last second, in arrival order
	got int     // frames decoded
}

const heardSamples = mixer.SampleRate // one second

func (c *Call) listen(track *webrtc.TrackRemote) {
	dec, err := mixer.NewDecoder(mixer.CodecOpus)
	if err != nil {
		drain(track)
		return
	}
	sp := &c.speaker
	buf := make([]byte, 1500)
	frame := make([]int16, mixer.FrameSamples)
	silence := make([]int16, mixer.FrameSamples)
	var h rtp.Header
	var last uint32
	started := false
	for {
		n, _, err := track.Read(buf)
		if err != nil {
			return
		}
		payload, err := rtpparse.Parse(buf[:n], &h)
		if err != nil || len(payload) == 0 {
			continue
		}
		// A timestamp gap with no sequence gap is silence left out (DTX):
		// play it as silence, as a browser's jitter buffer does, up to a
		// second of it.
		if started {
			for gap := min((h.Timestamp-last)/mixer.FrameSamples, mixer.SampleRate/mixer.FrameSamples+1); gap > 1 && gap < 1<<16; gap-- {
				sp.add(silence)
			}
		}
		last, started = h.Timestamp, true
		if k, err := dec.Decode(payload, frame); err == nil {
			sp.add(frame[:k])
		}
	}
}

func (sp *speaker) add(pcm []int16) {
	sp.mu.Lock()
	defer sp.mu.Unlock()
	sp.pcm = append(sp.pcm, pcm...)
	if len(sp.pcm) > heardSamples {
		sp.pcm = append(sp.pcm[:0], sp.pcm[len(sp.pcm)-heardSamples:]...)
	}
	sp.got++
}

// Heard returns the last second the call heard (or less, early on) and how
// many frames it decoded in all.
func (c *Call) Heard() ([]int16, int) {
	sp := &c.speaker
	sp.mu.Lock()
	defer sp.mu.Unlock()
	return append([]int16(nil), sp.pcm...), sp.got
}

// ResetHeard forgets what the call heard so far.
func (c *Call) ResetHeard() {
	sp := &c.speaker
	sp.mu.Lock()
	defer sp.mu.Unlock()
	sp.pcm, sp.got = sp.pcm[:0], 0
}

// ToneLevel is the level of freq in 48 kHz pcm relative to a full-scale
// sine, in dB.
func ToneLevel(pcm []int16, freq float64) float64 {
	return mixer.ToneLevel(pcm, mixer.SampleRate, freq)
}

// ToneLevelBlocks is ToneLevel's median over 100 ms blocks: robust to the
// phase breaks of lost packets.
func ToneLevelBlocks(pcm []int16, freq float64) float64 {
	return mixer.ToneLevelBlocks(pcm, mixer.SampleRate, freq, mixer.SampleRate/10)
}
