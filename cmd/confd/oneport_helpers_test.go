package main

import (
	"bytes"
	"context"
	"encoding/binary"
	"net"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/pion/stun/v4"

	"github.com/confd/confd/turnserver"
)

// ciRun says the tests run in CI, where a missing tool is a failure.
func ciRun() bool { return os.Getenv("CI") != "" }

// lockedBuffer collects a process's output from its pipes' goroutines.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// stunAnswers sends one STUN binding request to 127.0.0.1:port and
// reports whether a response came within half a second.
func stunAnswers(port int) bool {
	c, err := net.Dial("udp", "127.0.0.1:"+strconv.Itoa(port))
	if err != nil {
		return false
	}
	defer c.Close()
	m := stun.MustBuild(stun.TransactionID, stun.BindingRequest)
	if _, err := c.Write(m.Raw); err != nil {
		return false
	}
	_ = c.SetReadDeadline(time.Now().Add(500 * time.Millisecond))
	buf := make([]byte, 1500)
	n, err := c.Read(buf)
	return err == nil && stun.IsMessage(buf[:n])
}

// stunClient speaks raw TURN over a stream (TURN over TLS here).
type stunClient struct {
	t            *testing.T
	c            net.Conn
	realm, nonce string
	cred         turnserver.Credential
}

func newSTUNClient(t *testing.T, c net.Conn) *stunClient {
	t.Helper()
	t.Cleanup(func() { _ = c.Close() })
	return &stunClient{t: t, c: c}
}

type rawAttr struct {
	t stun.AttrType
	v []byte
}

func (a rawAttr) AddTo(m *stun.Message) error { m.Add(a.t, a.v); return nil }

// do sends a request and reads frames until its response.
func (s *stunClient) do(setters ...stun.Setter) *stun.Message {
	s.t.Helper()
	m := stun.MustBuild(append([]stun.Setter{stun.TransactionID}, setters...)...)
	if _, err := s.c.Write(m.Raw); err != nil {
		s.t.Fatal(err)
	}
	_ = s.c.SetReadDeadline(time.Now().Add(30 * time.Second))
	for {
		hdr := make([]byte, 4)
		if _, err := readFull(s.c, hdr); err != nil {
			s.t.Fatalf("reading the response: %v", err)
		}
		l := int(binary.BigEndian.Uint16(hdr[2:4]))
		if hdr[0] >= 0x40 { // ChannelData, padded over a stream
			if _, err := readFull(s.c, make([]byte, (l+3)&^3)); err != nil {
				s.t.Fatal(err)
			}
			continue
		}
		rest := make([]byte, 16+l)
		if _, err := readFull(s.c, rest); err != nil {
			s.t.Fatal(err)
		}
		r := &stun.Message{Raw: append(hdr, rest...)}
		if err := r.Decode(); err != nil {
			s.t.Fatal(err)
		}
		if r.TransactionID == m.TransactionID {
			return r
		}
	}
}

func readFull(c net.Conn, b []byte) (int, error) {
	n := 0
	for n < len(b) {
		k, err := c.Read(b[n:])
		n += k
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

func stunCode(m *stun.Message) int {
	if m.Type.Class == stun.ClassSuccessResponse {
		return 0
	}
	var ec stun.ErrorCodeAttribute
	if ec.GetFrom(m) != nil {
		return -1
	}
	return int(ec.Code)
}

func (s *stunClient) auth() []stun.Setter {
	return []stun.Setter{stun.NewUsername(s.cred.Username), stun.NewRealm(s.realm), stun.NewNonce(s.nonce),
		stun.NewLongTermIntegrity(s.cred.Username, s.realm, s.cred.Password)}
}

// allocate asks for a UDP relay: first unauthenticated (the 401 challenge
// gives the realm and nonce), then with cred. It returns the code.
func (s *stunClient) allocate(cred turnserver.Credential) int {
	s.t.Helper()
	udp := rawAttr{stun.AttrRequestedTransport, []byte{17, 0, 0, 0}}
	r := s.do(stun.NewType(stun.MethodAllocate, stun.ClassRequest), udp)
	var realm stun.Realm
	var nonce stun.Nonce
	if stunCode(r) != 401 || realm.GetFrom(r) != nil || nonce.GetFrom(r) != nil {
		s.t.Fatalf("the challenge: %d", stunCode(r))
	}
	s.realm, s.nonce, s.cred = realm.String(), nonce.String(), cred
	return stunCode(s.do(append([]stun.Setter{stun.NewType(stun.MethodAllocate, stun.ClassRequest), udp}, s.auth()...)...))
}

type xorPeer struct{ ip net.IP }

func (p xorPeer) AddTo(m *stun.Message) error {
	return (&stun.XORMappedAddress{IP: p.ip, Port: 9}).AddToAs(m, stun.AttrXORPeerAddress)
}

// permit asks for a permission to ip.
func (s *stunClient) permit(ip string) int {
	s.t.Helper()
	return stunCode(s.do(append([]stun.Setter{stun.NewType(stun.MethodCreatePermission, stun.ClassRequest), xorPeer{net.ParseIP(ip)}}, s.auth()...)...))
}

// runDaemon runs a server program from Debian (nginx, coturn) for the test
// and waits until ready says it serves. It is stopped with SIGTERM when the
// test ends (nginx's master then stops its worker, which would otherwise
// keep the output pipes, and Wait, open after a SIGKILL of the master);
// its output, and what moreLog adds, is logged if the test failed.
func runDaemon(t *testing.T, name string, moreLog func() string, ready func() bool, bin string, args ...string) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = 10 * time.Second
	out := &lockedBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cancel()
		_ = cmd.Wait()
		if t.Failed() {
			more := ""
			if moreLog != nil {
				more = moreLog()
			}
			t.Logf("%s:\n%s\n%s", name, out.String(), more)
		}
	})
	deadline := time.After(30 * time.Second)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for !ready() {
		select {
		case <-deadline:
			t.Fatalf("%s did not come up:\n%s", name, out.String())
		case <-tick.C:
		}
	}
}
