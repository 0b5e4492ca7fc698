package main

import (
	"github.com/confd/confd/whip"
)

// WHIPConfig bounds the WHIP publishers and WHEP viewers.
type WHIPConfig struct {
	// MaxSessions bounds the sessions at once (default 500),
	// MaxSessionsPerAddress those from one client address (default 10).
	MaxSessions           int `yaml:"max_sessions"`
	MaxSessionsPerAddress int `yaml:"max_sessions_per_address"`
	// AllowedOrigins are the browser pages that may publish or watch
	// (CORS; "*": any). Broadcast tools send no Origin and need none.
	AllowedOrigins []string `yaml:"allowed_origins"`
}

// newBroadcast makes the WHIP and WHEP endpoints.
func (a *app) newBroadcast() {
	w := a.cfg.WHIP
	a.whip = whip.New(whip.Config{
		Rooms: a.rooms, Media: a.media, TokenSecret: a.cfg.Verto.TokenSecret,
		ICEServers: a.whipICEServers, AllowedOrigins: w.AllowedOrigins,
		MaxSessions: w.MaxSessions, MaxSessionsPerAddress: w.MaxSessionsPerAddress,
		Log: a.log.Named("whip"),
	})
}

// whipICEServers are the ICE servers the WHIP and WHEP Link headers
// announce to a client that reached confd at host: those of /config.json
// and the Verto login, the built-in TURN server with a fresh credential
// among them.
func (a *app) whipICEServers(host string) []whip.ICEServer {
	servers := a.iceServers(host)
	out := make([]whip.ICEServer, 0, len(servers))
	for _, s := range servers {
		out = append(out, whip.ICEServer{URLs: s.URLs, Username: s.Username, Credential: s.Credential})
	}
	return out
}
