package turnserver

import (
	"net"
	"strconv"
	"strings"
)

// ICEServer is one entry of a client's RTCConfiguration.iceServers (W3C
// WebRTC §4.2.1), as /config.json and the Verto login hand it out.
type ICEServer struct {
	URLs       []string `json:"urls" yaml:"urls"`
	Username   string   `json:"username,omitempty" yaml:"username"`
	Credential string   `json:"credential,omitempty" yaml:"credential"`
}

// Advert is how clients reach the TURN server.
type Advert struct {
	// Host is the name or address clients reach confd by.
	Host string
	// UDPPort and TCPPort are the TURN port, TLSPort the HTTPS port for
	// TURN over TLS (0: not offered).
	UDPPort, TCPPort, TLSPort int
	// URLs, when set, are handed out as they are instead.
	URLs []string
}

// URLs are the TURN URIs (RFC 7065) of a: UDP first, then TCP, then TLS,
// the order in which a relay costs least.
func (a Advert) urls() []string {
	if len(a.URLs) > 0 {
		return append([]string(nil), a.URLs...)
	}
	host := strings.TrimSuffix(strings.TrimPrefix(a.Host, "["), "]")
	var out []string
	add := func(scheme string, port int, transport string) {
		if port > 0 {
			out = append(out, scheme+":"+net.JoinHostPort(host, strconv.Itoa(port))+"?transport="+transport)
		}
	}
	add("turn", a.UDPPort, "udp")
	add("turn", a.TCPPort, "tcp")
	add("turns", a.TLSPort, "tcp")
	return out
}

// ICEServer is the built-in TURN server as a client is to use it, with a
// fresh credential for user ("" for a random session name).
func (s *Server) ICEServer(a Advert, user string) ICEServer {
	c := s.creds.Mint(user)
	return ICEServer{URLs: a.urls(), Username: c.Username, Credential: c.Password}
}
