package dialin

import (
	"net/netip"
	"strings"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
)

// On a host with more than one address, a listener on all of them (the
// default ":5060") takes a phone's INVITE on whichever address the phone
// dialled. The phone expects everything back from that address: the
// Contact it sends its ACK and BYE to, and the SDP answer it sends its RTP
// to. A phone that dials 127.0.0.1 and is told the LAN address sends RTP
// from the LAN address, which the symmetric-RTP latch refuses, and the room
// never hears it. So the gate (gate.go, stream.go) stamps every request it
// passes with the local address it arrived on, and the Contact, the SDP
// answer and the media socket follow that address.

// arrivalHeader carries the arrival address from the gate to the handlers.
// The gate removes any such field a peer sends before stamping its own, so
// no peer can choose it.
const arrivalHeader = "Confd-Arrival"

var arrivalKey = strings.ToLower(arrivalHeader)

// unstamp removes arrival fields the peer sent.
func (m *wireMsg) unstamp() {
	kept := m.fields[:0]
	for _, f := range m.fields {
		if f.key != arrivalKey {
			kept = append(kept, f)
		}
	}
	m.fields = kept
}

// stamp records local as the request's arrival address (nothing when it
// is not known).
func (m *wireMsg) stamp(local netip.AddrPort) {
	if local.IsValid() {
		m.fields = append(m.fields, wireField{name: arrivalHeader, key: arrivalKey, value: local.String()})
	}
}

// arrivalOf is the local address req arrived on; the zero value when the
// gate did not know it.
func arrivalOf(req *sip.Request) netip.AddrPort {
	h := req.GetHeader(arrivalHeader)
	if h == nil {
		return netip.AddrPort{}
	}
	ap, err := netip.ParseAddrPort(h.Value())
	if err != nil {
		return netip.AddrPort{}
	}
	return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
}

// mediaAddrs are where a call's RTP socket binds and the address its SDP
// names, for a request that arrived on arrival (zero if unknown):
//
//   - bind: sip.rtp_ip when set, else the arrival address, else the UDP
//     listener's address when it names one, else every interface;
//   - announce: the public IP when set (webrtc.public_ips), else the bound
//     address, else the arrival address, else the address of the default
//     route.
func (s *Server) mediaAddrs(arrival netip.Addr) (bind, announce netip.Addr) {
	switch {
	case s.cfg.RTPIP.IsValid():
		bind = s.cfg.RTPIP
	case arrival.IsValid() && !arrival.IsUnspecified():
		bind = arrival
	default:
		bind = netip.IPv4Unspecified()
		if a, ok := s.Addr("udp"); ok && !a.Addr().IsUnspecified() {
			bind = a.Addr()
		}
	}
	local := bind
	if local.IsUnspecified() && arrival.IsValid() {
		local = arrival
	}
	return bind, s.announce(local)
}

// dialogUA is the dialog maker for a request: its Contact (RFC 3261
// §8.1.1.8) names the address and port the request arrived on, or the
// public IP, so that the phone's ACK, re-INVITE and BYE come back there.
// One per transport and arrival address, kept: a host has few addresses,
// and only the gate writes the arrival.
func (s *Server) dialogUA(req *sip.Request) *sipgo.DialogUA {
	transport := transportKey(req.Transport())
	arrival := arrivalOf(req)
	s.mu.Lock()
	defer s.mu.Unlock()
	if !arrival.IsValid() {
		arrival = s.addrs[transport]
	}
	key := transport + " " + arrival.String()
	if d := s.contacts[key]; d != nil {
		return d
	}
	uri := sip.Uri{User: "confd", Host: s.announce(arrival.Addr()).String(), Port: int(arrival.Port())}
	if transport != "udp" {
		uri.UriParams = sip.NewParams()
		uri.UriParams.Add("transport", transport)
	}
	// RewriteContact sends in-dialog requests (BYE) to where the INVITE
	// came from rather than to its Contact: a phone behind NAT writes a
	// private address there, and the source works for trunks as well.
	d := &sipgo.DialogUA{Client: s.client, ContactHDR: sip.ContactHeader{Address: uri}, RewriteContact: true}
	s.contacts[key] = d
	return d
}
