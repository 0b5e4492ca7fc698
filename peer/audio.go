package peer

import (
	"crypto/rand"
	"encoding/binary"
	"strings"
	"sync/atomic"

	"github.com/pion/rtp"
	"github.com/pion/sdp/v3"
	"github.com/pion/webrtc/v4"
	"go.uber.org/zap"

	"github.com/confd/confd/forwarder"
	"github.com/confd/confd/mixer"
	"github.com/confd/confd/rtpparse"
)

// mixTrack is the audio track the mix goes out on, with its packets'
// numbering. Every join of a mix writes through an audioOut of its own
// (two mixers may both write for a tick during a move), and they share
// these numbers, so the stream stays one: a move that restarted them at
// random would, half the time, jump back, and the browser's SRTP replay
// check would drop every packet as a replay.
type mixTrack struct {
	track   *webrtc.TrackLocalStaticRTP
	seq, ts atomic.Uint32
}

func newMixTrack() (*mixTrack, error) {
	track, err := webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2}, "audio", slotStream(0))
	if err != nil {
		return nil, err
	}
	var seed [6]byte
	_, _ = rand.Read(seed[:]) // RFC 3550 §5.1: random initial numbers
	mt := &mixTrack{track: track}
	mt.seq.Store(uint32(binary.BigEndian.Uint16(seed[:2])))
	mt.ts.Store(binary.BigEndian.Uint32(seed[2:]))
	return mt, nil
}

// audioOut packetizes the mixer's Opus frames for one browser (RFC 7587):
// one 20 ms frame per packet, sequence +1, timestamp +960. pion's track
// fills in the negotiated SSRC and payload type. It runs on the mixer
// goroutine.
type audioOut struct {
	mt  *mixTrack
	pkt rtp.Packet
}

func newAudioOut(mt *mixTrack) *audioOut {
	o := &audioOut{mt: mt}
	o.pkt.Version = 2
	return o
}

var _ mixer.DTXWriter = (*audioOut)(nil)

// SkipFrame implements mixer.DTXWriter: a silent frame not sent moves the
// timestamp on, the sequence number not (RFC 7587 §3.1.3: the receiver
// sees a gap in time, no loss).
func (o *audioOut) SkipFrame() { o.mt.ts.Add(mixer.FrameSamples) }

// WriteFrame implements mixer.PacketWriter.
func (o *audioOut) WriteFrame(payload []byte) error {
	o.pkt.SequenceNumber = uint16(o.mt.seq.Add(1))
	o.pkt.Timestamp = o.mt.ts.Add(mixer.FrameSamples)
	o.pkt.Payload = payload
	return o.mt.track.WriteRTP(&o.pkt)
}

// joinAudio puts the peer into m's mix: what its microphone sends is
// mixed for the others, and mt (nil for a client that receives no audio,
// a broadcaster) carries everyone else.
func (p *Peer) joinAudio(m Membership, mt *mixTrack) {
	opts := mixer.MemberOptions{In: mixer.CodecOpus, HasInput: true, Out: mixer.CodecOpus}
	if mt != nil {
		opts.Writer = newAudioOut(mt)
	}
	am, err := m.Room.JoinAudio(m.Part, opts)
	if err != nil {
		p.log.Info("cannot join the mix", zap.Error(err))
		return
	}
	p.audioIn.Store(am)
}

// readAudio hands the browser's Opus packets to its mixer input, and its
// RFC 4733 key presses (a telephone-event payload type on the same
// stream) to the signalling's Keypad. It reads into one buffer and
// allocates nothing per packet.
func (p *Peer) readAudio(track *webrtc.TrackRemote, recv *webrtc.RTPReceiver) {
	levelID := audioLevelID(recv)
	keys := dtmfTypes(recv)
	buf := make([]byte, forwarder.MaxPacketSize)
	var h rtp.Header
	var dtmf rtpparse.DTMF
	for {
		n, _, err := track.Read(buf)
		if err != nil {
			return
		}
		if n > 1 && keys.has(buf[1]&0x7f) {
			p.keyPacket(buf[:n], &h, &dtmf)
			continue
		}
		p.audioPacket(buf[:n], &h, levelID)
	}
}

// dtmfPTs are the payload types a client sends key presses with (0: none).
type dtmfPTs [2]uint8

func (k dtmfPTs) has(pt uint8) bool { return pt != 0 && (pt == k[0] || pt == k[1]) }

// dtmfTypes are the telephone-event payload types negotiated on recv.
func dtmfTypes(recv *webrtc.RTPReceiver) dtmfPTs {
	var k dtmfPTs
	i := 0
	for _, c := range recv.GetParameters().Codecs {
		if i < len(k) && strings.EqualFold(c.MimeType, mimeTypeDTMF) {
			k[i] = uint8(c.PayloadType)
			i++
		}
	}
	return k
}

// keyPacket decodes one RFC 4733 packet; a new key press goes to the
// signalling, if it takes them.
func (p *Peer) keyPacket(raw []byte, h *rtp.Header, dtmf *rtpparse.DTMF) {
	payload, err := rtpparse.Parse(raw, h)
	if err != nil || p.keypad == nil {
		return
	}
	if d, ok := dtmf.Decode(h.Timestamp, payload); ok {
		p.keypad.Digit(d)
	}
}

// audioPacket hands one of the microphone's RTP packets to the mix input,
// if the peer is in the mix; garbage and padding alone are dropped.
func (p *Peer) audioPacket(raw []byte, h *rtp.Header, levelID uint8) {
	payload, err := rtpparse.Parse(raw, h)
	am := p.audioIn.Load()
	if err != nil || len(payload) == 0 || am == nil {
		return
	}
	am.Push(h.SequenceNumber, h.Timestamp, payload, audioLevel(h, levelID), mixer.Now())
}

// audioLevelID is the negotiated ID of the RFC 6464 audio level extension,
// 0 when the browser did not agree to send it.
func audioLevelID(recv *webrtc.RTPReceiver) uint8 {
	for _, e := range recv.GetParameters().HeaderExtensions {
		if e.URI == sdp.AudioLevelURI {
			return uint8(e.ID)
		}
	}
	return 0
}

// audioLevel reads the RFC 6464 level (-dBov, 0..127) or -1 without one.
func audioLevel(h *rtp.Header, id uint8) int {
	if id == 0 {
		return -1
	}
	ext := h.GetExtension(id)
	if len(ext) == 0 {
		return -1
	}
	return int(ext[0] & 0x7f)
}
