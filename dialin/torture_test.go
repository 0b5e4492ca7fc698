package dialin_test

import (
	"fmt"
	"maps"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"

	"github.com/confd/confd/dialin"
	"github.com/confd/confd/room"
)

// tortureCase is what confd, a user agent server, must do with one RFC 4475
// message: the final responses it may send (none: it must stay silent) and
// whether it must send one. The codes follow the RFC's section on the
// message and RFC 3261 §8.2 for a UAS: 400 for what is malformed, 505 for
// another version, 416 for a Request-URI scheme it does not serve, 420 for
// a Require it does not support, 405 for methods it does not handle, and
// 404 for a user that is no room.
type tortureCase struct {
	section string
	codes   []int
	answer  bool // a final response must come
}

// tortureCases covers every file of testdata/sip/rfc4475.
var tortureCases = map[string]tortureCase{
	// 3.1.1 valid messages: every element must take them.
	"wsinv":      {"3.1.1.1", []int{481}, true}, // its To has a tag: a dialog confd does not have
	"intmeth":    {"3.1.1.2", []int{405}, true},
	"esc01":      {"3.1.1.3", []int{404}, true},
	"escnull":    {"3.1.1.4", []int{405}, true},
	"esc02":      {"3.1.1.5", []int{405}, true},
	"lwsdisp":    {"3.1.1.6", []int{200}, true},
	"longreq":    {"3.1.1.7", []int{404}, true}, // its 404 is over 1300 bytes
	"dblreq":     {"3.1.1.8", []int{405}, true}, // the trailing INVITE is not a message over UDP
	"semiuri":    {"3.1.1.9", []int{200}, true},
	"transports": {"3.1.1.10", []int{200}, true},
	"mpart01":    {"3.1.1.11", []int{405}, true},
	"unreason":   {"3.1.1.12", nil, false}, // responses to no request of confd's are absorbed
	"noreason":   {"3.1.1.13", nil, false},
	// 3.1.2 invalid messages: rejected (400) where the message can be
	// answered at all, dropped where not; responses are dropped.
	"badinv01":   {"3.1.2.1", []int{400}, true},
	"clerr":      {"3.1.2.2", []int{400}, true}, // over TCP the body never ends: nothing
	"ncl":        {"3.1.2.3", []int{400}, true},
	"scalar02":   {"3.1.2.4", []int{400}, true},
	"scalarlg":   {"3.1.2.5", nil, false},
	"quotbal":    {"3.1.2.6", []int{400}, true},
	"ltgtruri":   {"3.1.2.7", []int{400}, true},
	"lwsruri":    {"3.1.2.8", []int{400}, true},
	"lwsstart":   {"3.1.2.9", []int{400}, true},
	"trws":       {"3.1.2.10", []int{400}, true},
	"escruri":    {"3.1.2.11", []int{400}, true},
	"baddate":    {"3.1.2.12", []int{400, 404}, true}, // the RFC allows ignoring the Date
	"regbadct":   {"3.1.2.13", []int{400}, true},
	"badaspec":   {"3.1.2.14", []int{400}, true},
	"baddn":      {"3.1.2.15", []int{400}, false}, // no empty line ends its header
	"badvers":    {"3.1.2.16", []int{505}, true},
	"mismatch01": {"3.1.2.17", []int{400}, true},
	"mismatch02": {"3.1.2.18", []int{400}, true},
	"bigcode":    {"3.1.2.19", nil, false},
	// 3.2 and 3.3: transaction and application semantics.
	"badbranch": {"3.2.1", []int{200, 400}, true}, // an RFC 2543 branch, or malformed: either
	"insuf":     {"3.3.1", []int{400}, true},
	"unkscm":    {"3.3.2", []int{416}, true},
	"novelsc":   {"3.3.3", []int{416}, true},
	"unksm2":    {"3.3.4", []int{405}, true},
	"bext01":    {"3.3.5", []int{420}, true},
	"invut":     {"3.3.6", []int{404, 415}, true},
	"regaut01":  {"3.3.7", []int{405}, true},
	"multi01":   {"3.3.8", []int{400}, true},
	"mcl01":     {"3.3.9", []int{400}, true},
	"bcast":     {"3.3.10", nil, false},
	"zeromf":    {"3.3.11", []int{200}, true}, // an endpoint takes Max-Forwards 0
	"cparam01":  {"3.3.12", []int{405}, true},
	"cparam02":  {"3.3.13", []int{405}, true},
	"regescrt":  {"3.3.14", []int{405}, true},
	"sdp01":     {"3.3.15", []int{404, 406}, true},
	"inv2543":   {"3.4.1", []int{404}, true},
	// In the RFC's archive but in no section: a request line without a
	// version, which is not a SIP message at all.
	"test": {"A", []int{400}, false},
}

// streamCases are where TCP differs: a stream message ends where its
// Content-Length says, so clerr and baddn never end, and dblreq is two
// requests (the INVITE of joe gets its 404 too).
var streamCases = map[string]tortureCase{
	"clerr":  {"3.1.2.2", nil, false},
	"baddn":  {"3.1.2.15", nil, false},
	"dblreq": {"3.1.1.8", []int{405, 404}, true},
}

// ackCases are confd's own: an ACK never gets a response (RFC 3261
// §17.1.1.3, §17.2.1), however malformed or stray.
var ackCases = []string{"ack-stray", "ack-nocseq", "ack-badvers", "ack-require", "ack-nobranch"}

func loadTorture(t *testing.T) map[string][]byte {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("..", "testdata", "sip", "rfc4475", "*.dat"))
	if err != nil || len(files) != 50 {
		t.Fatalf("want the 50 messages of RFC 4475, found %d (%v)", len(files), err)
	}
	msgs := map[string][]byte{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		name := strings.TrimSuffix(filepath.Base(f), ".dat")
		if _, ok := tortureCases[name]; !ok {
			t.Fatalf("%s: no expectation for it", name)
		}
		msgs[name] = b
	}
	return msgs
}

// TestIntegrationTorture replays RFC 4475's messages, and stray and
// malformed ACKs, over UDP and TCP against running servers, each from its
// own socket: nothing crashes, every message gets what tortureCases says,
// every response's status line says SIP/2.0, nothing answers an ACK, and
// an OPTIONS after each message is answered.
//
// RFC 4475 reuses branch values: cparam02 has cparam01's Via branch and
// sent-by, and so is, to a server, a retransmission of it (RFC 3261
// §17.2.3), answered to where cparam01 came from. Such a message goes to
// a second server, which has not seen the first.
func TestIntegrationTorture(t *testing.T) {
	msgs := loadTorture(t)
	for _, name := range ackCases {
		b, err := os.ReadFile(filepath.Join("..", "testdata", "sip", "acks", name+".dat"))
		if err != nil {
			t.Fatal(err)
		}
		msgs[name] = b
	}
	pool := &tortureServers{t: t}
	for _, transport := range []string{"udp", "tcp"} {
		t.Run(transport, func(t *testing.T) { replay(t, pool, transport, msgs) })
	}
}

// tortureServers are the servers of the replay (they live as long as the
// whole test) and the transactions each has seen.
type tortureServers struct {
	t       *testing.T
	servers []*harness
	keys    []map[string]bool
}

// serverFor is the first server that has seen no request with msg's
// transaction key, started if need be.
func (p *tortureServers) serverFor(msg []byte) *harness {
	key := txKey(msg)
	for i, h := range p.servers {
		if key == "" || !p.keys[i][key] {
			p.keys[i][key] = true
			return h
		}
	}
	// Every message's TCP peer stays connected until the end, from
	// 127.0.0.1: more than the default per-address limit.
	h := newHarness(p.t, []room.Config{{Number: "3500"}}, func(c *dialin.Config) { c.Limits.MaxConnsPerAddress = 1000 })
	p.servers = append(p.servers, h)
	p.keys = append(p.keys, map[string]bool{key: true})
	return h
}

// txKey is what RFC 3261 §17.2.3 matches a request's transaction by: the
// top Via's branch and sent-by, and the method ("" when sipgo cannot read
// the message, or it is no request).
func txKey(msg []byte) string {
	m, err := sip.ParseMessage(msg)
	req, ok := m.(*sip.Request)
	if err != nil || !ok || req.Via() == nil {
		return ""
	}
	branch, _ := req.Via().Params.Get("branch")
	method := string(req.Method)
	if req.IsAck() {
		method = "INVITE"
	}
	return branch + "|" + req.Via().Host + "|" + strconv.Itoa(req.Via().Port) + "|" + method
}

func replay(t *testing.T, pool *tortureServers, transport string, msgs map[string][]byte) {
	names := slices.Sorted(maps.Keys(msgs))
	peers := map[string]*rawPeer{}
	for i, name := range names {
		c := caseFor(name, transport)
		server := pool.serverFor(msgs[name]).addr(transport)
		p := dialRaw(t, transport, server, netip.Addr{})
		peers[name] = p
		p.send(msgs[name])
		if c.answer {
			if _, ok := p.final(timeout(t, 10*time.Second)); !ok {
				t.Errorf("%s (%s): no final response", name, c.section)
			}
		}
		if !alive(timeout(t, 10*time.Second), t, transport, server, i) {
			t.Fatalf("after %s: the server no longer answers OPTIONS", name)
		}
	}
	// Every message has had its answer, and the server has answered an
	// OPTIONS after each: whatever else it sent has arrived by now.
	for _, name := range names {
		peers[name].close()
		judge(t, name, caseFor(name, transport), peers[name])
	}
}

func caseFor(name, transport string) tortureCase {
	if strings.HasPrefix(name, "ack-") {
		return tortureCase{section: "RFC 3261 §17", answer: false}
	}
	if c, ok := streamCases[name]; ok && transport == "tcp" {
		return c
	}
	return tortureCases[name]
}

func judge(t *testing.T, name string, c tortureCase, p *rawPeer) {
	t.Helper()
	var seen []string
	for _, r := range p.responses() {
		seen = append(seen, fmt.Sprint(r.code))
		if !strings.HasPrefix(r.line, "SIP/2.0 ") {
			t.Errorf("%s (%s): status line %q, want SIP/2.0", name, c.section, r.line)
		}
		if r.code < 200 {
			continue
		}
		if !slices.Contains(c.codes, r.code) {
			t.Errorf("%s (%s): answered %q, want %s", name, c.section, r.line, wantCodes(c))
		}
		if !r.has("Via") || !r.has("CSeq") {
			t.Errorf("%s (%s): the %d lacks Via or CSeq:\n%s", name, c.section, r.code, r.text)
		}
	}
	if p.garbage > 0 {
		t.Errorf("%s (%s): %d replies that are not SIP responses", name, c.section, p.garbage)
	}
	t.Logf("%-10s %-9s -> %v", name, c.section, seen)
}

func wantCodes(c tortureCase) string {
	if len(c.codes) == 0 {
		return "no response"
	}
	return fmt.Sprint(c.codes)
}
