package main

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pion/webrtc/v4"

	"github.com/confd/confd/signalling/vertotest"
	"github.com/confd/confd/turnserver"
)

// startOnePortApp runs confd on loopback with HTTPS (the shared port),
// plain HTTP, ICE over TCP on the HTTPS port and the built-in TURN server
// on a port of its own.
func startOnePortApp(t *testing.T, mutate func(*Config)) *app {
	t.Helper()
	return startTestApp(t, func(c *Config) {
		c.Listen = ListenConfig{HTTPS: "127.0.0.1:0", HTTP: "127.0.0.1:0"}
		c.WebRTC.ICETCP = c.Listen.HTTPS
		listen := "127.0.0.1:0"
		c.TURN = &TURNConfig{Listen: &listen}
		if mutate != nil {
			mutate(c)
		}
	})
}

func (a *app) httpsURL() string { return "https://" + a.addrs["https"].String() }

// httpsClient trusts the test's self-signed certificate.
func httpsClient(t *testing.T) *http.Client {
	t.Helper()
	tr := &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}} //nolint:gosec // confd's own self-signed certificate
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 30 * time.Second}
}

// clientICE is what /config.json hands the page.
func clientICE(t *testing.T, c *http.Client, base string) []turnserver.ICEServer {
	t.Helper()
	res, err := c.Get(base + "/config.json")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var cfg struct {
		ICEServers []turnserver.ICEServer `json:"iceServers"`
	}
	if err := json.NewDecoder(res.Body).Decode(&cfg); err != nil {
		t.Fatal(err)
	}
	return cfg.ICEServers
}

// only keeps the servers' URLs that start with prefix.
func only(servers []turnserver.ICEServer, prefix string) []webrtc.ICEServer {
	var out []webrtc.ICEServer
	for _, s := range servers {
		for _, u := range s.URLs {
			if strings.HasPrefix(u, prefix) {
				out = append(out, webrtc.ICEServer{URLs: []string{u}, Username: s.Username, Credential: s.Credential})
			}
		}
	}
	return out
}

// relayOnly makes a pion member gather relay candidates alone, through
// servers.
func relayOnly(servers []webrtc.ICEServer) func(*webrtc.SettingEngine, *webrtc.Configuration) {
	return func(se *webrtc.SettingEngine, c *webrtc.Configuration) {
		se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4, webrtc.NetworkTypeTCP4})
		c.ICEServers = servers
		c.ICETransportPolicy = webrtc.ICETransportPolicyRelay
	}
}

// steadyToneDB is the level mediaBothWays waits for: a -12 dBFS tone
// arrives near -12 dB once a whole second of it has been heard.
const steadyToneDB = -20.0

// mediaBothWays: each member sees the other's camera and hears the other's
// tone.
func mediaBothWays(ctx context.Context, t *testing.T, a, b *member, toneA, toneB float64) {
	t.Helper()
	waitSeen(ctx, t, a, b)
	waitSeen(ctx, t, b, a)
	for _, p := range []struct {
		who  *member
		hz   float64
		name string
	}{{b, toneA, b.name + " (from " + a.name + ")"}, {a, toneB, a.name + " (from " + b.name + ")"}} {
		// A second heard entirely after the tone began: the level of a
		// -12 dBFS tone, well above the verdict's threshold.
		_ = vertotest.WaitFor(ctx, func() bool {
			pcm, _ := p.who.call.Heard()
			return len(pcm) >= 48000 && vertotest.ToneLevelBlocks(pcm, p.hz) > steadyToneDB
		})
		pcm, _ := p.who.call.Heard()
		judgeTone(t, p.name, p.hz, vertotest.ToneLevelBlocks(pcm, p.hz), true)
	}
}

// joinWith puts a pion member with its own call options in 3500.
func joinWith(ctx context.Context, t *testing.T, a *app, opts vertotest.CallOptions) *member {
	t.Helper()
	opts.Dest = "3500"
	c, call, err := vertotest.Join(ctx, a.vertoURL(), opts.Name+"@localhost", "guest", opts)
	if err != nil {
		t.Fatalf("%s: %v", opts.Name, err)
	}
	t.Cleanup(func() { call.Close(); _ = c.Close() })
	return &member{name: opts.Name, ssrc: opts.SSRC, client: c, call: call}
}

// selectedPair is the member's ICE candidate pair in use.
func selectedPair(t *testing.T, m *member) *webrtc.ICECandidatePair {
	t.Helper()
	for _, tr := range m.call.PC().GetTransceivers() {
		if s := tr.Sender(); s != nil && s.Transport() != nil {
			p, err := s.Transport().ICETransport().GetSelectedCandidatePair()
			if err == nil && p != nil {
				return p
			}
		}
	}
	t.Fatalf("%s has no selected candidate pair", m.name)
	return nil
}

// TestICETCPOnTheHTTPSPort: a pion member that can only speak ICE over
// TCP connects to the HTTPS port and gets media both ways with a member
// on UDP, while the same port still serves the meeting page over HTTPS
// (to curl and to Go's client).
func TestICETCPOnTheHTTPSPort(t *testing.T) {
	a := startOnePortApp(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	_, port, _ := net.SplitHostPort(a.addrs["https"].String())

	tcpOnly := func(se *webrtc.SettingEngine, _ *webrtc.Configuration) {
		se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeTCP4})
	}
	tcp := joinWith(ctx, t, a, vertotest.CallOptions{Name: "tcp", Slots: 1, Publish: true, SSRC: 0x7C9, ToneHz: 440, Configure: tcpOnly})
	udp := joinWith(ctx, t, a, vertotest.CallOptions{Name: "udp", Slots: 1, Publish: true, SSRC: 0x0D9, ToneHz: 880})

	page := make(chan string, 1)
	go func() { // the page, fetched while the media flows
		out, err := exec.CommandContext(ctx, "curl", "-sk", "--max-time", "30", a.httpsURL()+"/").CombinedOutput()
		if err != nil {
			page <- "curl: " + err.Error() + ": " + string(out)
			return
		}
		page <- string(out)
	}()
	mediaBothWays(ctx, t, tcp, udp, 440, 880)

	pair := selectedPair(t, tcp)
	if pair.Local.Protocol != webrtc.ICEProtocolTCP || pair.Remote.Protocol != webrtc.ICEProtocolTCP ||
		strconv.Itoa(int(pair.Remote.Port)) != port || pair.Remote.Address != "127.0.0.1" {
		t.Errorf("the TCP member's pair is %s, want ICE over TCP to 127.0.0.1:%s", pair, port)
	}
	if _, err := exec.LookPath("curl"); err == nil {
		if body := <-page; !strings.Contains(body, "<html") {
			t.Errorf("curl -k %s/ got %.200q, want the meeting page", a.httpsURL(), body)
		}
	}
	res, err := httpsClient(t).Get(a.httpsURL() + "/")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusOK || !strings.Contains(string(body), "<html") {
		t.Errorf("GET %s/ = %d, want the meeting page", a.httpsURL(), res.StatusCode)
	}
	if st := a.mux.Stats(); st.ICE == 0 || st.HTTP == 0 {
		t.Errorf("the HTTPS port sorted %+v", st)
	}
}

// TestRelayOnlyThroughBuiltInTURN: two pion members that may only use
// relay candidates, one through the built-in TURN server over UDP and one
// over TCP, with the credentials /config.json hands out, get media both
// ways; the Verto login and WHIP's Link headers hand out the same server,
// each with a credential of its own.
func TestRelayOnlyThroughBuiltInTURN(t *testing.T) {
	a := startOnePortApp(t, func(c *Config) { c.WebRTC.ICETCP = "" })
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	servers := clientICE(t, http.DefaultClient, "http://"+a.addrs["http"].String())
	if len(servers) != 1 || len(servers[0].URLs) != 3 || servers[0].Username == "" {
		t.Fatalf("/config.json ICE servers: %+v, want the built-in TURN server's three URLs", servers)
	}
	overUDP := only(servers, "turn:127.0.0.1:"+portString(a.turn.UDPAddr())+"?transport=udp")
	overTCP := only(servers, "turn:127.0.0.1:"+portString(a.turn.TCPAddr())+"?transport=tcp")
	if len(overUDP) != 1 || len(overTCP) != 1 {
		t.Fatalf("URLs %v, want turn: over UDP and TCP on the TURN port", servers[0].URLs)
	}
	u := joinWith(ctx, t, a, vertotest.CallOptions{Name: "relayudp", Slots: 1, Publish: true, SSRC: 0x1D, ToneHz: 440, Configure: relayOnly(overUDP)})
	c := joinWith(ctx, t, a, vertotest.CallOptions{Name: "relaytcp", Slots: 1, Publish: true, SSRC: 0x7C, ToneHz: 880, Configure: relayOnly(overTCP)})
	mediaBothWays(ctx, t, u, c, 440, 880)
	for _, m := range []*member{u, c} {
		if p := selectedPair(t, m); p.Local.Typ != webrtc.ICECandidateTypeRelay {
			t.Errorf("%s uses %s, want a relay candidate", m.name, p)
		}
	}
	if st := a.turn.Stats(); st.Allocations < 2 || st.RelayedIn == 0 || st.RelayedOut == 0 || st.DroppedNotOwn != 0 {
		t.Errorf("TURN stats %+v", st)
	}

	// The Verto login hands out the same kind of ICE servers, with a
	// credential of the session's own.
	vc, err := vertotest.Dial(ctx, a.vertoURL(), "")
	if err != nil {
		t.Fatal(err)
	}
	defer vc.Close()
	if _, err := vc.Request(ctx, "login", nil); err != nil {
		t.Fatal(err)
	}
	r, err := vc.Request(ctx, "login", map[string]any{"login": "ice@localhost", "passwd": "guest"})
	if err != nil || r.Error != nil {
		t.Fatalf("login: %v %v", err, r.Error)
	}
	var res struct {
		ICEServers []turnserver.ICEServer `json:"iceServers"`
	}
	if err := json.Unmarshal(r.Result, &res); err != nil || len(res.ICEServers) != 1 ||
		res.ICEServers[0].Username == servers[0].Username || len(res.ICEServers[0].URLs) != 3 {
		t.Errorf("login result %s: want the TURN server with a credential of its own", r.Result)
	}

	// WHIP's OPTIONS lists the same servers as Link headers, each URL with
	// a fresh credential.
	req, err := http.NewRequestWithContext(ctx, http.MethodOptions, "http://"+a.addrs["http"].String()+"/whip/3500", nil)
	if err != nil {
		t.Fatal(err)
	}
	opt, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	opt.Body.Close()
	links := opt.Header.Values("Link")
	if len(links) != 3 {
		t.Fatalf("WHIP OPTIONS Link headers %q, want the TURN server's three URLs", links)
	}
	for i, u := range servers[0].URLs {
		if !strings.HasPrefix(links[i], "<"+u+`>; rel="ice-server"; username="`) || strings.Contains(links[i], servers[0].Username) ||
			!strings.HasSuffix(links[i], `credential-type="password"`) {
			t.Errorf("Link %q: want %s with a credential of its own", links[i], u)
		}
	}
}

// TestTURNOverTLSOnTheHTTPSPort: TURN over TLS on the HTTPS port answers
// a wrong credential with 401, a permission to an address that is not
// confd's with 403, and allocates with the credential /config.json gave;
// garbage on the port is closed and counted in /metrics.
func TestTURNOverTLSOnTheHTTPSPort(t *testing.T) {
	a := startOnePortApp(t, nil)
	servers := clientICE(t, httpsClient(t), a.httpsURL())
	cred := turnserver.Credential{Username: servers[0].Username, Password: servers[0].Credential}
	turns := only(servers, "turns:")
	if len(turns) != 1 || turns[0].URLs[0] != "turns:127.0.0.1:"+portString(a.addrs["https"])+"?transport=tcp" {
		t.Fatalf("turns URL %+v", turns)
	}
	dialTURN := func() *stunClient {
		c, err := tls.Dial("tcp", a.addrs["https"].String(), &tls.Config{InsecureSkipVerify: true}) //nolint:gosec // test
		if err != nil {
			t.Fatal(err)
		}
		return newSTUNClient(t, c)
	}
	bad := dialTURN()
	if got := bad.allocate(turnserver.Credential{Username: cred.Username, Password: "wrong"}); got != 401 {
		t.Errorf("a wrong password over TLS: %d, want 401", got)
	}
	good := dialTURN()
	if got := good.allocate(cred); got != 0 {
		t.Fatalf("allocate over TLS: %d", got)
	}
	if got := good.permit("203.0.113.9"); got != 403 {
		t.Errorf("a permission to 203.0.113.9: %d, want 403", got)
	}
	if got := good.permit("127.0.0.1"); got != 0 {
		t.Errorf("a permission to confd's address: %d", got)
	}

	junk, err := net.Dial("tcp", a.addrs["https"].String())
	if err != nil {
		t.Fatal(err)
	}
	defer junk.Close()
	if _, err := junk.Write([]byte("\x00\x01garbage, neither TLS nor ICE")); err != nil {
		t.Fatal(err)
	}
	_ = junk.SetReadDeadline(time.Now().Add(30 * time.Second))
	if n, err := junk.Read(make([]byte, 16)); err == nil || n > 0 {
		t.Errorf("garbage got %d bytes back, %v; want the connection closed", n, err)
	}
	res, err := http.Get("http://" + a.addrs["http"].String() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	for _, want := range []string{`confd_https_port_connections_total{outcome="refused"} 1`, `confd_turn_unauthorized_total 1`, `confd_turn_forbidden_total 1`} {
		if !strings.Contains(string(body), want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
}

func portString(a net.Addr) string {
	_, p, _ := net.SplitHostPort(a.String())
	return p
}

// TestExternalCoturn: Debian's coturn named in webrtc.ice_servers (with
// the built-in TURN server off) still works: a relay-only pion member
// gets media both ways through it.
func TestExternalCoturn(t *testing.T) {
	bin := lookTool(t, "turnserver", "coturn")
	port := freeLoopbackPort(t)
	dir := t.TempDir()
	startCoturn(t, bin, dir, port)
	url := "turn:127.0.0.1:" + strconv.Itoa(port) + "?transport=udp"
	a := startTestApp(t, func(c *Config) {
		c.WebRTC.ICEServers = []ICEServerConfig{{URLs: []string{url}, Username: "confd", Credential: "s3cret"}}
	})
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	servers := clientICE(t, http.DefaultClient, "http://"+a.addrs["http"].String())
	if len(servers) != 1 || servers[0].URLs[0] != url {
		t.Fatalf("/config.json ICE servers %+v, want coturn alone", servers)
	}
	relay := joinWith(ctx, t, a, vertotest.CallOptions{Name: "viacoturn", Slots: 1, Publish: true, SSRC: 0xC0, ToneHz: 440, Configure: relayOnly(only(servers, "turn:"))})
	direct := joinWith(ctx, t, a, vertotest.CallOptions{Name: "direct", Slots: 1, Publish: true, SSRC: 0xD1, ToneHz: 880})
	mediaBothWays(ctx, t, relay, direct, 440, 880)
	if p := selectedPair(t, relay); p.Local.Typ != webrtc.ICECandidateTypeRelay {
		t.Errorf("the member uses %s, want coturn's relay", p)
	}
}

// lookTool finds a Debian tool the test needs: in CI its absence is a
// failure (make deps installs it), elsewhere a skip.
func lookTool(t *testing.T, name, pkg string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err == nil {
		return p
	}
	if ciRun() {
		t.Fatalf("%s (Debian package %s) is missing: `make deps` installs it", name, pkg)
	}
	t.Skipf("%s (Debian package %s) is missing: run `make deps`", name, pkg)
	return ""
}

// freeLoopbackPort is a TCP and UDP port free on 127.0.0.1 a moment ago.
func freeLoopbackPort(t *testing.T) int {
	t.Helper()
	for range 20 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := l.Addr().(*net.TCPAddr).Port
		_ = l.Close()
		if u, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: port}); err == nil {
			_ = u.Close()
			return port
		}
	}
	t.Fatal("no free port")
	return 0
}

// startCoturn runs coturn on 127.0.0.1:port with a static long-term user
// confd/s3cret, relaying on loopback only, until the test ends.
func startCoturn(t *testing.T, bin, dir string, port int) {
	t.Helper()
	conf := filepath.Join(dir, "turnserver.conf")
	writeFile(t, conf, strings.Join([]string{
		"listening-ip=127.0.0.1", "relay-ip=127.0.0.1", "listening-port=" + strconv.Itoa(port),
		"min-port=49160", "max-port=49400", "realm=confd.test", "lt-cred-mech", "user=confd:s3cret",
		"userdb=" + filepath.Join(dir, "turndb"), "pidfile=" + filepath.Join(dir, "turn.pid"),
		"allow-loopback-peers", "no-tls", "no-dtls", "no-cli", "no-tcp-relay", "no-multicast-peers",
		"log-file=stdout", "simple-log", "no-software-attribute",
	}, "\n")+"\n")
	// Ready once it answers a STUN binding request on the port.
	runDaemon(t, "coturn", nil, func() bool { return stunAnswers(port) }, bin, "-c", conf)
}
