package signalling

import (
	"errors"

	"github.com/confd/confd/peer"
	"github.com/confd/confd/signalling/verto"
)

// The Verto face of simulcast (docs/protocol.md): confd.layers tells a
// publisher which encodings anyone watches, confd.slotSize says how large
// the client draws a slot, confd.stats reports what each slot forwards.

// layersChannel names the confd.layers event (docs/protocol.md).
const layersChannel = "confd.layers"

type layersData struct {
	CallID string   `json:"callID"`
	Active []string `json:"active"`
}

// Layers implements peer.Signal: the confd.layers event, so the publisher
// can stop encoding what nobody watches.
func (c *Call) Layers(rids []string) {
	s := c.sess.Load()
	if s == nil {
		return
	}
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
	if err := c.peer.SetSlotSize(p.Slot, p.Width, p.Height); errors.Is(err, peer.ErrNoSlot) {
		return nil, verto.NewError(verto.CodeInvalidParams, "no such slot or a negative size")
	}
	return verto.MessageResult{Message: "OK"}, nil
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
	st := c.peer.Stats()
	res := statsResult{Estimate: st.Estimate, Slots: make([]slotStats, len(st.Slots))}
	for i, sl := range st.Slots {
		res.Slots[i] = slotStats{Slot: sl.Slot, Width: sl.Width, Height: sl.Height, Layer: sl.Current.Spatial, Temporal: sl.Current.Temporal,
			TargetLayer: sl.Target.Spatial, TargetTemporal: sl.Target.Temporal, RID: sl.RID, Packets: sl.Packets, Switches: sl.Switches}
	}
	return res, nil
}
