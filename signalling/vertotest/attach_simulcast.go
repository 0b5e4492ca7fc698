package vertotest

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/pion/sdp/v3"
	"github.com/pion/webrtc/v4"

	"github.com/confd/confd/forwarder/forwardertest"
)

var errNoSimulcastOffer = errors.New("the attach offer does not ask for the camera's simulcast rids")

// simulcastAttach reads confd's attach offer as a browser does: a=rid
// recv lines and a=simulcast:recv on the camera's section ask for that
// many encodings with those rids (RFC 8853), returned as rids. The offer
// returned for pion has those lines removed: pion v4.2.20 ignores a rid's
// direction (getRids in its sdp.go) and would take them for encodings
// confd sends on that section, so that it could no longer receive the
// slot confd sends there.
func simulcastAttach(offer string) (string, []string, error) {
	var d sdp.SessionDescription
	if err := d.UnmarshalString(offer); err != nil {
		return "", nil, err
	}
	var rids []string
	for _, m := range d.MediaDescriptions {
		var asked []string
		kept := m.Attributes[:0]
		for _, a := range m.Attributes {
			switch a.Key {
			case "rid":
				if f := strings.Fields(a.Value); len(f) >= 2 && f[1] == "recv" {
					asked = append(asked, f[0])
				}
			case "simulcast":
			default:
				kept = append(kept, a)
			}
		}
		m.Attributes = kept
		if rids == nil && m.MediaName.Media == "video" {
			rids = asked
		}
	}
	out, err := d.Marshal()
	if err != nil {
		return "", nil, err
	}
	return string(out), rids, nil
}

// attachSimulcastCamera sends the simulcast camera on the attach answer's
// camera section as the encodings the offer asked for. A browser would
// answer an offer without them with one encoding; this client does not
// emulate that and fails the attach instead.
func (c *Call) attachSimulcastCamera(pc *webrtc.PeerConnection, rids []string) error {
	if !slices.Equal(rids, forwardertest.SimulcastRIDs[:]) {
		return fmt.Errorf("%w: offered %q", errNoSimulcastOffer, rids)
	}
	c.mu.Lock()
	cam := c.sim
	c.mu.Unlock()
	sender, err := pc.AddTrack(cam.tracks[0])
	if err != nil {
		return err
	}
	for _, t := range cam.tracks[1:] {
		if err := sender.AddEncoding(t); err != nil {
			return err
		}
	}
	var tr *webrtc.RTPTransceiver
	for _, t := range pc.GetTransceivers() {
		if t.Sender() == sender {
			tr = t
		}
	}
	c.mu.Lock()
	// A new PeerConnection starts with every encoding active, as a
	// browser's does; confd.layers events pause them again.
	cam.tr, cam.paused = tr, [3]bool{}
	for i := range cam.paused {
		cam.src.Layers[i].ForceKeyframe()
	}
	c.mu.Unlock()
	for i, rid := range forwardertest.SimulcastRIDs {
		go c.readLayerRTCP(sender, rid, i)
	}
	return nil
}
