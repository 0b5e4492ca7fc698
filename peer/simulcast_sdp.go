package peer

import (
	"fmt"
	"slices"
	"strings"

	"github.com/pion/sdp/v3"
	"github.com/pion/webrtc/v4"
)

// Keeping simulcast across a reattach (RFC 8853).
//
// A peer whose client lost its PeerConnection makes a new one with a
// server offer (Offer), and a browser answers an offer
// with several encodings only when the offer asks to receive them: a=rid
// recv lines and a=simulcast:recv on the camera's section. pion v4.2.20
// cannot produce those lines itself: CreateOffer builds its sections with
// no rids (generateUnmatchedSDP in peerconnection.go; rids come only from a
// remote description, generateMatchedSDP), RTPTransceiverInit has no
// receive encodings, and SetLocalDescription refuses an offer that is not
// the one CreateOffer returned (errSDPDoesNotMatchOffer). So confd adds
// the lines to the copy of the offer it sends. pion sets up the receive
// side of simulcast from the answer alone: the answer's a=rid send lines
// become one track per rid (configureRTPReceivers), matched to packets by
// their RtpStreamId header extension, and OnTrack fires per rid as for a
// client's own simulcast offer. The rids asked for are those of the last
// remote description the peer applied (noteRIDs): a PeerConnection whose
// client never answered says nothing, and the rids last seen stand.

// sendRIDs are the rids of the first video section in which the SDP's
// author sends simulcast (a=rid:<id> send, RFC 8851), in their order; nil
// for fewer than two.
func sendRIDs(desc string) []string {
	var d sdp.SessionDescription
	if d.UnmarshalString(desc) != nil {
		return nil
	}
	for _, m := range d.MediaDescriptions {
		if m.MediaName.Media != "video" || m.MediaName.Port.Value == 0 {
			continue
		}
		var rids []string
		for _, a := range m.Attributes {
			if a.Key != "rid" {
				continue
			}
			f := strings.Fields(a.Value)
			if len(f) >= 2 && f[1] == "send" {
				rids = append(rids, f[0])
			}
		}
		if len(rids) >= 2 {
			return rids
		}
	}
	return nil
}

// withRecvSimulcast asks, in offer, to receive the camera as the given
// rids: the first video section confd receives on gets a=rid:<id> recv
// for each and a=simulcast:recv listing them (RFC 8853 §5.1), before its
// direction attribute. Fewer than
// two rids leave the offer as it is.
func withRecvSimulcast(offer string, rids []string) (string, error) {
	if len(rids) < 2 {
		return offer, nil
	}
	var d sdp.SessionDescription
	if err := d.UnmarshalString(offer); err != nil {
		return "", fmt.Errorf("own offer: %w", err)
	}
	for _, m := range d.MediaDescriptions {
		at := receiveDirection(m)
		if m.MediaName.Media != "video" || at < 0 {
			continue
		}
		lines := make([]sdp.Attribute, 0, len(rids)+1)
		for _, rid := range rids {
			lines = append(lines, sdp.NewAttribute("rid", rid+" recv"))
		}
		lines = append(lines, sdp.NewAttribute("simulcast", "recv "+strings.Join(rids, ";")))
		m.Attributes = slices.Insert(m.Attributes, at, lines...)
		out, err := d.Marshal()
		if err != nil {
			return "", fmt.Errorf("own offer: %w", err)
		}
		return string(out), nil
	}
	return offer, nil
}

// receiveDirection is the index of the direction attribute of a section
// of confd's own offer on which confd receives, or -1.
func receiveDirection(m *sdp.MediaDescription) int {
	for i, a := range m.Attributes {
		switch webrtc.NewRTPTransceiverDirection(a.Key) {
		case webrtc.RTPTransceiverDirectionSendrecv, webrtc.RTPTransceiverDirectionRecvonly:
			return i
		}
	}
	return -1
}
