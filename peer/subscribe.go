package peer

import (
	"fmt"
	"slices"

	"github.com/pion/sdp/v3"
	"github.com/pion/webrtc/v4"
	"go.uber.org/zap"

	"github.com/confd/confd/forwarder"
	"github.com/confd/confd/room"
)

// Subscribing: the room reaches the client through the mix's audio track
// and one DownTrack per video slot, which the downlink's Allocator shares
// the estimate among.

// wantedSenders counts the offer's m-lines confd sends on: audio and video
// sections the client receives on (sendrecv or recvonly); sendsAudio says
// whether the client sends on an audio section (a microphone).
func wantedSenders(offer string) (audio, video int, sendsAudio bool, err error) {
	var d sdp.SessionDescription
	if err := d.UnmarshalString(offer); err != nil {
		return 0, 0, false, fmt.Errorf("offer: %w", err)
	}
	for _, m := range d.MediaDescriptions {
		if m.MediaName.Port.Value == 0 {
			continue
		}
		recv, send := Directions(m)
		if m.MediaName.Media == "audio" && send {
			sendsAudio = true
		}
		if !recv {
			continue
		}
		switch m.MediaName.Media {
		case "audio":
			audio++
		case "video":
			video++
		}
	}
	return min(audio, 1), video, sendsAudio, nil
}

// Directions says whether the client (the offerer) receives and sends on
// m, from its direction attribute (RFC 3264 §5.1; sendrecv when it has
// none).
func Directions(m *sdp.MediaDescription) (recv, send bool) {
	for _, a := range m.Attributes {
		switch a.Key {
		case "sendonly":
			return false, true
		case "inactive":
			return false, false
		case "recvonly":
			return true, false
		case "sendrecv":
			return true, true
		}
	}
	return true, true
}

// slotStream names the media stream (a=msid) that carries slot i. The
// mix's audio shares slot 0's: clients that show one remote stream
// (verto.js, @signalwire/js) attach the stream of each incoming track to
// one element, so the audio and the large tile must be one stream there.
// Further slots have streams of their own.
func slotStream(i int) string {
	if i == 0 {
		return "confd"
	}
	return fmt.Sprintf("confd-slot%d", i)
}

// addSenders gives the PeerConnection the mix's audio track and one
// DownTrack per video slot. When offering, it creates the transceivers
// itself: the first video one also receives the camera.
func (p *Peer) addSenders(pc *webrtc.PeerConnection, audio, video int, offering bool) error {
	p.mu.Lock()
	p.slots, p.mids, p.audioTrack = nil, nil, nil
	p.mu.Unlock()
	if audio > 0 {
		mt, err := newMixTrack()
		if err != nil {
			return err
		}
		if err := p.addSender(pc, mt.track, offering, webrtc.RTPTransceiverDirectionSendrecv); err != nil {
			return err
		}
		p.mu.Lock()
		p.audioTrack = mt
		p.mu.Unlock()
	}
	for i := range video {
		dir := webrtc.RTPTransceiverDirectionSendonly
		if i == 0 {
			dir = webrtc.RTPTransceiverDirectionSendrecv
		}
		if err := p.addSlot(pc, i, offering, dir); err != nil {
			return err
		}
	}
	return nil
}

// addSlot adds video slot i.
func (p *Peer) addSlot(pc *webrtc.PeerConnection, i int, offering bool, dir webrtc.RTPTransceiverDirection) error {
	dt := forwarder.NewDownTrack(fmt.Sprintf("slot%d", i), slotStream(i))
	if err := p.addSender(pc, dt, offering, dir); err != nil {
		return err
	}
	p.mu.Lock()
	p.slots = append(p.slots, dt)
	p.mu.Unlock()
	p.allocateSlots()
	return nil
}

// addSender adds t to pc and reads the RTCP the client sends for it: a
// slot's PLIs, FIRs and NACKs go to its DownTrack; the mix's are dropped.
func (p *Peer) addSender(pc *webrtc.PeerConnection, t webrtc.TrackLocal, offering bool, dir webrtc.RTPTransceiverDirection) error {
	var sender *webrtc.RTPSender
	if offering {
		tr, err := pc.AddTransceiverFromTrack(t, webrtc.RTPTransceiverInit{Direction: dir})
		if err != nil {
			return err
		}
		sender = tr.Sender()
	} else {
		s, err := pc.AddTrack(t)
		if err != nil {
			return err
		}
		sender = s
	}
	if dt, ok := t.(*forwarder.DownTrack); ok {
		p.spawn(func() { dt.ServeRTCP(sender) })
	} else {
		p.spawn(func() { drainRTCP(sender) })
	}
	return nil
}

func drainRTCP(s *webrtc.RTPSender) {
	buf := make([]byte, forwarder.MaxPacketSize)
	for {
		if _, _, err := s.Read(buf); err != nil {
			return
		}
	}
}

// slotMIDs names each slot by its transceiver's media ID, once known.
func (p *Peer) slotMIDs(pc *webrtc.PeerConnection) {
	trs := pc.GetTransceivers()
	p.mu.Lock()
	defer p.mu.Unlock()
	p.mids = make([]string, len(p.slots))
	for _, tr := range trs {
		s := tr.Sender()
		if s == nil {
			continue
		}
		for i, dt := range p.slots {
			if s.Track() == dt {
				p.mids[i] = tr.Mid()
			}
		}
	}
}

// addMissingSlots gives a DownTrack to every video section a re-offer added.
func (p *Peer) addMissingSlots(pc *webrtc.PeerConnection) {
	for {
		free := false
		for _, tr := range pc.GetTransceivers() {
			if tr.Kind() == webrtc.RTPCodecTypeVideo && tr.Sender() == nil && tr.Direction() == webrtc.RTPTransceiverDirectionSendonly {
				free = true
			}
		}
		if !free {
			return
		}
		p.mu.Lock()
		n := len(p.slots)
		p.mu.Unlock()
		if err := p.addSlot(pc, n, false, webrtc.RTPTransceiverDirectionSendonly); err != nil {
			return
		}
	}
}

// stopDownlink ends pc's Allocator (pc closed) and logs what the slots
// received.
func (p *Peer) stopDownlink(pc *webrtc.PeerConnection) {
	p.mu.Lock()
	d := p.down
	p.mu.Unlock()
	if d == nil || d.pc != pc {
		return
	}
	st := p.Stats()
	for _, s := range st.Slots {
		p.log.Info("slot video", zap.Int("slot", s.Slot), zap.Int("estimate", st.Estimate), zap.Int("layer", s.Current.Spatial),
			zap.Int("temporal", s.Current.Temporal), zap.Int("targetLayer", s.Target.Spatial), zap.Uint64("packets", s.Packets),
			zap.Uint64("switches", s.Switches))
	}
	d.close()
}

// allocateSlots hands the peer's current slots to the Allocator.
func (p *Peer) allocateSlots() {
	p.mu.Lock()
	slots := slices.Clone(p.slots)
	d := p.down
	p.mu.Unlock()
	if d != nil {
		d.alloc.SetSlots(slots)
	}
}

func (p *Peer) allocator() *forwarder.Allocator {
	if d := p.downlink(); d != nil {
		return d.alloc
	}
	return nil
}

// downlink is the current PeerConnection's estimate and Allocator (nil
// before the first).
func (p *Peer) downlink() *downlink {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.down
}

// prioritise orders the slots for bandwidth: the floor first, then by the
// room's ranking (most recent speaker first); empty slots last.
func (p *Peer) prioritise(e room.SlotsEvent) {
	a := p.allocator()
	if a == nil {
		return
	}
	prio := make([]int, len(e.Slots))
	for i, sv := range e.Slots {
		switch {
		case sv.MemberID == 0:
			prio[i] = 1 << 20
		case sv.Floor:
			prio[i] = -1
		default:
			prio[i] = sv.Rank
		}
	}
	a.SetPriorities(prio)
}
