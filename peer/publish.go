package peer

import (
	"errors"
	"io"
	"slices"

	"github.com/pion/webrtc/v4"
	"go.uber.org/zap"

	"github.com/confd/confd/forwarder"
)

// Publishing: the client's microphone goes into the room's mix, its camera
// becomes a forwarder.Receiver (a layer per simulcast rid) that the room
// shows in others' slots.

// onTrack runs, as one of the peer's goroutines, for each track the client
// sends, until the track ends.
func (p *Peer) onTrack(pc *webrtc.PeerConnection, track *webrtc.TrackRemote, rr *webrtc.RTPReceiver) {
	if track.Kind() != webrtc.RTPCodecTypeVideo {
		p.spawn(func() { drainReceiverRTCP(rr) })
		p.readAudio(track, rr)
		return
	}
	if track.RID() != "" {
		p.onSimulcastTrack(pc, track, rr)
		return
	}
	recv := forwarder.NewReceiver(forwarder.ReceiverConfig{SSRC: uint32(track.SSRC()), Kind: forwarder.KindVideo, Log: p.log, Burst: p.media.burst}, pc)
	recv.Start(p.cameraSource(track))
	p.spawn(func() { readSenderReports(rr, "", recv) })
	p.publish(recv)
}

// publish makes recv the member's camera until it ends.
func (p *Peer) publish(recv *forwarder.Receiver) {
	p.mu.Lock()
	p.camera = recv
	p.mu.Unlock()
	if m := p.Where(); m.Part != nil {
		m.Room.Publish(m.Part, recv)
	}
	<-recv.Done()
	p.mu.Lock()
	if p.camera == recv {
		p.camera = nil
	}
	p.mu.Unlock()
	if m := p.Where(); m.Part != nil {
		m.Room.Unpublish(m.Part, recv)
	}
}

// ridOrder ranks the rids browsers and SFUs use, smallest layer first.
var ridOrder = map[string]int{"q": 0, "h": 1, "f": 2, "0": 0, "1": 1, "2": 2, "r0": 0, "r1": 1, "r2": 2}

// layerIndex places rid among the transceiver's encodings: the usual names
// by their meaning, others by their order in the offer.
func layerIndex(rid string, rr *webrtc.RTPReceiver) int {
	if i, ok := ridOrder[rid]; ok {
		return i
	}
	for i, t := range rr.Tracks() {
		if t.RID() == rid {
			return min(i, forwarder.MaxLayers-1)
		}
	}
	return forwarder.MaxLayers - 1
}

// offeredRIDs are the rids the publisher offered on rr's transceiver,
// smallest layer first.
func offeredRIDs(rr *webrtc.RTPReceiver) []string {
	var rids []string
	for _, t := range rr.Tracks() {
		if t.RID() != "" {
			rids = append(rids, t.RID())
		}
	}
	slices.SortStableFunc(rids, func(a, b string) int { return layerIndex(a, rr) - layerIndex(b, rr) })
	return rids
}

// withUnreceived adds to the rids the Receiver wants sent (active) those
// offered that it never received a packet of: confd cannot judge an
// encoding it has not seen, and a publisher told to leave one out (a
// browser whose own estimate had not yet allowed the large encoding when
// confd paused the middle one) would never start it, so no slot could ever
// choose it. The result keeps the offered order.
func withUnreceived(active, offered []string, received []forwarder.LayerInfo) []string {
	if len(offered) == 0 {
		return active
	}
	out := make([]string, 0, len(offered))
	for _, rid := range offered {
		seen := slices.ContainsFunc(received, func(l forwarder.LayerInfo) bool { return l.RID == rid && l.Packets > 0 })
		if slices.Contains(active, rid) || !seen {
			out = append(out, rid)
		}
	}
	return out
}

// onSimulcastTrack adds one rid of a simulcast publisher (RFC 8853) as a
// layer of the transceiver's Receiver; the first rid makes the Receiver,
// publishes it, and runs until it ends.
func (p *Peer) onSimulcastTrack(pc *webrtc.PeerConnection, track *webrtc.TrackRemote, rr *webrtc.RTPReceiver) {
	p.mu.Lock()
	recv, exists := p.byReceiver[rr]
	if !exists {
		recv = forwarder.NewReceiver(forwarder.ReceiverConfig{Kind: forwarder.KindVideo, Log: p.log, Burst: p.media.burst}, pc)
		recv.OnActiveLayers(func(active []string) {
			rids := withUnreceived(active, offeredRIDs(rr), recv.Layers())
			p.log.Debug("simulcast layers wanted", zap.Strings("active", rids))
			p.sig.Layers(rids)
		})
		if p.byReceiver == nil {
			p.byReceiver = map[*webrtc.RTPReceiver]*forwarder.Receiver{}
		}
		p.byReceiver[rr] = recv
	}
	p.mu.Unlock()
	idx := layerIndex(track.RID(), rr)
	if err := recv.AddLayer(idx, track.RID(), uint32(track.SSRC()), p.cameraSource(track)); err != nil {
		p.log.Info("simulcast layer refused", zap.String("rid", track.RID()), zap.Int("layer", idx), zap.Error(err))
		return
	}
	p.spawn(func() { readSenderReports(rr, track.RID(), recv) })
	p.log.Debug("simulcast layer", zap.String("rid", track.RID()), zap.Int("layer", idx), zap.Uint32("ssrc", uint32(track.SSRC())))
	if !exists {
		p.publish(recv)
		p.mu.Lock()
		delete(p.byReceiver, rr)
		p.mu.Unlock()
	}
}

// drainReceiverRTCP reads the RTCP a microphone's sender sends (its sender
// reports), so that it passes the interceptors, where the receiver-report
// generator takes the LSR it echoes (the client's audio round trip), and
// does not pile up in pion's buffer. It ends with the PeerConnection.
func drainReceiverRTCP(rr *webrtc.RTPReceiver) {
	buf := make([]byte, forwarder.MaxPacketSize)
	for {
		if _, _, err := rr.Read(buf); err != nil && !errors.Is(err, io.ErrShortBuffer) {
			return
		}
	}
}
