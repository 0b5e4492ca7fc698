package netmux

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"io"
	"math/big"
	"net"
	"net/http"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// testCert is a self-signed certificate for 127.0.0.1.
func testCert(t *testing.T) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "netmux test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

func startMux(t *testing.T, mutate func(*Config)) *Mux {
	t.Helper()
	cfg := Config{TLS: &tls.Config{Certificates: []tls.Certificate{testCert(t)}}, TURN: true, ICE: true}
	if mutate != nil {
		mutate(&cfg)
	}
	m, err := Listen("127.0.0.1:0", cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = m.Close() })
	return m
}

func dial(t *testing.T, m *Mux) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", m.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func dialTLS(t *testing.T, m *Mux) *tls.Conn {
	t.Helper()
	c := tls.Client(dial(t, m), &tls.Config{InsecureSkipVerify: true}) //nolint:gosec // the test's own certificate
	if err := c.Handshake(); err != nil {
		t.Fatal(err)
	}
	return c
}

// accept waits for the next connection of l, with a generous deadline.
func accept(t *testing.T, l net.Listener) net.Conn {
	t.Helper()
	got := make(chan net.Conn, 1)
	go func() {
		c, err := l.Accept()
		if err != nil {
			close(got)
			return
		}
		got <- c
	}()
	select {
	case c, ok := <-got:
		if !ok {
			t.Fatal("accept failed")
		}
		t.Cleanup(func() { _ = c.Close() })
		return c
	case <-time.After(30 * time.Second):
		t.Fatal("nothing was sorted to the listener")
	}
	return nil
}

// readN reads exactly n bytes from c.
func readN(t *testing.T, c net.Conn, n int) []byte {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(30 * time.Second))
	b := make([]byte, n)
	if _, err := io.ReadFull(c, b); err != nil {
		t.Fatal(err)
	}
	return b
}

// closedByServer waits until the server closes c (within a generous
// deadline; a TLS alert may come first).
func closedByServer(t *testing.T, c net.Conn) {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(30 * time.Second))
	n, err := io.Copy(io.Discard, c)
	if isTimeout(err) || n > 64 {
		t.Fatalf("want the connection closed, read %d bytes, %v", n, err)
	}
}

// waitStats waits until cond holds for the Mux's counters.
func waitStats(t *testing.T, m *Mux, what string, cond func(Stats) bool) {
	t.Helper()
	deadline := time.After(30 * time.Second)
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for !cond(m.Stats()) {
		select {
		case <-deadline:
			t.Fatalf("%s: stats %+v", what, m.Stats())
		case <-tick.C:
		}
	}
}

// TestSortsEachProtocol: ICE over TCP, TURN over TLS and HTTPS reach their
// listeners with every byte the client sent, in order.
func TestSortsEachProtocol(t *testing.T) {
	m := startMux(t, nil)

	ice := append(framedBinding(8), []byte("more")...)
	c := dial(t, m)
	if _, err := c.Write(ice); err != nil {
		t.Fatal(err)
	}
	got := accept(t, m.ICE())
	if b := readN(t, got, len(ice)); !bytes.Equal(b, ice) {
		t.Errorf("ice: got % x, want % x", b, ice)
	}
	if _, ok := got.LocalAddr().(*net.TCPAddr); !ok {
		t.Errorf("ice: local address %T, pion's TCP mux wants a *net.TCPAddr", got.LocalAddr())
	}
	if _, ok := got.(*Conn).ConnectionState(); ok {
		t.Error("ice: has a TLS state")
	}

	turn := append(stunAllocate(), 0x40, 0x00)
	tc := dialTLS(t, m)
	if _, err := tc.Write(turn); err != nil {
		t.Fatal(err)
	}
	got = accept(t, m.TURN())
	if b := readN(t, got, len(turn)); !bytes.Equal(b, turn) {
		t.Errorf("turn: got % x, want % x", b, turn)
	}
	if _, err := got.Write([]byte("reply")); err != nil {
		t.Fatal(err)
	}
	if b := readN(t, tc, 5); string(b) != "reply" {
		t.Errorf("turn: the client read %q", b)
	}

	st := m.Stats()
	if st.ICE != 1 || st.TURN != 1 || st.Accepted != 2 {
		t.Errorf("stats %+v", st)
	}
}

// TestHTTPS: an http.Server on Mux.HTTP serves HTTPS, and its handlers see
// the TLS state (ConnContext, WithTLS).
func TestHTTPS(t *testing.T) {
	m := startMux(t, nil)
	srv := &http.Server{
		ConnContext: ConnContext, ReadHeaderTimeout: 10 * time.Second,
		Handler: WithTLS(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.TLS == nil || !r.TLS.HandshakeComplete {
				http.Error(w, "no tls state", http.StatusInternalServerError)
				return
			}
			_, _ = io.WriteString(w, "page")
		})),
	}
	done := make(chan struct{})
	go func() { defer close(done); _ = srv.Serve(m.HTTP()) }()
	defer func() { _ = srv.Shutdown(context.Background()); <-done }()

	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}} //nolint:gosec // test certificate
	defer client.CloseIdleConnections()
	resp, err := client.Get("https://" + m.Addr().String() + "/")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || string(body) != "page" {
		t.Fatalf("GET = %d %q", resp.StatusCode, body)
	}
	if st := m.Stats(); st.HTTP != 1 {
		t.Errorf("stats %+v", st)
	}
}

// TestRefuses: what is neither TLS nor ICE, what inside TLS is neither HTTP
// nor STUN, a protocol that is off, and a failed handshake are closed and
// counted; the Mux goes on sorting.
func TestRefuses(t *testing.T) {
	m := startMux(t, func(c *Config) { c.TURN = false })
	for _, garbage := range [][]byte{[]byte("GET / HTTP/1.1\r\n\r\n"), {0xff, 0x00, 0x13}, stunAllocate(), {0x16, 0x01}} {
		c := dial(t, m)
		if _, err := c.Write(garbage); err != nil {
			t.Fatal(err)
		}
		closedByServer(t, c)
	}
	waitStats(t, m, "four refusals", func(s Stats) bool { return s.Refused == 4 })

	// Inside TLS: lower-case junk, and STUN while TURN is off.
	for _, inner := range [][]byte{[]byte("hello"), stunAllocate()} {
		tc := dialTLS(t, m)
		if _, err := tc.Write(inner); err != nil {
			t.Fatal(err)
		}
		closedByServer(t, tc)
	}
	waitStats(t, m, "six refusals", func(s Stats) bool { return s.Refused == 6 })

	// A handshake record that holds no client hello.
	c := dial(t, m)
	if _, err := c.Write([]byte{0x16, 0x03, 0x01, 0x00, 0x05, 0x63, 0x6f, 0x6e, 0x66, 0x64}); err != nil {
		t.Fatal(err)
	}
	closedByServer(t, c)
	waitStats(t, m, "a failed handshake", func(s Stats) bool { return s.TLSFailed == 1 })

	// Still sorting.
	ice := framedBinding(4)
	ok := dial(t, m)
	if _, err := ok.Write(ice); err != nil {
		t.Fatal(err)
	}
	readN(t, accept(t, m.ICE()), len(ice))
}

// TestHandshakeTimeout: a connection that sends nothing, or stops inside
// its TLS handshake, is closed once HandshakeTimeout passes, and counted.
func TestHandshakeTimeout(t *testing.T) {
	m := startMux(t, func(c *Config) { c.HandshakeTimeout = 200 * time.Millisecond })
	silent := dial(t, m)
	closedByServer(t, silent)
	half := dial(t, m)
	if _, err := half.Write([]byte{0x16, 0x03, 0x01, 0x00}); err != nil { // a record header, no more
		t.Fatal(err)
	}
	closedByServer(t, half)
	waitStats(t, m, "two timeouts", func(s Stats) bool { return s.TimedOut == 2 })
}

// TestLimits: past MaxPending (and MaxPendingPerIP) connections being
// sorted, a new one is closed at once; a slot comes back when one is
// sorted.
func TestLimits(t *testing.T) {
	m := startMux(t, func(c *Config) { c.MaxPending = 3; c.MaxPendingPerIP = 2 })
	dial(t, m)
	dial(t, m)
	waitStats(t, m, "two pending", func(s Stats) bool { return s.Accepted == 2 })
	over := dial(t, m)
	closedByServer(t, over)
	if st := m.Stats(); st.OverLimit != 1 {
		t.Fatalf("stats %+v", st)
	}

	m2 := startMux(t, func(c *Config) { c.MaxPending = 1 })
	first := dial(t, m2)
	waitStats(t, m2, "one pending", func(s Stats) bool { return s.Accepted == 1 })
	closedByServer(t, dial(t, m2))
	if _, err := first.Write(framedBinding(4)); err != nil {
		t.Fatal(err)
	}
	accept(t, m2.ICE())
	next := dial(t, m2)
	if _, err := next.Write(framedBinding(4)); err != nil {
		t.Fatal(err)
	}
	accept(t, m2.ICE())
	if st := m2.Stats(); st.OverLimit != 1 || st.ICE != 2 {
		t.Fatalf("stats %+v", st)
	}
}

// TestClose: Close ends connections still being sorted at once, and the
// protocol listeners' Accept returns ErrClosed.
func TestClose(t *testing.T) {
	m := startMux(t, func(c *Config) { c.HandshakeTimeout = time.Hour })
	c := dial(t, m)
	waitStats(t, m, "one pending", func(s Stats) bool { return s.Accepted == 1 })
	accepted := make(chan error, 1)
	go func() { _, err := m.HTTP().Accept(); accepted <- err }()
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	closedByServer(t, c)
	if err := <-accepted; !errors.Is(err, ErrClosed) {
		t.Errorf("Accept after Close: %v", err)
	}
	if _, err := net.Dial("tcp", m.Addr().String()); err == nil {
		t.Error("still listening after Close")
	}
}
