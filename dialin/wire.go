package dialin

import (
	"bytes"
	"encoding/hex"
	"hash/fnv"
	"strconv"
	"strings"
)

// wireMsg is a SIP message as it came off the wire, before sipgo parses
// it: the start line, the header fields unfolded and in order, and the
// body. confd reads it to decide whether sipgo may see the message at
// all (wirecheck.go), and to answer it itself when it may not.
type wireMsg struct {
	start   string
	request bool
	method  string // a request's start line...
	uri     string
	version string
	status  int // ...or a response's code
	fields  []wireField
	body    []byte
	// problem is the first thing found wrong while splitting the message
	// (a start line or header line that is not SIP); nil when none.
	problem *wireProblem
}

// wireField is one header field line, unfolded (RFC 3261 §7.3.1).
type wireField struct {
	name  string // as sent, trimmed
	key   string // lower case, compact form expanded: "v" is "via"
	value string // unfolded, trimmed
}

// wireProblem is why a message is refused: the status to answer with
// (0: drop it unanswered) and what was wrong, for the Warning header and
// the debug log.
type wireProblem struct {
	code   int
	reason string
	detail string
	extra  []string // further header lines for the response
}

func malformed(detail string) *wireProblem {
	return &wireProblem{code: 400, reason: "Bad Request", detail: detail}
}

// compactForms are RFC 3261 §7.3.3's short header names and those of the
// extensions phones use.
var compactForms = map[string]string{
	"i": "call-id", "m": "contact", "e": "content-encoding", "l": "content-length",
	"c": "content-type", "f": "from", "s": "subject", "k": "supported", "t": "to", "v": "via",
	"o": "event", "r": "refer-to", "u": "allow-events", "b": "referred-by", "x": "session-expires",
	"y": "identity", "a": "accept-contact", "j": "reject-contact", "d": "request-disposition",
}

// splitWire splits a header section (everything before the empty line)
// into a wireMsg. It keeps going after a problem, so that a refusal can
// still echo the request's Via, From, To, Call-ID and CSeq.
func splitWire(head []byte) *wireMsg {
	m := &wireMsg{}
	lines := strings.Split(string(head), "\r\n")
	m.startLine(lines[0])
	// A field's continuation lines are gathered first and joined once, so
	// that many short ones cost no more than one long one.
	var cont []string
	flush := func() {
		if len(cont) > 0 {
			f := &m.fields[len(m.fields)-1]
			f.value = strings.TrimSpace(f.value + " " + strings.Join(cont, " "))
			cont = cont[:0]
		}
	}
	for _, l := range lines[1:] {
		if l != "" && (l[0] == ' ' || l[0] == '\t') && len(m.fields) > 0 {
			if strings.ContainsAny(l, "\r\n") {
				m.fail(malformed("a line not ended by CRLF"))
			}
			cont = append(cont, strings.TrimLeft(l, " \t"))
			continue
		}
		flush()
		m.addLine(l)
	}
	flush()
	return m
}

func (m *wireMsg) fail(p *wireProblem) {
	if m.problem == nil {
		m.problem = p
	}
}

func (m *wireMsg) addLine(l string) {
	if strings.ContainsAny(l, "\r\n") {
		m.fail(malformed("a line not ended by CRLF"))
		return
	}
	if l != "" && (l[0] == ' ' || l[0] == '\t') {
		m.fail(malformed("a continuation line before any header field"))
		return
	}
	name, value, ok := strings.Cut(l, ":")
	name = strings.TrimRight(name, " \t")
	if !ok || !isToken(name) {
		m.fail(malformed("a header line that is not name: value"))
		return
	}
	key := strings.ToLower(name)
	if long, ok := compactForms[key]; ok {
		key = long
	}
	m.fields = append(m.fields, wireField{name: name, key: key, value: strings.TrimSpace(value)})
}

// startLine reads a Request-Line or Status-Line (RFC 3261 §7.1, §7.2):
// single spaces between its elements, nothing after the version.
func (m *wireMsg) startLine(l string) {
	m.start = l
	if hasPrefixFold(l, "SIP/") {
		m.statusLine(l)
		return
	}
	m.request = true
	parts := strings.Split(l, " ")
	if len(parts) != 3 {
		m.fail(malformed("the request line is not method, Request-URI and version, single-spaced"))
		if len(parts) > 0 && isToken(parts[0]) {
			m.method = parts[0]
		}
		return
	}
	m.method, m.uri, m.version = parts[0], parts[1], parts[2]
	switch {
	case !isToken(m.method):
		m.fail(malformed("the method is not a token"))
	case !isSIPVersion(m.version):
		m.fail(malformed("the request line does not end in a SIP version"))
	case !strings.EqualFold(m.version, "SIP/2.0"):
		m.fail(&wireProblem{code: 505, reason: "Version Not Supported", detail: "confd speaks SIP/2.0"})
	}
}

func (m *wireMsg) statusLine(l string) {
	parts := strings.SplitN(l, " ", 3)
	if len(parts) != 3 || !strings.EqualFold(parts[0], "SIP/2.0") || len(parts[1]) != 3 {
		m.fail(&wireProblem{detail: "not a SIP/2.0 status line"})
		return
	}
	code, err := strconv.Atoi(parts[1])
	if err != nil || code < 100 || code > 699 {
		m.fail(&wireProblem{detail: "status code out of range"})
		return
	}
	m.version, m.status = parts[0], code
}

// isSIPVersion matches "SIP" "/" 1*DIGIT "." 1*DIGIT (RFC 3261 §25.1),
// "SIP" in any case.
func isSIPVersion(v string) bool {
	if !hasPrefixFold(v, "SIP/") {
		return false
	}
	major, minor, ok := strings.Cut(v[4:], ".")
	return ok && isDigits(major) && isDigits(minor)
}

func hasPrefixFold(s, prefix string) bool {
	return len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix)
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// isTokenChar is RFC 3261 §25.1's token: alphanum and -.!%*_+`'~.
func isTokenChar(c byte) bool {
	switch {
	case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		return true
	}
	return strings.IndexByte("-.!%*_+`'~", c) >= 0
}

func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isTokenChar(s[i]) {
			return false
		}
	}
	return true
}

// get is the values of the fields named key, in order.
func (m *wireMsg) get(key string) []string {
	var out []string
	for _, f := range m.fields {
		if f.key == key {
			out = append(out, f.value)
		}
	}
	return out
}

// first is the first value of key, and whether there was one.
func (m *wireMsg) first(key string) (string, bool) {
	for _, f := range m.fields {
		if f.key == key {
			return f.value, true
		}
	}
	return "", false
}

// splitList splits a header value at the commas that separate its values
// (RFC 3261 §7.3.1), not those inside quotes or angle brackets.
func splitList(v string) []string {
	var out []string
	for {
		i := indexOutside(v, ',')
		if i < 0 {
			return append(out, strings.TrimSpace(v))
		}
		out = append(out, strings.TrimSpace(v[:i]))
		v = v[i+1:]
	}
}

// indexOutside is the index of the first sep in a header value that is
// outside quoted strings (with their backslash escapes) and angle
// brackets, or -1.
func indexOutside(v string, sep byte) int {
	depth, quoted := 0, false
	for i := 0; i < len(v); i++ {
		switch c := v[i]; {
		case quoted && c == '\\':
			i++
		case c == '"':
			quoted = !quoted
		case quoted:
		case c == '<':
			depth++
		case c == '>' && depth > 0:
			depth--
		case c == sep && depth == 0:
			return i
		}
	}
	return -1
}

// bytes writes the message back out for sipgo: the start line (the version
// as "SIP/2.0", since sipgo echoes it into responses), one line per field
// and the body. contentLength, when not negative, is written as the
// message's Content-Length in place of none.
func (m *wireMsg) bytes(contentLength int) []byte {
	var b bytes.Buffer
	if m.request {
		b.WriteString(m.method + " " + m.uri + " SIP/2.0\r\n")
	} else {
		b.WriteString(m.start + "\r\n")
	}
	for _, f := range m.fields {
		b.WriteString(f.name + ": " + f.value + "\r\n")
	}
	if contentLength >= 0 {
		b.WriteString("Content-Length: " + strconv.Itoa(contentLength) + "\r\n")
	}
	b.WriteString("\r\n")
	b.Write(m.body)
	return b.Bytes()
}

// paramFields are the header fields whose values are addresses or tokens
// with ;parameters, where RFC 3261 §25.1 allows LWS around ";", "=", ","
// and, in Via, "/" (SEMI, EQUAL, COMMA, SLASH). sipgo reads parameters
// only when nothing surrounds those, so confd writes them so.
var paramFields = map[string]bool{
	"via": true, "from": true, "to": true, "contact": true, "route": true,
	"record-route": true, "content-type": true,
}

// tightenParams removes the LWS around the separators of every field in
// paramFields, outside quoted strings and angle brackets.
func (m *wireMsg) tightenParams() {
	for i := range m.fields {
		if f := &m.fields[i]; paramFields[f.key] {
			f.value = tighten(f.value, f.key == "via")
		}
	}
}

func tighten(v string, slash bool) string {
	out := make([]byte, 0, len(v))
	quoted, depth := false, 0
	for i := 0; i < len(v); i++ {
		c := v[i]
		switch {
		case quoted:
			if c == '\\' && i+1 < len(v) {
				out = append(out, c)
				i++
				c = v[i]
			} else if c == '"' {
				quoted = false
			}
		case c == '"':
			quoted = true
		case c == '<':
			depth++
		case c == '>' && depth > 0:
			depth--
		case depth > 0:
		case c == ';' || c == '=' || c == ',' || (slash && c == '/'):
			for len(out) > 0 && (out[len(out)-1] == ' ' || out[len(out)-1] == '\t') {
				out = out[:len(out)-1]
			}
			out = append(out, c)
			for i+1 < len(v) && (v[i+1] == ' ' || v[i+1] == '\t') {
				i++
			}
			continue
		}
		out = append(out, c)
	}
	return string(out)
}

// keyable makes sure sipgo can match the request to a transaction. A
// request without an RFC 3261 branch (RFC 2543's, §17.2.3) is matched by
// its From tag, which RFC 2543 did not require; for one with neither,
// confd adds a branch made from what identifies the request (the same for
// a retransmission and for the ACK of a non-2xx), which the peer sees
// echoed in the response's Via and ignores.
func (m *wireMsg) keyable() {
	from, _ := m.first("from")
	for i := range m.fields {
		f := &m.fields[i]
		if f.key != "via" {
			continue
		}
		hops := splitList(f.value)
		if branchOf(hops[0]) != "" || hasParam(from, "tag") {
			return
		}
		callID, _ := m.first("call-id")
		cseq, _ := m.first("cseq")
		num, _, _ := strings.Cut(cseq, " ")
		h := fnv.New64a()
		for _, s := range []string{callID, num, from, hops[0]} {
			h.Write([]byte(s))
			h.Write([]byte{0})
		}
		hops[0] += ";branch=" + rfc3261Cookie + "-confd-" + hex.EncodeToString(h.Sum(nil))
		f.value = strings.Join(hops, ",")
		return
	}
}

// rfc3261Cookie starts every RFC 3261 branch (§8.1.1.7).
const rfc3261Cookie = "z9hG4bK"

// branchOf is a Via hop's RFC 3261 branch, or "" if it has none.
func branchOf(hop string) string {
	for _, p := range strings.Split(paramsOf(hop), ";") {
		k, v, _ := strings.Cut(p, "=")
		if strings.EqualFold(strings.TrimSpace(k), "branch") {
			v = strings.TrimSpace(v)
			if len(v) > len(rfc3261Cookie) && strings.HasPrefix(v, rfc3261Cookie) {
				return v
			}
			return ""
		}
	}
	return ""
}
