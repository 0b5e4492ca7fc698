package peer

import (
	"crypto/rand"
	"encoding/binary"

	"github.com/pion/rtp"
	"github.com/pion/sdp/v3"
	"github.com/pion/webrtc/v4"
	"go.uber.org/zap"

	"github.com/confd/confd/forwarder"
	"github.com/confd/confd/mixer"
	"github.com/confd/confd/rtpparse"
)

// audioOut packetizes the mixer's Opus frames for one browser (RFC 7587):
// one 20 ms frame per packet, sequence +1, timestamp +960. pion's track
// fills in the negotiated SSRC and payload type. It runs on the mixer
// goroutine; each join of the mix gets its own.
type audioOut struct {
	track *webrtc.TrackLocalStaticRTP
	pkt   rtp.Packet
}

func newAudioOut(track *webrtc.TrackLocalStaticRTP) *audioOut {
	var seed [6]byte
	_, _ = rand.Read(seed[:]) // RFC 3550 §5.1: random initial numbers
	o := &audioOut{track: track}
	o.pkt.Version = 2
	o.pkt.SequenceNumber = binary.BigEndian.Uint16(seed[:2])
	o.pkt.Timestamp = binary.BigEndian.Uint32(seed[2:])
	return o
}

// WriteFrame implements mixer.PacketWriter.
func (o *audioOut) WriteFrame(payload []byte) error {
	o.pkt.SequenceNumber++
	o.pkt.Timestamp += mixer.FrameSamples
	o.pkt.Payload = payload
	return o.track.WriteRTP(&o.pkt)
}

// joinAudio puts the peer into m's mix: what its microphone sends is
// mixed for the others, and track carries everyone else.
func (p *Peer) joinAudio(m Membership, track *webrtc.TrackLocalStaticRTP) {
	am, err := m.Room.JoinAudio(m.Part, mixer.MemberOptions{
		In: mixer.CodecOpus, HasInput: true, Out: mixer.CodecOpus, Writer: newAudioOut(track),
	})
	if err != nil {
		p.log.Info("cannot join the mix", zap.Error(err))
		return
	}
	p.audioIn.Store(am)
}

// readAudio hands the browser's Opus packets to its mixer input. It reads
// into one buffer and allocates nothing per packet.
func (p *Peer) readAudio(track *webrtc.TrackRemote, recv *webrtc.RTPReceiver) {
	levelID := audioLevelID(recv)
	buf := make([]byte, forwarder.MaxPacketSize)
	var h rtp.Header
	for {
		n, _, err := track.Read(buf)
		if err != nil {
			return
		}
		p.audioPacket(buf[:n], &h, levelID)
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
