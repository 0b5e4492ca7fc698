package signalling

import (
	"slices"
	"sync"

	"github.com/pion/interceptor"
	"github.com/pion/interceptor/pkg/cc"
	"github.com/pion/interceptor/pkg/gcc"
	"github.com/pion/webrtc/v4"
	"go.uber.org/zap"

	"github.com/confd/confd/forwarder"
	"github.com/confd/confd/room"
	"github.com/confd/confd/signalling/verto"
)

// Send-side bandwidth estimation (transport-wide congestion control,
// draft-holmer-rmcat-transport-wide-cc-extensions) bounds. The estimate
// starts where a broadband viewer of one 720p speaker and a few
// thumbnails fits: the loss-based controller takes it down within a
// second where that is too much, while starting low would show every
// viewer the small layer for the many seconds GCC takes to climb.
const (
	bweInitial = 2_500_000
	bweMin     = 100_000
	bweMax     = 20_000_000
)

// bweHandoff carries the estimator the cc interceptor makes for a new
// PeerConnection (inside webrtc.API.NewPeerConnection) to the caller,
// which holds mu across that call.
type bweHandoff struct {
	mu   sync.Mutex
	last cc.BandwidthEstimator
}

// configureBWE has every PeerConnection estimate its send bandwidth with
// pion's GCC from the subscriber's transport-wide CC feedback. The cc
// interceptor must come before the one that numbers outgoing packets, so
// that it sees their transport sequence numbers. Packets are not paced:
// the forwarder already sends at the rate of the layers it picks, and a
// pacer would queue (and copy) every packet.
func configureBWE(me *webrtc.MediaEngine, reg *interceptor.Registry, h *bweHandoff) error {
	f, err := cc.NewInterceptor(func() (cc.BandwidthEstimator, error) {
		return gcc.NewSendSideBWE(gcc.SendSideBWEInitialBitrate(bweInitial), gcc.SendSideBWEMinBitrate(bweMin),
			gcc.SendSideBWEMaxBitrate(bweMax), gcc.SendSideBWEPacer(gcc.NewNoOpPacer()))
	})
	if err != nil {
		return err
	}
	f.OnNewPeerConnection(func(_ string, est cc.BandwidthEstimator) { h.last = est })
	reg.Add(f)
	if err := webrtc.ConfigureTWCCHeaderExtensionSender(me, reg); err != nil {
		return err
	}
	// Publishers get transport-wide CC feedback in turn: a browser sizes
	// its simulcast encodings by its own send-side estimate, which without
	// feedback stays at its start value and leaves the large layer off.
	return webrtc.ConfigureTWCCSender(me, reg)
}

// downlink is one PeerConnection's bandwidth estimate and the Allocator
// that shares it among the call's slots. Its goroutine runs until the
// PeerConnection closes.
type downlink struct {
	alloc *forwarder.Allocator
	stop  chan struct{}
	once  sync.Once
}

func (d *downlink) close() {
	if d != nil {
		d.once.Do(func() { close(d.stop) })
	}
}

// startDownlink gives pc an Allocator fed by its estimator.
func (c *Call) startDownlink(pc *webrtc.PeerConnection, est cc.BandwidthEstimator) {
	cfg := forwarder.AllocatorConfig{Log: c.log}
	if est != nil {
		cfg.Congestion = func() forwarder.Congestion {
			loss, _ := est.GetStats()["averageLoss"].(float64)
			return forwarder.Congestion{Loss: loss}
		}
	}
	d := &downlink{alloc: forwarder.NewAllocator(cfg), stop: make(chan struct{})}
	if est != nil {
		est.OnTargetBitrateChange(d.alloc.SetEstimate)
	}
	c.sim.mu.Lock()
	old := c.sim.down
	c.sim.down, c.sim.pc = d, pc
	c.sim.mu.Unlock()
	old.close()
	c.goMedia(func() { d.alloc.Run(d.stop) })
}

// stopDownlink ends pc's Allocator (pc closed) and logs what the slots
// received, the call's video metrics.
func (c *Call) stopDownlink(pc *webrtc.PeerConnection) {
	c.sim.mu.Lock()
	d := c.sim.down
	if c.sim.pc != pc {
		d = nil
	}
	c.sim.mu.Unlock()
	if d == nil {
		return
	}
	st := c.stats()
	for _, s := range st.Slots {
		c.log.Info("slot video", zap.Int("slot", s.Slot), zap.Int("estimate", st.Estimate), zap.Int("layer", s.Layer),
			zap.Int("temporal", s.Temporal), zap.Int("targetLayer", s.TargetLayer), zap.Uint64("packets", s.Packets),
			zap.Uint64("switches", s.Switches))
	}
	d.close()
}

// allocateSlots hands the call's current slots to the Allocator.
func (c *Call) allocateSlots() {
	c.mu.Lock()
	slots := slices.Clone(c.slots)
	c.mu.Unlock()
	if a := c.allocator(); a != nil {
		a.SetSlots(slots)
	}
}

func (c *Call) allocator() *forwarder.Allocator {
	c.sim.mu.Lock()
	defer c.sim.mu.Unlock()
	if c.sim.down == nil {
		return nil
	}
	return c.sim.down.alloc
}

// prioritise orders the slots for bandwidth: the floor first, then by the
// room's ranking (most recent speaker first); empty slots last.
func (c *Call) prioritise(e room.SlotsEvent) {
	a := c.allocator()
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

// simulcastState is a call's simulcast bookkeeping.
type simulcastState struct {
	mu   sync.Mutex
	down *downlink
	pc   *webrtc.PeerConnection // the PeerConnection down belongs to
	// byReceiver holds the forwarder.Receiver of each simulcast
	// transceiver: pion fires OnTrack once per rid, the first one makes it.
	byReceiver map[*webrtc.RTPReceiver]*forwarder.Receiver
	// rids are the camera's simulcast rids as last answered, for the
	// offer of a reattach (cameraRIDs).
	rids []string
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
func (c *Call) onSimulcastTrack(pc *webrtc.PeerConnection, track *webrtc.TrackRemote, rr *webrtc.RTPReceiver) {
	c.sim.mu.Lock()
	recv, exists := c.sim.byReceiver[rr]
	if !exists {
		recv = forwarder.NewReceiver(forwarder.ReceiverConfig{Kind: forwarder.KindVideo, Log: c.log}, pc)
		recv.OnActiveLayers(func(active []string) { c.sendLayers(withUnreceived(active, offeredRIDs(rr), recv.Layers())) })
		if c.sim.byReceiver == nil {
			c.sim.byReceiver = map[*webrtc.RTPReceiver]*forwarder.Receiver{}
		}
		c.sim.byReceiver[rr] = recv
	}
	c.sim.mu.Unlock()
	idx := layerIndex(track.RID(), rr)
	if err := recv.AddLayer(idx, track.RID(), uint32(track.SSRC()), track); err != nil {
		c.log.Info("simulcast layer refused", zap.String("rid", track.RID()), zap.Int("layer", idx), zap.Error(err))
		return
	}
	c.goMedia(func() { readSenderReports(rr, track.RID(), recv) })
	c.log.Debug("simulcast layer", zap.String("rid", track.RID()), zap.Int("layer", idx), zap.Uint32("ssrc", uint32(track.SSRC())))
	if !exists {
		c.publish(recv)
		c.sim.mu.Lock()
		delete(c.sim.byReceiver, rr)
		c.sim.mu.Unlock()
	}
}

// layersChannel names the confd.layers event (docs/protocol.md).
const layersChannel = "confd.layers"

type layersData struct {
	CallID string   `json:"callID"`
	Active []string `json:"active"`
}

// sendLayers tells the publisher which of its simulcast encodings anyone
// watches (the confd.layers event), so it can stop encoding the others.
func (c *Call) sendLayers(rids []string) {
	s := c.sess.Load()
	if s == nil {
		return
	}
	c.log.Debug("simulcast layers wanted", zap.Strings("active", rids))
	s.post(func() {
		s.request(verto.MethodEvent, verto.Event{EventChannel: layersChannel, EventType: layersChannel,
			Data: layersData{CallID: c.id, Active: rids}, Sessid: s.sessid})
	})
}

const (
	methodSlotSize = "confd.slotSize"
	methodStats    = "confd.stats"
)

// slotSizeParams are the params of confd.slotSize (docs/protocol.md).
type slotSizeParams struct {
	CallID string `json:"callID"`
	Slot   int    `json:"slot"`
	Width  int    `json:"width"`
	Height int    `json:"height"`
}

// handleSlotSize records the size at which the client shows a slot; the
// slot then gets the simulcast layer that fits it.
func (s *Session) handleSlotSize(req *request) (any, *verto.Error) {
	var p slotSizeParams
	if err := verto.DecodeParams(req.params, &p); err != nil {
		return nil, err
	}
	c := s.calls[p.CallID]
	if c == nil {
		return nil, callNotFound(p.CallID)
	}
	dt := c.slot(p.Slot)
	if dt == nil || p.Width < 0 || p.Height < 0 {
		return nil, verto.NewError(verto.CodeInvalidParams, "no such slot or a negative size")
	}
	dt.SetRenderSize(p.Width, p.Height)
	return verto.MessageResult{Message: "OK"}, nil
}

func (c *Call) slot(i int) *forwarder.DownTrack {
	c.mu.Lock()
	defer c.mu.Unlock()
	if i < 0 || i >= len(c.slots) {
		return nil
	}
	return c.slots[i]
}

// statsResult is the result of confd.stats.
type statsResult struct {
	Estimate int         `json:"estimate"`
	Slots    []slotStats `json:"slots"`
	Sessid   string      `json:"sessid,omitempty"`
}

type slotStats struct {
	Slot           int    `json:"slot"`
	Width          int    `json:"width"`
	Height         int    `json:"height"`
	Layer          int    `json:"layer"`
	Temporal       int    `json:"temporal"`
	TargetLayer    int    `json:"targetLayer"`
	TargetTemporal int    `json:"targetTemporal"`
	RID            string `json:"rid,omitempty"`
	Packets        uint64 `json:"packets"`
	Switches       uint64 `json:"switches"`
}

// handleStats reports the call's downlink estimate and what each slot
// forwards.
func (s *Session) handleStats(req *request) (any, *verto.Error) {
	var p struct {
		CallID string `json:"callID"`
	}
	if err := verto.DecodeParams(req.params, &p); err != nil {
		return nil, err
	}
	c := s.calls[p.CallID]
	if c == nil {
		return nil, callNotFound(p.CallID)
	}
	return c.stats(), nil
}

// stats is what confd.stats answers, also logged as the call's metrics.
func (c *Call) stats() statsResult {
	var res statsResult
	if a := c.allocator(); a != nil {
		res.Estimate = a.Estimate()
	}
	c.mu.Lock()
	slots := slices.Clone(c.slots)
	c.mu.Unlock()
	res.Slots = make([]slotStats, len(slots))
	for i, dt := range slots {
		st := dt.Stats()
		w, h := dt.RenderSize()
		res.Slots[i] = slotStats{Slot: i, Width: w, Height: h, Layer: st.Current.Spatial, Temporal: st.Current.Temporal,
			TargetLayer: st.Target.Spatial, TargetTemporal: st.Target.Temporal, RID: forwardedRID(dt, st.Current.Spatial),
			Packets: st.Packets, Switches: st.Switches}
	}
	return res
}
