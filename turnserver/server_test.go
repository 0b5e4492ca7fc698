package turnserver

import (
	"bytes"
	"fmt"
	"net"
	"net/netip"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pion/stun/v4"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var (
	notConfds = netip.MustParseAddr("203.0.113.9") // only ever named in requests, never sent to
	loopback2 = netip.MustParseAddr("127.0.0.2")   // loopback, but no address of confd's
)

// TestRelaysToConfdsMedia: over UDP and TCP, a client with a minted
// credential gets a relay on loopback; permissions and channels to confd's
// media IP are granted, and data goes both ways between the client and a
// media socket, by Send/Data indications and by ChannelData.
func TestRelaysToConfdsMedia(t *testing.T) {
	e := newEnv(t, nil)
	for _, tc := range []struct {
		name string
		dial func(*testing.T, *env) *client
	}{{"udp", dialUDP}, {"tcp", dialTCP}} {
		t.Run(tc.name, func(t *testing.T) {
			media := e.media(t)
			c := tc.dial(t, e)
			status, relay := c.allocate(e.s.Credentials().Mint(""))
			if status != 0 || !relay.Addr().IsLoopback() {
				t.Fatalf("allocate: %d, relay %v", status, relay)
			}
			if got := c.permit(addrPort(media), 0); got != 0 {
				t.Fatalf("permission to confd's media: %d", got)
			}
			c.send(addrPort(media), []byte("to confd"))
			got, from := readFrom(t, media)
			if string(got) != "to confd" || from != relay {
				t.Fatalf("media got %q from %v, want from the relay %v", got, from, relay)
			}
			if _, err := media.WriteToUDPAddrPort([]byte("to the client"), relay); err != nil {
				t.Fatal(err)
			}
			if d := c.recvData(); string(d) != "to the client" {
				t.Fatalf("the client got %q", d)
			}
			if got := c.permit(addrPort(media), 0x4001); got != 0 {
				t.Fatalf("channel to confd's media: %d", got)
			}
			c.channelData(0x4001, []byte("on a channel"))
			if got, _ := readFrom(t, media); string(got) != "on a channel" {
				t.Fatalf("media got %q", got)
			}
		})
	}
	if st := e.s.Stats(); st.RelayedIn == 0 || st.RelayedOut == 0 || st.DroppedNotOwn != 0 {
		t.Errorf("stats %+v", st)
	}
	e.noSecretLogged(t)
}

// TestCredentials: a wrong password, a name confd did not mint, another
// realm, and an expired credential get 401; an unauthenticated request
// gets pion's 401 challenge.
func TestCredentials(t *testing.T) {
	e := newEnv(t, nil)
	good := e.s.Credentials().Mint("alice")
	expired := NewCredentials(testSecret, -time.Minute).Mint("alice")
	otherSecret := NewCredentials("another secret", time.Hour).Mint("alice")
	for _, tc := range []struct {
		name string
		cred Credential
	}{
		{"wrong password", Credential{Username: good.Username, Password: "guess"}},
		{"another secret", otherSecret},
		{"not minted", Credential{Username: "alice", Password: good.Password}},
		{"expired", expired},
	} {
		c := dialUDP(t, e)
		if got, _ := c.allocate(tc.cred); got != 401 {
			t.Errorf("%s: allocate got %d, want 401", tc.name, got)
		}
	}
	c := dialUDP(t, e)
	c.challenge()
	c.realm = "elsewhere"
	if got, _ := c.allocate(good); got != 401 {
		t.Errorf("another realm: %d, want 401", got)
	}
	if st := e.s.Stats(); st.Unauthorized != 5 || st.Allocations != 0 {
		t.Errorf("stats %+v", st)
	}
	e.noSecretLogged(t)
}

// TestExpiredCredentialKeepsItsAllocation: once the credential of an
// allocation expires, the allocation still refreshes and adds
// permissions, but the credential makes no new allocation.
func TestExpiredCredentialKeepsItsAllocation(t *testing.T) {
	var clock atomic.Int64
	clock.Store(time.Now().UnixNano())
	e := newEnv(t, func(c *Config) { c.now = func() time.Time { return time.Unix(0, clock.Load()) } })
	cred := e.s.Credentials().Mint("bob")
	c := dialUDP(t, e)
	if got, _ := c.allocate(cred); got != 0 {
		t.Fatalf("allocate: %d", got)
	}
	clock.Add(int64(2 * DefaultCredentialTTL))
	refresh := c.do(append([]stun.Setter{stun.NewType(stun.MethodRefresh, stun.ClassRequest)}, c.auth(cred.Username, cred.Password)...)...)
	if code(refresh) != 0 {
		t.Errorf("refresh with the expired credential: %d", code(refresh))
	}
	if got := c.permit(addrPort(e.media(t)), 0); got != 0 {
		t.Errorf("permission with the expired credential: %d", got)
	}
	if got, _ := dialUDP(t, e).allocate(cred); got != 401 {
		t.Errorf("a new allocation with the expired credential: %d, want 401", got)
	}
}

// TestNotAnOpenRelay: CreatePermission and ChannelBind to an IP that is
// not confd's get 403 (nothing is ever sent there); a packet to a port of
// confd's IP that is no media socket, and one from such a socket, are
// dropped and counted; an Allocate for a TCP relay gets 442.
func TestNotAnOpenRelay(t *testing.T) {
	e := newEnv(t, nil)
	c := dialUDP(t, e)
	status, relay := c.allocate(e.s.Credentials().Mint(""))
	if status != 0 {
		t.Fatalf("allocate: %d", status)
	}
	for _, ip := range []netip.Addr{notConfds, loopback2} {
		peer := netip.AddrPortFrom(ip, 9)
		if got := c.permit(peer, 0); got != 403 {
			t.Errorf("permission to %v: %d, want 403", ip, got)
		}
		if got := c.permit(peer, 0x4002); got != 403 {
			t.Errorf("channel to %v: %d, want 403", ip, got)
		}
	}
	if st := e.s.Stats(); st.Forbidden != 4 {
		t.Errorf("forbidden: %d, want 4", st.Forbidden)
	}

	// confd's IP, but a port no media socket holds: the permission is for
	// the IP (RFC 8656 §9), the packet is dropped.
	other := stranger(t)
	if got := c.permit(addrPort(other), 0); got != 0 {
		t.Fatalf("permission to confd's IP: %d", got)
	}
	c.send(addrPort(other), []byte("not for you"))
	waitFor(t, "the packet to a non-media port dropped", func() bool { return e.s.Stats().DroppedNotOwn == 1 })
	// ...and what that socket sends the relay goes nowhere either.
	if _, err := other.WriteToUDPAddrPort([]byte("spoof"), relay); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the packet from a non-media port dropped", func() bool { return e.s.Stats().DroppedNotOwn == 2 })

	wantsTCP := dialUDP(t, e)
	wantsTCP.challenge()
	cred := e.s.Credentials().Mint("")
	r := wantsTCP.do(append([]stun.Setter{stun.NewType(stun.MethodAllocate, stun.ClassRequest),
		attr{stun.AttrRequestedTransport, []byte{6, 0, 0, 0}}}, wantsTCP.auth(cred.Username, cred.Password)...)...)
	if code(r) != 442 {
		t.Errorf("a TCP relay: %d, want 442", code(r))
	}
}

// TestAllocationFlood: allocations from one address stop at the
// per-address quota with 486, as do one credential's at the per-user
// quota; an allocation that ends gives its place back.
func TestAllocationFlood(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.MaxAllocationsPerIP = 5; c.MaxAllocationsPerUser = 3 })
	granted, refused := 0, 0
	var first *client
	for range 12 {
		c := dialUDP(t, e)
		switch got, _ := c.allocate(e.s.Credentials().Mint("")); got {
		case 0:
			granted++
			if first == nil {
				first = c
			}
		case 486:
			refused++
		default:
			t.Fatalf("allocate: %d", got)
		}
	}
	if granted != 5 || refused != 7 {
		t.Fatalf("from one address: %d granted, %d refused; want 5 and 7", granted, refused)
	}
	if st := e.s.Stats(); st.Allocations != 5 || st.OverQuota != 7 {
		t.Errorf("stats %+v", st)
	}
	// A lifetime of 0 deletes the allocation (RFC 8656 §7.3).
	del := first.do(append([]stun.Setter{stun.NewType(stun.MethodRefresh, stun.ClassRequest), attr{stun.AttrLifetime, []byte{0, 0, 0, 0}}},
		first.auth(first.user, first.pass)...)...)
	if code(del) != 0 {
		t.Fatalf("delete: %d", code(del))
	}
	waitFor(t, "the place given back", func() bool { return e.s.Stats().Allocations == 4 })
	if got, _ := dialUDP(t, e).allocate(e.s.Credentials().Mint("")); got != 0 {
		t.Errorf("after a deletion: %d", got)
	}

	u := newEnv(t, func(c *Config) { c.MaxAllocationsPerUser = 3 })
	cred := u.s.Credentials().Mint("carol")
	var codes []int
	for range 5 {
		got, _ := dialUDP(t, u).allocate(cred)
		codes = append(codes, got)
	}
	if fmt.Sprint(codes) != "[0 0 0 486 486]" {
		t.Errorf("one credential: %v, want three then 486", codes)
	}
}

// TestBandwidth: an allocation relays up to its bandwidth and drops, and
// counts, the rest.
func TestBandwidth(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.MaxBitrate = 8 * 4000 }) // 4000 bytes a second, a second of burst
	media := e.media(t)
	c := dialUDP(t, e)
	if got, _ := c.allocate(e.s.Credentials().Mint("")); got != 0 {
		t.Fatalf("allocate: %d", got)
	}
	if got := c.permit(addrPort(media), 0x4003); got != 0 {
		t.Fatalf("channel: %d", got)
	}
	pkt := bytes.Repeat([]byte{0xAB}, 1000)
	for range 20 {
		c.channelData(0x4003, pkt)
	}
	waitFor(t, "packets over the bandwidth dropped", func() bool { return e.s.Stats().DroppedRate > 0 })
	if st := e.s.Stats(); st.RelayedOut > 5000 {
		t.Errorf("relayed %d bytes in a burst, the bucket holds 4000", st.RelayedOut)
	}
}

// TestTCPLimits: past the connection limit a TCP client is closed at
// once, and so is a stream that is not TURN; a client that sends nothing
// is closed after FirstRequestTimeout.
func TestTCPLimits(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.MaxConnectionsPerIP = 2; c.FirstRequestTimeout = 300 * time.Millisecond })
	a := dialTCP(t, e)
	a.challenge()
	dialTCP(t, e).challenge()
	over, err := net.Dial("tcp4", e.s.TCPAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer over.Close()
	closedByServer(t, over)
	if st := e.s.Stats(); st.OverLimit != 1 || st.Connections != 2 {
		t.Errorf("stats %+v", st)
	}

	b := newEnv(t, func(c *Config) { c.FirstRequestTimeout = 300 * time.Millisecond })
	junk, err := net.Dial("tcp4", b.s.TCPAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer junk.Close()
	if _, err := junk.Write([]byte("GET / HTTP/1.1\r\n\r\n")); err != nil {
		t.Fatal(err)
	}
	closedByServer(t, junk)
	silent, err := net.Dial("tcp4", b.s.TCPAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	closedByServer(t, silent)
	waitFor(t, "both connections gone", func() bool { return b.s.Stats().Connections == 0 })
	if st := b.s.Stats(); st.Garbage != 1 {
		t.Errorf("stats %+v", st)
	}
}

func closedByServer(t *testing.T, c net.Conn) {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(20 * time.Second))
	buf := make([]byte, 512)
	for {
		_, err := c.Read(buf)
		if err == nil {
			continue
		}
		if ne, ok := err.(net.Error); ok && ne.Timeout() {
			t.Fatal("the server kept the connection open")
		}
		return
	}
}

// TestCloseEndsEverything: Close with allocations over UDP and TCP and an
// open client connection returns with every relay socket and connection
// closed (TestMain then finds no goroutine left).
func TestCloseEndsEverything(t *testing.T) {
	e := newEnv(t, nil)
	u := dialUDP(t, e)
	tc := dialTCP(t, e)
	for _, c := range []*client{u, tc} {
		if got, _ := c.allocate(e.s.Credentials().Mint("")); got != 0 {
			t.Fatalf("allocate: %d", got)
		}
	}
	if err := e.s.Close(20 * time.Second); err != nil {
		t.Fatal(err)
	}
	if st := e.s.Stats(); st.Connections != 0 {
		t.Errorf("after Close: %+v", st)
	}
	if _, ok := <-tc.resp; ok {
		t.Error("the TCP client got a response after Close")
	}
}
