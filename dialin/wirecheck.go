package dialin

import (
	"bytes"
	"encoding/hex"
	"hash/fnv"
	"net/netip"
	"strconv"
	"strings"

	"github.com/emiago/sipgo/sip"
)

// wireLimits bound what confd reads of one SIP message.
type wireLimits struct {
	maxMessage int // the whole message
	maxHeader  int // the header section
	maxFields  int // header field lines
}

// verdict is what becomes of one message: handed to sipgo (pass, the
// message as sipgo is to read it), answered by confd itself (reply, a
// stateless response, RFC 3261 §8.2.7), or dropped (neither). why says
// what was wrong, for the debug log.
type verdict struct {
	pass  []byte
	reply []byte
	why   string
}

// singleFields are the header fields a message carries once (RFC 3261
// §7.3.1: they are not comma lists; RFC 4475 §3.3.8, §3.3.9).
var singleFields = []string{"to", "from", "call-id", "cseq", "max-forwards", "content-length", "content-type"}

// contentLength reads the Content-Length: its value, whether the message
// has one, and a problem if it is not one plain number (RFC 4475 §3.1.2.3,
// §3.3.9).
func (m *wireMsg) contentLength() (int, bool, *wireProblem) {
	vs := m.get("content-length")
	switch {
	case len(vs) == 0:
		return 0, false, nil
	case len(vs) > 1:
		return 0, true, malformed("more than one Content-Length")
	case !isDigits(vs[0]) || len(vs[0]) > 9:
		return 0, true, malformed("a Content-Length that is not a number")
	}
	n, _ := strconv.Atoi(vs[0])
	return n, true, nil
}

// problemOf finds the first thing that stops sipgo from taking the
// message, in the order of RFC 3261 §8.2: the message itself, its
// mandatory fields, then the Request-URI.
func (m *wireMsg) problemOf(lim wireLimits) *wireProblem {
	if m.problem != nil {
		return m.problem
	}
	if len(m.fields) > lim.maxFields {
		return &wireProblem{code: 513, reason: "Message Too Large", detail: "too many header fields"}
	}
	for _, key := range []string{"via", "from", "to", "call-id", "cseq"} {
		if _, ok := m.first(key); !ok {
			return malformed("no " + key + " header field")
		}
	}
	for _, key := range singleFields {
		if len(m.get(key)) > 1 {
			return malformed("more than one " + key + " header field")
		}
	}
	if p := m.fieldProblem(); p != nil {
		return p
	}
	if m.request {
		return checkRequestURI(m.uri)
	}
	return nil
}

// fieldProblem checks the syntax of the fields confd and sipgo read.
func (m *wireMsg) fieldProblem() *wireProblem {
	method := m.method
	if !m.request {
		method = ""
	}
	for _, f := range m.fields {
		var p *wireProblem
		switch f.key {
		case "via":
			p = checkVia(f.value)
		case "cseq":
			p = checkCSeq(f.value, method)
		case "max-forwards":
			p = checkMaxForwards(f.value)
		case "call-id":
			if f.value == "" || strings.ContainsAny(f.value, " \t") {
				p = malformed("a Call-ID with whitespace")
			}
		case "from", "to":
			p = checkAddress(f.value)
		case "contact":
			p = checkContact(f.value)
		}
		if p != nil {
			return p
		}
	}
	return nil
}

func checkContact(v string) *wireProblem {
	if v == "*" {
		return nil
	}
	for _, c := range splitList(v) {
		if p := checkAddress(c); p != nil {
			return p
		}
	}
	return nil
}

// judge decides about a whole message (its body attached). A problem
// with a request is answered if it can be (it has a Via to answer along),
// except for an ACK, which is never answered (RFC 3261 §17); a problem
// with a response drops it. What passes is also parsed with sipgo's own
// parser, so that sipgo never sees a message it would drop unanswered.
// udp forces rport on the top Via (RFC 3581): confd answers where the
// request came from, which is what phones behind NAT need. A request that
// passes is stamped with local, the address it arrived on (arrival.go).
func (m *wireMsg) judge(lim wireLimits, udp bool, contentLength int, local netip.AddrPort) verdict {
	m.unstamp()
	p := m.problemOf(lim)
	if p == nil {
		m.tightenParams()
		if m.request {
			m.keyable()
			m.stamp(local)
		}
		if udp && m.request {
			m.forceRport()
		}
		out := m.bytes(contentLength)
		if _, err := sip.ParseMessage(out); err != nil {
			p = malformed("unreadable: " + err.Error())
		} else {
			return verdict{pass: out}
		}
	}
	if !m.request || p.code == 0 || strings.EqualFold(m.method, "ACK") {
		return verdict{why: p.detail}
	}
	if _, ok := m.first("via"); !ok {
		return verdict{why: p.detail}
	}
	return verdict{reply: m.reply(p), why: p.detail}
}

// forceRport adds an empty rport parameter to the top Via unless it has
// one, so that sipgo sends the response to the request's source port.
func (m *wireMsg) forceRport() {
	for i := range m.fields {
		f := &m.fields[i]
		if f.key != "via" {
			continue
		}
		hops := splitList(f.value)
		if !hasParam(hops[0], "rport") {
			hops[0] += ";rport"
			f.value = strings.Join(hops, ",")
		}
		return
	}
}

// hasParam reports whether a header value has the parameter name (in any
// case) outside its quoted strings and angle brackets.
func hasParam(v, name string) bool {
	params := paramsOf(v)
	for _, p := range strings.Split(params, ";") {
		k, _, _ := strings.Cut(p, "=")
		if strings.EqualFold(strings.TrimSpace(k), name) {
			return true
		}
	}
	return false
}

// paramsOf is the part of a header value after its address or first
// element: from the first ';' outside quotes and angle brackets.
func paramsOf(v string) string {
	if i := indexOutside(v, ';'); i >= 0 {
		return v[i+1:]
	}
	return ""
}

// reply is confd's stateless response to a request it refuses (RFC 3261
// §8.2.6): the request's Via fields in order, From, To (with a tag, the
// same for a retransmission, §8.2.7), Call-ID and CSeq as sent, whatever
// of them it has, and a Warning saying what was wrong.
func (m *wireMsg) reply(p *wireProblem) []byte {
	var b bytes.Buffer
	b.WriteString("SIP/2.0 " + strconv.Itoa(p.code) + " " + p.reason + "\r\n")
	for _, f := range m.fields {
		switch f.key {
		case "via":
			b.WriteString("Via: " + f.value + "\r\n")
		case "from", "call-id", "cseq":
			b.WriteString(f.name + ": " + f.value + "\r\n")
		case "to":
			b.WriteString(f.name + ": " + f.value + m.toTag(f.value) + "\r\n")
		}
	}
	b.WriteString("Warning: 399 confd \"" + warnText(p.detail) + "\"\r\n")
	for _, h := range p.extra {
		b.WriteString(h + "\r\n")
	}
	b.WriteString("Content-Length: 0\r\n\r\n")
	return b.Bytes()
}

// toTag is ";tag=…" for a To without a tag: a hash of what identifies the
// request, so that a retransmission gets the same tag.
func (m *wireMsg) toTag(to string) string {
	if hasParam(to, "tag") {
		return ""
	}
	h := fnv.New64a()
	for _, key := range []string{"call-id", "from", "cseq", "via"} {
		v, _ := m.first(key)
		h.Write([]byte(v))
		h.Write([]byte{0})
	}
	return ";tag=" + hex.EncodeToString(h.Sum(nil))
}

// warnText keeps a Warning's text printable and free of quotes.
func warnText(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c < 0x20 || c > 0x7e || c == '"' || c == '\\' {
			b[i] = '?'
		}
	}
	if len(b) > 120 {
		b = b[:120]
	}
	return string(b)
}

// inspectDatagram decides about one UDP datagram (RFC 3261 §18.3): the
// message ends at its Content-Length, and octets after it are ignored;
// a body shorter than the Content-Length is an error (400 for a request).
// CRLF keep-alives and anything that is not SIP are dropped.
// local is the address the datagram arrived on.
func inspectDatagram(b []byte, lim wireLimits, local netip.AddrPort) verdict {
	b = bytes.TrimLeft(b, "\r\n")
	if len(b) == 0 {
		return verdict{}
	}
	if len(b) > lim.maxMessage {
		return verdict{why: "datagram over the message size limit"}
	}
	end := bytes.Index(b, []byte("\r\n\r\n"))
	if end < 0 {
		return verdict{why: "no end of header"}
	}
	m := splitWire(b[:end])
	if end > lim.maxHeader {
		m.fail(&wireProblem{code: 513, reason: "Message Too Large", detail: "header section over the limit"})
	}
	rest := b[end+4:]
	n, has, p := m.contentLength()
	switch {
	case p != nil:
		m.fail(p)
	case has && n > len(rest):
		m.fail(malformed("Content-Length larger than the message"))
	case has:
		rest = rest[:n]
	}
	m.body = rest
	return m.judge(lim, true, -1, local)
}
