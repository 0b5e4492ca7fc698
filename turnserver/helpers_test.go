package turnserver

import (
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pion/stun/v4"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/confd/confd/medianet"
)

const testSecret = "k3y-that-must-never-appear-in-a-log"

// env is a TURN server on loopback with confd's media network beside it,
// and every log line it wrote.
type env struct {
	s    *Server
	net  *medianet.Net
	logs *observer.ObservedLogs
}

func newEnv(t *testing.T, mutate func(*Config)) *env {
	t.Helper()
	mn, err := medianet.New(medianet.Config{LoopbackOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	core, logs := observer.New(zap.DebugLevel)
	cfg := Config{
		Secret: testSecret, ListenUDP: "127.0.0.1:0", ListenTCP: "127.0.0.1:0", Policy: mn,
		Log: zap.New(core),
	}
	if mutate != nil {
		mutate(&cfg)
	}
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Close(10 * time.Second); err != nil {
			t.Error(err)
		}
	})
	return &env{s: s, net: mn, logs: logs}
}

// sock is a UDP socket as the tests use one.
type sock interface {
	ReadFromUDPAddrPort(b []byte) (int, netip.AddrPort, error)
	WriteToUDPAddrPort(b []byte, ap netip.AddrPort) (int, error)
	SetReadDeadline(t time.Time) error
	LocalAddr() net.Addr
}

// addrPort is a socket's address.
func addrPort(s sock) netip.AddrPort { return s.LocalAddr().(*net.UDPAddr).AddrPort() }

// media opens one of confd's media sockets (through medianet, as pion does).
func (e *env) media(t *testing.T) sock {
	t.Helper()
	c, err := e.net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c.(sock)
}

// stranger opens a loopback UDP socket that is not confd's media.
func stranger(t *testing.T) sock {
	t.Helper()
	c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// noSecretLogged fails if any log line mentions the secret.
func (e *env) noSecretLogged(t *testing.T) {
	t.Helper()
	for _, entry := range e.logs.All() {
		line := entry.Message
		for k, v := range entry.ContextMap() {
			line += " " + k + "=" + strings.TrimSpace(stringOf(v))
		}
		if strings.Contains(line, testSecret) {
			t.Errorf("the secret is in a log line: %s", line)
		}
	}
}

func stringOf(v any) string { return fmt.Sprint(v) }

// client speaks raw STUN to the server, over UDP or a TCP stream.
type client struct {
	t      *testing.T
	conn   net.Conn
	stream bool
	realm  string
	nonce  string
	user   string
	pass   string
	mu     sync.Mutex
	data   chan []byte // Data indications and ChannelData, as they come
	resp   chan *stun.Message
}

func dialUDP(t *testing.T, e *env) *client {
	t.Helper()
	c, err := net.Dial("udp4", e.s.UDPAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	return newClient(t, c, false)
}

func dialTCP(t *testing.T, e *env) *client {
	t.Helper()
	c, err := net.Dial("tcp4", e.s.TCPAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	return newClient(t, c, true)
}

func newClient(t *testing.T, c net.Conn, stream bool) *client {
	cl := &client{t: t, conn: c, stream: stream, data: make(chan []byte, 64), resp: make(chan *stun.Message, 16)}
	t.Cleanup(func() { _ = c.Close() })
	go cl.read()
	return cl
}

// read sorts what the server sends: responses, and relayed data.
func (c *client) read() {
	defer close(c.resp)
	buf := make([]byte, 4096)
	have := 0
	for {
		n, err := c.conn.Read(buf[have:])
		if err != nil {
			return
		}
		have += n
		for {
			size := have
			if c.stream {
				var ok bool
				if size, ok = streamFrame(buf[:have]); !ok {
					break
				}
			}
			c.frame(append([]byte(nil), buf[:size]...))
			copy(buf, buf[size:have])
			have -= size
			if have == 0 || !c.stream {
				have = 0
				break
			}
		}
	}
}

func streamFrame(b []byte) (int, bool) {
	n, err := frameLen(b)
	if err != nil || n == 0 || n > len(b) {
		return 0, false
	}
	return n, true
}

func (c *client) frame(f []byte) {
	if len(f) >= 4 && f[0] >= 0x40 && f[0] <= 0x4F {
		l := int(binary.BigEndian.Uint16(f[2:4]))
		c.data <- f[4 : 4+l]
		return
	}
	m := &stun.Message{Raw: f}
	if m.Decode() != nil {
		return
	}
	if m.Type.Class == stun.ClassIndication && m.Type.Method == stun.MethodData {
		if d, err := m.Get(stun.AttrData); err == nil {
			c.data <- d
		}
		return
	}
	c.resp <- m
}

// do sends a request and waits for its response.
func (c *client) do(setters ...stun.Setter) *stun.Message {
	c.t.Helper()
	m, err := stun.Build(append([]stun.Setter{stun.TransactionID}, setters...)...)
	if err != nil {
		c.t.Fatal(err)
	}
	if _, err := c.conn.Write(m.Raw); err != nil {
		c.t.Fatal(err)
	}
	deadline := time.After(20 * time.Second)
	for {
		select {
		case r, ok := <-c.resp:
			if !ok {
				c.t.Fatalf("%v: the server closed the connection", m.Type)
			}
			if r.TransactionID == m.TransactionID {
				return r
			}
		case <-deadline:
			c.t.Fatalf("%v: no response", m.Type)
		}
	}
}

// code is a response's error code (0 for success).
func code(m *stun.Message) int {
	if m.Type.Class == stun.ClassSuccessResponse {
		return 0
	}
	var ec stun.ErrorCodeAttribute
	if err := ec.GetFrom(m); err != nil {
		return -1
	}
	return int(ec.Code)
}

// attr is a raw attribute as a stun.Setter.
type attr struct {
	t stun.AttrType
	v []byte
}

func (a attr) AddTo(m *stun.Message) error { m.Add(a.t, a.v); return nil }

func udpTransport() attr { return attr{stun.AttrRequestedTransport, []byte{protoUDP, 0, 0, 0}} }

type peerAddr netip.AddrPort

func (p peerAddr) AddTo(m *stun.Message) error {
	ap := netip.AddrPort(p)
	x := stun.XORMappedAddress{IP: ap.Addr().AsSlice(), Port: int(ap.Port())}
	return x.AddToAs(m, stun.AttrXORPeerAddress)
}

// challenge sends an unauthenticated Allocate; pion answers 401 with its
// realm and nonce, which the client keeps.
func (c *client) challenge() {
	c.t.Helper()
	r := c.do(stun.NewType(stun.MethodAllocate, stun.ClassRequest), udpTransport())
	if code(r) != 401 {
		c.t.Fatalf("unauthenticated allocate: %d, want 401", code(r))
	}
	var realm stun.Realm
	var nonce stun.Nonce
	if realm.GetFrom(r) != nil || nonce.GetFrom(r) != nil {
		c.t.Fatal("the 401 carries no realm or nonce")
	}
	c.realm, c.nonce = realm.String(), nonce.String()
}

// auth are the attributes of an authenticated request.
func (c *client) auth(user, pass string) []stun.Setter {
	return []stun.Setter{
		stun.NewUsername(user), stun.NewRealm(c.realm), stun.NewNonce(c.nonce),
		stun.NewLongTermIntegrity(user, c.realm, pass),
	}
}

// allocate asks for a UDP relay with a credential; it returns the
// response's code and, on success, the relayed address.
func (c *client) allocate(cred Credential) (int, netip.AddrPort) {
	c.t.Helper()
	if c.nonce == "" {
		c.challenge()
	}
	c.user, c.pass = cred.Username, cred.Password
	r := c.do(append([]stun.Setter{stun.NewType(stun.MethodAllocate, stun.ClassRequest), udpTransport()}, c.auth(cred.Username, cred.Password)...)...)
	if code(r) != 0 {
		return code(r), netip.AddrPort{}
	}
	var relay stun.XORMappedAddress
	if err := relay.GetFromAs(r, stun.AttrXORRelayedAddress); err != nil {
		c.t.Fatal(err)
	}
	ip, _ := netip.AddrFromSlice(relay.IP)
	return 0, netip.AddrPortFrom(ip.Unmap(), uint16(relay.Port))
}

// permit asks for a permission (or, with channel, a channel) to peer.
func (c *client) permit(peer netip.AddrPort, channel uint16) int {
	c.t.Helper()
	setters := []stun.Setter{stun.NewType(stun.MethodCreatePermission, stun.ClassRequest), peerAddr(peer)}
	if channel != 0 {
		setters = []stun.Setter{stun.NewType(stun.MethodChannelBind, stun.ClassRequest), peerAddr(peer),
			attr{stun.AttrChannelNumber, []byte{byte(channel >> 8), byte(channel), 0, 0}}}
	}
	return code(c.do(append(setters, c.auth(c.user, c.pass)...)...))
}

// send relays data to peer with a Send indication.
func (c *client) send(peer netip.AddrPort, data []byte) {
	c.t.Helper()
	m, err := stun.Build(stun.TransactionID, stun.NewType(stun.MethodSend, stun.ClassIndication), peerAddr(peer), attr{stun.AttrData, data})
	if err != nil {
		c.t.Fatal(err)
	}
	if _, err := c.conn.Write(m.Raw); err != nil {
		c.t.Fatal(err)
	}
}

// channelData relays data on a bound channel.
func (c *client) channelData(channel uint16, data []byte) {
	c.t.Helper()
	f := make([]byte, 4+(len(data)+3)&^3)
	binary.BigEndian.PutUint16(f[0:], channel)
	binary.BigEndian.PutUint16(f[2:], uint16(len(data)))
	copy(f[4:], data)
	if !c.stream {
		f = f[:4+len(data)]
	}
	if _, err := c.conn.Write(f); err != nil {
		c.t.Fatal(err)
	}
}

// recvData waits for relayed data.
func (c *client) recvData() []byte {
	c.t.Helper()
	select {
	case d := <-c.data:
		return d
	case <-time.After(20 * time.Second):
		c.t.Fatal("no relayed data came")
	}
	return nil
}

// readFrom reads one datagram from a socket with a generous deadline.
func readFrom(t *testing.T, c sock) ([]byte, netip.AddrPort) {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(20 * time.Second))
	buf := make([]byte, 2048)
	n, ap, err := c.ReadFromUDPAddrPort(buf)
	if err != nil {
		t.Fatal(err)
	}
	return buf[:n], ap
}

// waitFor polls cond with a generous deadline.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.After(20 * time.Second)
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		select {
		case <-deadline:
			t.Fatalf("timed out waiting for %s", what)
		case <-tick.C:
		}
	}
}
