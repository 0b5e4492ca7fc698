package dialin

import (
	"strconv"
	"strings"
)

// The syntax checks of the fields confd and sipgo rely on, after RFC 3261
// §25. They are deliberately narrower than a full grammar: they reject
// what RFC 4475 shows breaking parsers (unbalanced quotes, spaces inside
// an addr-spec, separators in a display name, empty parameters) and let
// through whatever else the grammar allows.

// checkVia checks each value of a Via field: "SIP/2.0/transport sent-by"
// with LWS allowed around the slashes, then ;name[=value] parameters.
func checkVia(v string) *wireProblem {
	for _, hop := range splitList(v) {
		if !viaHop(hop) {
			return malformed("a Via that is not SIP/2.0/transport host;params")
		}
	}
	return nil
}

func viaHop(s string) bool {
	sc := scanner{s: s}
	name := sc.token()
	if !strings.EqualFold(name, "SIP") || !sc.slash() || sc.token() != "2.0" || !sc.slash() || sc.token() == "" {
		return false
	}
	if !sc.space() || !sc.host() {
		return false
	}
	if sc.peek() == ':' {
		sc.i++
		if port := sc.digits(); port == "" || len(port) > 5 {
			return false
		}
	}
	return sc.params() && sc.done()
}

// scanner walks a header value; LWS is whatever SP and HTAB remain after
// unfolding.
type scanner struct {
	s string
	i int
}

func (sc *scanner) peek() byte {
	if sc.i < len(sc.s) {
		return sc.s[sc.i]
	}
	return 0
}

func (sc *scanner) skipWS() {
	for sc.i < len(sc.s) && (sc.s[sc.i] == ' ' || sc.s[sc.i] == '\t') {
		sc.i++
	}
}

// space skips LWS that must be there.
func (sc *scanner) space() bool {
	start := sc.i
	sc.skipWS()
	return sc.i > start
}

func (sc *scanner) token() string {
	sc.skipWS()
	start := sc.i
	for sc.i < len(sc.s) && isTokenChar(sc.s[sc.i]) {
		sc.i++
	}
	return sc.s[start:sc.i]
}

func (sc *scanner) digits() string {
	start := sc.i
	for sc.i < len(sc.s) && sc.s[sc.i] >= '0' && sc.s[sc.i] <= '9' {
		sc.i++
	}
	return sc.s[start:sc.i]
}

func (sc *scanner) slash() bool {
	sc.skipWS()
	if sc.peek() != '/' {
		return false
	}
	sc.i++
	return true
}

// host reads a host name, an IPv4 address or a bracketed IPv6 reference.
func (sc *scanner) host() bool {
	if sc.peek() == '[' {
		end := strings.IndexByte(sc.s[sc.i:], ']')
		if end < 0 {
			return false
		}
		sc.i += end + 1
		return true
	}
	start := sc.i
	for sc.i < len(sc.s) {
		c := sc.s[sc.i]
		if !isTokenChar(c) || c == '!' || c == '%' || c == '*' || c == '+' || c == '`' || c == '\'' || c == '~' {
			break
		}
		sc.i++
	}
	return sc.i > start
}

// params reads *( SEMI name [ EQUAL value ] ), where a value is a token, a
// host (an IPv6 reference in received=) or a quoted string.
func (sc *scanner) params() bool {
	for {
		sc.skipWS()
		if sc.peek() != ';' {
			return true
		}
		sc.i++
		if sc.token() == "" {
			return false
		}
		sc.skipWS()
		if sc.peek() != '=' {
			continue
		}
		sc.i++
		sc.skipWS()
		if !sc.paramValue() {
			return false
		}
	}
}

func (sc *scanner) paramValue() bool {
	switch sc.peek() {
	case '"':
		end, ok := quotedEnd(sc.s, sc.i)
		sc.i = end
		return ok
	case '[':
		return sc.host()
	}
	return sc.token() != ""
}

func (sc *scanner) done() bool {
	sc.skipWS()
	return sc.i == len(sc.s)
}

// quotedEnd finds the end of the quoted string starting at s[i] (a '"'),
// with quoted-pairs (RFC 3261 §25.1); false if it is never closed.
func quotedEnd(s string, i int) (int, bool) {
	for j := i + 1; j < len(s); j++ {
		switch s[j] {
		case '\\':
			j++
		case '"':
			return j + 1, true
		}
	}
	return len(s), false
}

// checkAddress checks a From, To or Contact value (RFC 3261 §20.10):
// name-addr ([display-name] <URI>) or addr-spec, then parameters. An
// addr-spec with a comma, question mark or semicolon must be in angle
// brackets (§20), and nothing inside them may be whitespace.
func checkAddress(v string) *wireProblem {
	rest := strings.TrimSpace(v)
	switch lt := strings.IndexByte(rest, '<'); {
	case strings.HasPrefix(rest, "\""):
		end, ok := quotedEnd(rest, 0)
		if !ok {
			return malformed("an unterminated quoted display name")
		}
		rest = strings.TrimLeft(rest[end:], " \t")
		if !strings.HasPrefix(rest, "<") {
			return malformed("a display name without a <URI>")
		}
	case lt >= 0 && !strings.ContainsAny(rest[:lt], ";"):
		if !displayTokens(rest[:lt]) {
			return malformed("a display name that is neither quoted nor tokens")
		}
		rest = rest[lt:]
	default:
		spec, _, _ := strings.Cut(rest, ";")
		spec = strings.TrimRight(spec, " \t")
		if strings.ContainsAny(spec, " \t,?") || !hasScheme(spec) {
			return malformed("an address that must be in angle brackets")
		}
		return nil
	}
	gt := strings.IndexByte(rest, '>')
	if gt < 0 {
		return malformed("a < without its >")
	}
	if inner := rest[1:gt]; strings.ContainsAny(inner, " \t") || !hasScheme(inner) {
		return malformed("whitespace or no scheme inside <...>")
	}
	after := strings.TrimLeft(rest[gt+1:], " \t")
	if after != "" && after[0] != ';' {
		return malformed("text after an address's >")
	}
	return nil
}

func displayTokens(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c != ' ' && c != '\t' && !isTokenChar(c) {
			return false
		}
	}
	return true
}

// hasScheme reports whether uri starts with a URI scheme and a colon
// (RFC 3986 §3.1: ALPHA *( ALPHA / DIGIT / "+" / "-" / "." )).
func hasScheme(uri string) bool {
	scheme, _, ok := strings.Cut(uri, ":")
	if !ok || scheme == "" || !isAlpha(scheme[0]) {
		return false
	}
	for i := 1; i < len(scheme); i++ {
		if c := scheme[i]; !isAlpha(c) && (c < '0' || c > '9') && c != '+' && c != '-' && c != '.' {
			return false
		}
	}
	return true
}

func isAlpha(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }

// checkRequestURI answers a Request-URI confd cannot take: 400 if it is
// not a URI (no scheme, or headers, which §19.1.1 does not allow here), 416
// for a scheme other than sip and sips (RFC 3261 §8.2.2.1).
func checkRequestURI(uri string) *wireProblem {
	if !hasScheme(uri) {
		return malformed("the Request-URI has no scheme")
	}
	scheme, rest, _ := strings.Cut(uri, ":")
	if !strings.EqualFold(scheme, "sip") && !strings.EqualFold(scheme, "sips") {
		return &wireProblem{code: 416, reason: "Unsupported URI Scheme", detail: "confd takes sip and sips URIs",
			extra: []string{"Accept: application/sdp"}}
	}
	// The last @ ends the userinfo: a user part may hold ? and ;, the host
	// part's parameters and headers no @.
	hostpart := rest[strings.LastIndexByte(rest, '@')+1:]
	host, _, _ := strings.Cut(hostpart, ";")
	switch {
	case strings.ContainsRune(hostpart, '?'):
		return malformed("headers in the Request-URI")
	case host == "" || strings.HasPrefix(host, ":"):
		return malformed("the Request-URI has no host")
	}
	return nil
}

// maxCSeq is RFC 3261 §8.1.1.5's bound on a CSeq number: 2**31 - 1.
const maxCSeq = 1<<31 - 1

// checkCSeq checks "number LWS method": the number in range, and the
// method the request's own (§8.1.1.5; RFC 4475 §3.1.2.17). For a response,
// method is "" and any method is taken.
func checkCSeq(v, method string) *wireProblem {
	num, m, ok := strings.Cut(strings.TrimSpace(v), " ")
	if !ok {
		num, m, ok = strings.Cut(strings.TrimSpace(v), "\t")
	}
	m = strings.TrimSpace(m)
	n, err := strconv.ParseUint(num, 10, 64)
	switch {
	case !ok || err != nil || !isToken(m):
		return malformed("a CSeq that is not number and method")
	case n > maxCSeq:
		return malformed("a CSeq number over 2**31-1")
	case method != "" && m != method:
		return malformed("the CSeq method is not the request's")
	}
	return nil
}

// checkMaxForwards checks 1*DIGIT in 0..255 (RFC 3261 §20.22).
func checkMaxForwards(v string) *wireProblem {
	trimmed := strings.TrimLeft(v, "0")
	if !isDigits(v) || len(trimmed) > 3 {
		return malformed("a Max-Forwards that is not 0 to 255")
	}
	if n, _ := strconv.Atoi("0" + trimmed); n > 255 {
		return malformed("a Max-Forwards that is not 0 to 255")
	}
	return nil
}
