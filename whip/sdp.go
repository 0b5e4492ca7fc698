package whip

import (
	"errors"
	"fmt"
	"strings"

	"github.com/pion/sdp/v3"

	"github.com/confd/confd/peer"
)

// Why an offer is refused before any PeerConnection is made.
var (
	errNoMedia = errors.New("the offer has no audio or video section confd can use (Opus, VP8)")
)

// checkOffer parses offer and says whether it is one the endpoint takes:
// for a publisher (publish), a section it sends on with Opus (audio) or
// VP8 (video); for a viewer, a section it receives on with one of them. A
// parse failure is errBadSDP (400); an offer with nothing usable is
// errNoMedia (422).
func checkOffer(offer string, publish bool) error {
	var d sdp.SessionDescription
	if err := d.UnmarshalString(offer); err != nil {
		return fmt.Errorf("%w: %v", errBadSDP, err)
	}
	if len(d.MediaDescriptions) == 0 {
		return fmt.Errorf("%w: no media sections", errBadSDP)
	}
	for _, m := range d.MediaDescriptions {
		if m.MediaName.Port.Value == 0 {
			continue
		}
		recv, send := peer.Directions(m)
		if (publish && !send) || (!publish && !recv) {
			continue
		}
		want := map[string]string{"audio": "opus/48000", "video": "vp8/90000"}[m.MediaName.Media]
		if want == "" {
			continue
		}
		for _, a := range m.Attributes {
			if a.Key == "rtpmap" && strings.Contains(strings.ToLower(a.Value), want) {
				return nil
			}
		}
	}
	return errNoMedia
}

var errBadSDP = errors.New("malformed SDP")

// sdpFrag is a trickle-ice-sdpfrag body (RFC 8840, as WHIP's PATCH uses
// it): the ICE credentials, when given, and the candidates, each with the
// media section it belongs to.
type sdpFrag struct {
	ufrag, pwd string
	candidates []fragCandidate
	endOfCands bool
}

type fragCandidate struct {
	mid  string
	line string // the candidate attribute's value
}

// maxFragLines bounds a fragment: a client trickles a handful of
// candidates, not thousands.
const maxFragLines = 200

// parseFrag reads an sdpfrag body. Lines it does not need are skipped.
func parseFrag(body string) (sdpFrag, error) {
	var f sdpFrag
	mid := ""
	lines := strings.Split(strings.ReplaceAll(body, "\r\n", "\n"), "\n")
	if len(lines) > maxFragLines {
		return f, fmt.Errorf("%w: %d lines", errBadSDP, len(lines))
	}
	for _, line := range lines {
		line = strings.TrimSpace(line)
		switch {
		case line == "":
		case strings.HasPrefix(line, "a=ice-ufrag:"):
			f.ufrag = strings.TrimPrefix(line, "a=ice-ufrag:")
		case strings.HasPrefix(line, "a=ice-pwd:"):
			f.pwd = strings.TrimPrefix(line, "a=ice-pwd:")
		case strings.HasPrefix(line, "a=mid:"):
			mid = strings.TrimPrefix(line, "a=mid:")
		case strings.HasPrefix(line, "a=candidate:"):
			f.candidates = append(f.candidates, fragCandidate{mid: mid, line: strings.TrimPrefix(line, "a=")})
		case line == "a=end-of-candidates":
			f.endOfCands = true
		case strings.HasPrefix(line, "m="), strings.HasPrefix(line, "a="):
		default:
			return f, fmt.Errorf("%w: %q is not an SDP line", errBadSDP, line)
		}
	}
	if (f.ufrag == "") != (f.pwd == "") {
		return f, fmt.Errorf("%w: ice-ufrag and ice-pwd go together", errBadSDP)
	}
	return f, nil
}

// withCredentials replaces the ICE credentials (session or media level)
// of sdp by ufrag and pwd, and adds the fragment's candidates to the
// sections they name (the first section when they name none): the offer
// an ICE restart amounts to.
func withCredentials(desc string, f sdpFrag) (string, error) {
	var d sdp.SessionDescription
	if err := d.UnmarshalString(desc); err != nil {
		return "", err
	}
	swap := func(attrs []sdp.Attribute) []sdp.Attribute {
		out := attrs[:0]
		for _, a := range attrs {
			switch a.Key {
			case "ice-ufrag":
				a.Value = f.ufrag
			case "ice-pwd":
				a.Value = f.pwd
			case "candidate", "end-of-candidates":
				continue // the old path's candidates go with it
			}
			out = append(out, a)
		}
		return out
	}
	d.Attributes = swap(d.Attributes)
	for i, m := range d.MediaDescriptions {
		m.Attributes = swap(m.Attributes)
		mid, _ := m.Attribute("mid")
		for _, c := range f.candidates {
			if c.mid == mid || (c.mid == "" && i == 0) {
				m.Attributes = append(m.Attributes, sdp.NewAttribute("candidate", strings.TrimPrefix(c.line, "candidate:")))
			}
		}
	}
	out, err := d.Marshal()
	return string(out), err
}

// answerFrag is the fragment that answers an ICE restart: the answer's new
// credentials and candidates, under the first section's mid.
func answerFrag(answer string) (string, error) {
	var d sdp.SessionDescription
	if err := d.UnmarshalString(answer); err != nil {
		return "", err
	}
	var b strings.Builder
	ufrag, _ := d.Attribute("ice-ufrag")
	pwd, _ := d.Attribute("ice-pwd")
	for _, m := range d.MediaDescriptions {
		if ufrag == "" {
			ufrag, _ = m.Attribute("ice-ufrag")
			pwd, _ = m.Attribute("ice-pwd")
		}
	}
	fmt.Fprintf(&b, "a=ice-ufrag:%s\r\na=ice-pwd:%s\r\n", ufrag, pwd)
	if len(d.MediaDescriptions) > 0 {
		m := d.MediaDescriptions[0]
		mid, _ := m.Attribute("mid")
		fmt.Fprintf(&b, "m=%s 9 %s %s\r\na=mid:%s\r\n", m.MediaName.Media, strings.Join(m.MediaName.Protos, "/"), strings.Join(m.MediaName.Formats, " "), mid)
		for _, a := range m.Attributes {
			if a.Key == "candidate" {
				fmt.Fprintf(&b, "a=candidate:%s\r\n", a.Value)
			}
		}
		b.WriteString("a=end-of-candidates\r\n")
	}
	return b.String(), nil
}
