package main

import (
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/confd/confd/medianet"
	"github.com/confd/confd/netmux"
	"github.com/confd/confd/peer"
	"github.com/confd/confd/turnserver"
)

// TURNConfig is the built-in TURN server. It is on when the config has a
// turn: section (unless enabled: false) or enabled: true.
type TURNConfig struct {
	Enabled *bool `yaml:"enabled"`
	// Listen is the TURN port, UDP and TCP (default ":3478"; "" turns it
	// off, leaving TURN over TLS on the HTTPS port).
	Listen *string `yaml:"listen"`
	// TLS offers TURN over TLS on the HTTPS port (default true).
	TLS *bool `yaml:"tls"`
	// Host is the name in the URLs handed to clients (default: the host
	// the client reached confd by); URLs replaces the URLs altogether.
	Host string   `yaml:"host"`
	URLs []string `yaml:"urls"`
	// Realm and Secret: the credentials' realm and HMAC key (TURN REST,
	// coturn's use-auth-secret). An empty secret is a random one per start.
	Realm  string `yaml:"realm"`
	Secret string `yaml:"secret"`
	// CredentialTTL is how long a handed-out credential may start
	// allocations (default 1h).
	CredentialTTL time.Duration `yaml:"credential_ttl"`
	// RelayIP is where relay sockets bind (default 127.0.0.1).
	RelayIP string `yaml:"relay_ip"`
	// The limits (see the README for the defaults).
	MaxAllocations        int   `yaml:"max_allocations"`
	MaxAllocationsPerUser int   `yaml:"max_allocations_per_user"`
	MaxAllocationsPerIP   int   `yaml:"max_allocations_per_ip"`
	MaxBitrate            int64 `yaml:"max_bitrate"`
	MaxConnections        int   `yaml:"max_connections"`
	MaxConnectionsPerIP   int   `yaml:"max_connections_per_ip"`
	// A TCP or TLS client's time to its first request, and its silence.
	FirstRequestTimeout time.Duration `yaml:"first_request_timeout"`
	IdleTimeout         time.Duration `yaml:"idle_timeout"`
}

const defaultTURNListen = ":3478"

func (c *Config) turnEnabled() bool {
	t := c.TURN
	return t != nil && (t.Enabled == nil || *t.Enabled)
}

func (t *TURNConfig) tlsOn() bool { return t.TLS == nil || *t.TLS }

func (t *TURNConfig) listen() string {
	if t.Listen == nil {
		return defaultTURNListen
	}
	return *t.Listen
}

// validateOnePort checks the turn: section, web's proxy settings and
// public_ips_mode.
func (c *Config) validateOnePort() error {
	switch c.WebRTC.PublicIPsMode {
	case "", "srflx", "replace":
	default:
		return errors.New("webrtc.public_ips_mode must be srflx or replace")
	}
	if o := c.Web.PublicOrigin; o != "" {
		if err := checkOrigin(o); err != nil || o == "*" {
			return fmt.Errorf("web.public_origin: %q is not an origin like https://confd.example.org", o)
		}
	}
	if _, err := c.Web.trustedProxies(); err != nil {
		return err
	}
	if w := c.Web; w.HandshakeTimeout < 0 || w.MaxHandshakes < 0 || w.MaxHandshakesPerIP < 0 {
		return errors.New("web: handshake_timeout, max_handshakes and max_handshakes_per_ip must not be negative")
	}
	if !c.turnEnabled() {
		return nil
	}
	t := c.TURN
	if t.listen() == "" && (!t.tlsOn() || c.Listen.HTTPS == "") {
		return errors.New("turn: no listener (turn.listen is off, and so is TURN over TLS on the HTTPS port)")
	}
	ip, err := t.relayIP()
	if err != nil {
		return err
	}
	if ip.IsLoopback() && c.WebRTC.IncludeLoopback != nil && !*c.WebRTC.IncludeLoopback && !c.WebRTC.LoopbackOnly {
		return errors.New("turn.relay_ip is loopback, which confd's media reaches only with webrtc.include_loopback")
	}
	if t.CredentialTTL < 0 || t.MaxAllocations < 0 || t.MaxAllocationsPerUser < 0 || t.MaxAllocationsPerIP < 0 ||
		t.MaxBitrate < 0 || t.MaxConnections < 0 || t.MaxConnectionsPerIP < 0 || t.FirstRequestTimeout < 0 || t.IdleTimeout < 0 {
		return errors.New("turn: limits must not be negative")
	}
	return nil
}

func (t *TURNConfig) relayIP() (netip.Addr, error) {
	if t.RelayIP == "" {
		return netip.MustParseAddr("127.0.0.1"), nil
	}
	ip, err := netip.ParseAddr(t.RelayIP)
	if err != nil || ip.IsUnspecified() {
		return netip.Addr{}, fmt.Errorf("turn.relay_ip: %q is not an address of this host", t.RelayIP)
	}
	return ip, nil
}

// trustedProxies parses web.trusted_proxies (networks or addresses).
func (w WebConfig) trustedProxies() ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, n := range w.TrustedProxies {
		p, err := netip.ParsePrefix(n)
		if err != nil {
			a, aerr := netip.ParseAddr(n)
			if aerr != nil {
				return nil, fmt.Errorf("web.trusted_proxies: %q is not an address or a network", n)
			}
			p = netip.PrefixFrom(a, a.BitLen())
		}
		out = append(out, p.Masked())
	}
	return out, nil
}

// sameListen reports whether two listen addresses are one socket: the
// same port, and the same host or both every interface.
func sameListen(a, b string) bool {
	ha, pa, errA := net.SplitHostPort(a)
	hb, pb, errB := net.SplitHostPort(b)
	if errA != nil || errB != nil || pa != pb {
		return false
	}
	every := func(h string) bool { return h == "" || h == "0.0.0.0" || h == "::" }
	return ha == hb || every(ha) && every(hb)
}

// iceTCPShared says whether webrtc.ice_tcp names the HTTPS port.
func (c *Config) iceTCPShared() bool {
	return c.WebRTC.ICETCP != "" && c.Listen.HTTPS != "" && sameListen(c.WebRTC.ICETCP, c.Listen.HTTPS)
}

// newOnePort makes confd's media network and binds the HTTPS port, whose
// connections netmux sorts into HTTPS, TURN over TLS and ICE over TCP.
// newMediaNet makes the network confd's media gathers on.
func newMediaNet(cfg Config) (*medianet.Net, error) {
	w := cfg.WebRTC
	return medianet.New(medianet.Config{
		LoopbackOnly: w.LoopbackOnly, IncludeLoopback: w.IncludeLoopback == nil || *w.IncludeLoopback, PublicIPs: w.PublicIPs,
	})
}

func (a *app) newOnePort() error {
	if a.cfg.Listen.HTTPS == "" {
		return nil
	}
	cert, fresh, err := certificate(&a.cfg)
	if err != nil {
		return err
	}
	a.freshCert = fresh
	a.mux, err = netmux.Listen(a.cfg.Listen.HTTPS, netmux.Config{
		TLS:  &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12},
		TURN: a.cfg.turnEnabled() && a.cfg.TURN.tlsOn(), ICE: a.cfg.iceTCPShared(),
		HandshakeTimeout: a.cfg.Web.HandshakeTimeout, MaxPending: a.cfg.Web.MaxHandshakes,
		MaxPendingPerIP: a.cfg.Web.MaxHandshakesPerIP, Log: a.log.Named("https"),
	})
	return err
}

// mediaConfig is the media's config with the media network and, when
// ice_tcp names the HTTPS port, that port's ICE over TCP listener.
func (a *app) mediaConfig() (mc peer.MediaConfig) {
	mc = a.cfg.mediaConfig()
	mc.Net = a.mnet
	if a.cfg.iceTCPShared() && a.mux != nil {
		mc.ICETCP, mc.ICETCPListener = "", a.mux.ICE()
	}
	return mc
}

// newTURN starts the built-in TURN server, if configured.
func (a *app) newTURN() error {
	if !a.cfg.turnEnabled() {
		return nil
	}
	t := a.cfg.TURN
	secret := t.Secret
	if secret == "" {
		var b [32]byte
		_, _ = rand.Read(b[:])
		secret = hex.EncodeToString(b[:])
	}
	relay, _ := t.relayIP() // checked when the config was loaded
	tc := turnserver.Config{
		Realm: t.Realm, Secret: secret, CredentialTTL: t.CredentialTTL, ListenUDP: t.listen(), ListenTCP: t.listen(),
		RelayIP: relay, Policy: a.mnet,
		MaxAllocations: t.MaxAllocations, MaxAllocationsPerUser: t.MaxAllocationsPerUser, MaxAllocationsPerIP: t.MaxAllocationsPerIP,
		MaxBitrate: t.MaxBitrate, MaxConnections: t.MaxConnections, MaxConnectionsPerIP: t.MaxConnectionsPerIP,
		FirstRequestTimeout: t.FirstRequestTimeout, IdleTimeout: t.IdleTimeout, Log: a.log.Named("turn"),
	}
	if a.mux != nil && t.tlsOn() {
		tc.TLS = a.mux.TURN()
	}
	s, err := turnserver.New(tc)
	if err != nil {
		return err
	}
	a.turn = s
	return nil
}

// iceServers are the ICE servers for a client that reached confd at host
// (a Host header): the configured ones, then the built-in TURN server
// with a fresh credential.
func (a *app) iceServers(host string) []turnserver.ICEServer {
	out := make([]turnserver.ICEServer, 0, len(a.cfg.WebRTC.ICEServers)+1)
	for _, s := range a.cfg.WebRTC.ICEServers {
		out = append(out, turnserver.ICEServer{URLs: s.URLs, Username: s.Username, Credential: s.Credential})
	}
	if a.turn != nil {
		out = append(out, a.turn.ICEServer(a.turnAdvert(host), ""))
	}
	return out
}

// turnAdvert is how a client that reached confd at host reaches the TURN
// server: turn.host, else public_origin's host, else that host; the TURN
// port's bound port for UDP and TCP, and the HTTPS port for TLS.
func (a *app) turnAdvert(host string) turnserver.Advert {
	t := a.cfg.TURN
	adv := turnserver.Advert{URLs: t.URLs, Host: hostOnly(host)}
	if u, err := url.Parse(a.cfg.Web.PublicOrigin); err == nil && u.Hostname() != "" {
		adv.Host = u.Hostname()
	}
	if t.Host != "" {
		adv.Host = t.Host
	}
	adv.UDPPort, adv.TCPPort = portOf(a.turn.UDPAddr()), portOf(a.turn.TCPAddr())
	if a.mux != nil && t.tlsOn() {
		adv.TLSPort = portOf(a.mux.Addr())
	}
	return adv
}

func hostOnly(hostport string) string {
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		return h
	}
	return strings.TrimSuffix(strings.TrimPrefix(hostport, "["), "]")
}

func portOf(a net.Addr) int {
	if a == nil {
		return 0
	}
	_, p, err := net.SplitHostPort(a.String())
	if err != nil {
		return 0
	}
	n, _ := strconv.Atoi(p)
	return n
}

// forwarded takes the Host a trusted reverse proxy forwards
// (X-Forwarded-Host, else Forwarded's host=, RFC 7239) as the request's,
// so that the websocket's origin check and the ICE servers' URLs see the
// name the browser used. From any other client the headers are ignored.
func forwarded(trusted []netip.Prefix, next http.Handler) http.Handler {
	if len(trusted) == 0 {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if host := forwardedHost(r); host != "" && fromTrusted(r.RemoteAddr, trusted) {
			r.Host = host
		}
		next.ServeHTTP(w, r)
	})
}

func forwardedHost(r *http.Request) string {
	if h := r.Header.Get("X-Forwarded-Host"); h != "" {
		first, _, _ := strings.Cut(h, ",")
		return strings.TrimSpace(first)
	}
	for _, f := range r.Header.Values("Forwarded") {
		first, _, _ := strings.Cut(f, ",")
		for _, pair := range strings.Split(first, ";") {
			k, v, ok := strings.Cut(strings.TrimSpace(pair), "=")
			if ok && strings.EqualFold(k, "host") {
				return strings.Trim(v, `"`)
			}
		}
	}
	return ""
}

func fromTrusted(remote string, trusted []netip.Prefix) bool { return clientAllowed(remote, trusted) }

// writeOnePortMetrics writes the HTTPS port's and the TURN server's
// counters.
func (a *app) writeOnePortMetrics(e *expo) {
	if a.mux != nil {
		st := a.mux.Stats()
		e.family("confd_https_port_connections_total", "counter",
			"Connections on the HTTPS port by what became of them: http, turn, ice, refused, timed_out, tls_failed, over_limit.")
		for _, s := range []struct {
			what string
			n    uint64
		}{{"http", st.HTTP}, {"turn", st.TURN}, {"ice", st.ICE}, {"refused", st.Refused}, {"timed_out", st.TimedOut},
			{"tls_failed", st.TLSFailed}, {"over_limit", st.OverLimit}} {
			e.sample("confd_https_port_connections_total", float64(s.n), "outcome", s.what)
		}
	}
	if a.turn == nil {
		return
	}
	st := a.turn.Stats()
	for _, f := range []struct {
		name, kind, help string
		v                float64
	}{
		{"confd_turn_allocations", "gauge", "TURN allocations now.", float64(st.Allocations)},
		{"confd_turn_connections", "gauge", "TURN over TCP and TLS connections now.", float64(st.Connections)},
		{"confd_turn_unauthorized_total", "counter", "TURN requests refused for their credential (401).", float64(st.Unauthorized)},
		{"confd_turn_forbidden_total", "counter", "TURN permissions and channels to peers that are not confd's media (403).", float64(st.Forbidden)},
		{"confd_turn_over_quota_total", "counter", "TURN allocations refused at a quota (486).", float64(st.OverQuota)},
		{"confd_turn_over_limit_total", "counter", "TURN TCP and TLS connections closed at the connection limits.", float64(st.OverLimit)},
		{"confd_turn_garbage_total", "counter", "Datagrams and streams on the TURN port that are not TURN.", float64(st.Garbage)},
		{"confd_turn_dropped_not_own_total", "counter", "Relayed packets dropped: not to or from confd's media.", float64(st.DroppedNotOwn)},
		{"confd_turn_dropped_rate_total", "counter", "Relayed packets dropped: over the allocation's bandwidth.", float64(st.DroppedRate)},
		{"confd_turn_relayed_bytes_total", "counter", "Bytes relayed to confd's media (out) and from it (in).", 0},
	} {
		e.family(f.name, f.kind, f.help)
		if f.name == "confd_turn_relayed_bytes_total" {
			e.sample(f.name, float64(st.RelayedOut), "direction", "out")
			e.sample(f.name, float64(st.RelayedIn), "direction", "in")
			continue
		}
		e.sample(f.name, f.v)
	}
}
