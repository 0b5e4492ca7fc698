package vertotest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/sdp/v3"
	"github.com/pion/webrtc/v4"

	"github.com/confd/confd/forwarder/forwardertest"
)

// simulcastCamera publishes three VP8 encodings with rids q, h and f
// (RFC 8853) on one transceiver, from a synthetic source at 320x180,
// 640x360 and 1280x720. The SSRCs in the frames' markers (FrameOf) are
// base, base+1 and base+2, whatever SSRCs pion puts on the wire.
type simulcastCamera struct {
	tr     *webrtc.RTPTransceiver
	src    *forwardertest.Simulcast
	tracks [3]*webrtc.TrackLocalStaticRTP
	paused [3]bool    // guarded by the call's mu: layers confd said nobody watches
	layers [][]string // guarded by the call's mu: every confd.layers event, in order
	forced [3]int     // guarded by the call's mu: key frames made on request
}

// simulcastFrameBytes is the smallest layer's frame size: about 150, 440
// and 1300 kbit/s at 30 fps for q, h and f, with headers.
const simulcastFrameBytes = 600

func (c *Call) addSimulcastCamera(pc *webrtc.PeerConnection, dir webrtc.RTPTransceiverDirection) error {
	base := c.opts.SSRC
	cam := &simulcastCamera{src: forwardertest.NewSimulcast(forwardertest.SimulcastConfig{
		SSRCs: [3]uint32{base, base + 1, base + 2}, FrameBytes: simulcastFrameBytes, TemporalLayers: true, KeyframeInterval: 90,
	})}
	for i, rid := range forwardertest.SimulcastRIDs {
		t, err := webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8, ClockRate: 90000},
			"camera", c.opts.Name, webrtc.WithRTPStreamID(rid))
		if err != nil {
			return err
		}
		cam.tracks[i] = t
	}
	tr, err := pc.AddTransceiverFromTrack(cam.tracks[0], webrtc.RTPTransceiverInit{Direction: dir})
	if err != nil {
		return err
	}
	for _, t := range cam.tracks[1:] {
		if err := tr.Sender().AddEncoding(t); err != nil {
			return err
		}
	}
	cam.tr = tr
	c.sim = cam
	for i, rid := range forwardertest.SimulcastRIDs {
		go c.readLayerRTCP(tr.Sender(), rid, i)
	}
	return nil
}

// readLayerRTCP answers key frame requests for one encoding.
func (c *Call) readLayerRTCP(s *webrtc.RTPSender, rid string, layer int) {
	for {
		pkts, _, err := s.ReadSimulcastRTCP(rid)
		if err != nil {
			return
		}
		for _, p := range pkts {
			switch p.(type) {
			case *rtcp.PictureLossIndication, *rtcp.FullIntraRequest:
				c.mu.Lock()
				c.sim.src.Layers[layer].ForceKeyframe()
				c.sim.forced[layer]++
				c.mu.Unlock()
			case *rtcp.ReceiverReport:
				c.receiverReports.Add(1)
			}
		}
	}
}

// writeSimulcastFrame sends the next frame of every layer confd wants. A
// paused layer's encoder stops; when it resumes it starts with a key frame,
// as a browser's does.
func (c *Call) writeSimulcastFrame() error {
	c.mu.Lock()
	frames := c.sim.src.NextFrame()
	paused := c.sim.paused
	c.mu.Unlock()
	midID, ridID := c.sim.extensionIDs()
	for i, pkts := range frames {
		if paused[i] {
			continue
		}
		for _, raw := range pkts {
			if err := c.sim.write(i, raw, midID, ridID); err != nil {
				return err
			}
		}
	}
	return nil
}

// extensionIDs are the negotiated IDs of the MID and RtpStreamId header
// extensions (RFC 8843 §15, RFC 8852). pion does not add them to what a
// TrackLocalStaticRTP sends, and without them confd cannot tell the
// encodings apart.
func (cam *simulcastCamera) extensionIDs() (mid, rid uint8) {
	for _, e := range cam.tr.Sender().GetParameters().HeaderExtensions {
		switch e.URI {
		case sdp.SDESMidURI:
			mid = uint8(e.ID)
		case sdp.SDESRTPStreamIDURI:
			rid = uint8(e.ID)
		}
	}
	return mid, rid
}

// write sends one packet of layer i tagged with the MID and its rid.
func (cam *simulcastCamera) write(i int, raw []byte, midID, ridID uint8) error {
	var p rtp.Packet
	if err := p.Unmarshal(raw); err != nil {
		return err
	}
	if midID != 0 {
		if err := p.Header.SetExtension(midID, []byte(cam.tr.Mid())); err != nil {
			return err
		}
	}
	if ridID != 0 {
		if err := p.Header.SetExtension(ridID, []byte(forwardertest.SimulcastRIDs[i])); err != nil {
			return err
		}
	}
	return cam.tracks[i].WriteRTP(&p)
}

// setLayers applies a confd.layers event.
func (c *Call) setLayers(active []string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.sim == nil {
		return
	}
	c.sim.layers = append(c.sim.layers, slices.Clone(active))
	for i, rid := range forwardertest.SimulcastRIDs {
		on := slices.Contains(active, rid)
		if on && c.sim.paused[i] {
			c.sim.src.Layers[i].ForceKeyframe()
		}
		c.sim.paused[i] = !on
	}
}

// LayersEvents lists the active rids of every confd.layers event the
// simulcast publisher got, in order.
func (c *Call) LayersEvents() [][]string {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.sim == nil {
		return nil
	}
	return slices.Clone(c.sim.layers)
}

// KeyframesForced is how many key frames each simulcast layer made on
// confd's request.
func (c *Call) KeyframesForced() [3]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.sim == nil {
		return [3]int{}
	}
	return c.sim.forced
}

// SetSlotSize tells confd the size at which the client shows slot
// (confd.slotSize).
func (c *Call) SetSlotSize(ctx context.Context, slot, width, height int) error {
	r, err := c.clientOf().Request(ctx, "confd.slotSize", map[string]any{"callID": c.ID, "slot": slot, "width": width, "height": height})
	if err != nil {
		return err
	}
	if r.Error != nil {
		return r.Error
	}
	return nil
}

// Stats is the result of confd.stats.
type Stats struct {
	Estimate int `json:"estimate"`
	Slots    []struct {
		Slot           int    `json:"slot"`
		Layer          int    `json:"layer"`
		Temporal       int    `json:"temporal"`
		TargetLayer    int    `json:"targetLayer"`
		TargetTemporal int    `json:"targetTemporal"`
		RID            string `json:"rid"`
		Packets        uint64 `json:"packets"`
		Switches       uint64 `json:"switches"`
	} `json:"slots"`
}

var errNoSlot = errors.New("no such slot in the stats")

// Stats asks confd for the call's downlink estimate and slot layers.
func (c *Call) Stats(ctx context.Context) (Stats, error) {
	var st Stats
	r, err := c.clientOf().Request(ctx, "confd.stats", map[string]any{"callID": c.ID})
	if err != nil {
		return st, err
	}
	if r.Error != nil {
		return st, r.Error
	}
	err = json.Unmarshal(r.Result, &st)
	return st, err
}

// SlotLayer is the layer confd currently forwards in slot (-1: none).
func (st Stats) SlotLayer(slot int) (int, error) {
	for _, s := range st.Slots {
		if s.Slot == slot {
			return s.Layer, nil
		}
	}
	return -1, fmt.Errorf("%w: %d", errNoSlot, slot)
}
