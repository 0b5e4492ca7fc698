package dialin

import (
	"bytes"
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	"github.com/confd/confd/mixer"
)

// direction is an SDP media direction attribute (RFC 4566 §6, RFC 3264 §5.1).
type direction int

const (
	sendrecv direction = iota
	sendonly
	recvonly
	inactive
)

func (d direction) String() string {
	return [...]string{"sendrecv", "sendonly", "recvonly", "inactive"}[d]
}

func parseDirection(s string) direction {
	switch s {
	case "sendonly":
		return sendonly
	case "recvonly":
		return recvonly
	case "inactive":
		return inactive
	}
	return sendrecv
}

// reverse is the direction an answerer puts against an offer's (RFC 3264
// §6.1): a phone that only sends (hold with music) gets recvonly back.
func (d direction) reverse() direction {
	switch d {
	case sendonly:
		return recvonly
	case recvonly:
		return sendonly
	}
	return d
}

// format is one payload type of an m= line with its rtpmap and fmtp.
type format struct {
	pt   uint8
	name string // encoding name, lower case ("pcmu", "telephone-event")
	rate uint32
	fmtp string
}

// sdpAudio is what confd needs from a peer's session description: the first
// audio stream (RFC 4566 §5.14) and where to send it.
type sdpAudio struct {
	addr    netip.Addr // c= of the media, else of the session; may be unspecified (hold)
	port    uint16     // 0: the stream is rejected or disabled (RFC 3264 §6)
	proto   string
	formats []format
	dir     direction
	index   int // position of the audio m= line among all m= lines
	mlines  []string
}

// maxSDP bounds what parseSDP reads; a phone's offer is a few hundred bytes.
const maxSDP = 16 << 10

// parseSDP reads a session description leniently: lines in any order, "\n" or
// "\r\n" endings, unknown lines ignored. It fails only when there is no
// usable audio stream or a line confd needs is malformed.
func parseSDP(b []byte) (*sdpAudio, error) {
	if len(b) > maxSDP {
		return nil, fmt.Errorf("%w: %d bytes", ErrBadSDP, len(b))
	}
	p := sdpParser{a: &sdpAudio{index: -1}}
	for line := range bytes.Lines(b) {
		if err := p.line(string(bytes.TrimRight(line, "\r\n"))); err != nil {
			return nil, err
		}
	}
	return p.finish()
}

// sdpParser holds parseSDP's state between lines.
type sdpParser struct {
	a           *sdpAudio
	sessionAddr netip.Addr
	sessionDir  direction
	inAudio     bool // the current m= section is the audio one
	rtpmaps     map[uint8]format
	fmtps       map[uint8]string
}

func (p *sdpParser) line(l string) error {
	if len(l) < 2 || l[1] != '=' {
		return nil // blank or junk lines are not ours to judge
	}
	v := strings.TrimSpace(l[2:])
	switch l[0] {
	case 'm':
		return p.media(v)
	case 'c':
		return p.connection(v)
	case 'a':
		p.attribute(v)
	}
	return nil
}

func (p *sdpParser) media(v string) error {
	p.inAudio = false
	p.a.mlines = append(p.a.mlines, v)
	if len(p.a.mlines) > 16 || p.a.index >= 0 || !strings.HasPrefix(v, "audio ") {
		return nil
	}
	f := strings.Fields(v)
	if len(f) < 4 {
		return fmt.Errorf("%w: m=%s", ErrBadSDP, v)
	}
	port, err := strconv.ParseUint(strings.SplitN(f[1], "/", 2)[0], 10, 16)
	if err != nil {
		return fmt.Errorf("%w: port %q", ErrBadSDP, f[1])
	}
	p.a.index, p.a.port, p.a.proto, p.inAudio = len(p.a.mlines)-1, uint16(port), f[2], true
	p.a.dir = p.sessionDir
	return p.payloadTypes(f[3:])
}

func (p *sdpParser) payloadTypes(pts []string) error {
	if len(pts) > 32 {
		pts = pts[:32]
	}
	for _, s := range pts {
		pt, err := strconv.ParseUint(s, 10, 7)
		if err != nil {
			return fmt.Errorf("%w: payload type %q", ErrBadSDP, s)
		}
		p.a.formats = append(p.a.formats, format{pt: uint8(pt)})
	}
	return nil
}

// connection reads c=IN IP4|IP6 addr (RFC 4566 §5.7); a media-level one
// overrides the session's.
func (p *sdpParser) connection(v string) error {
	f := strings.Fields(v)
	if len(f) < 3 || f[0] != "IN" {
		return fmt.Errorf("%w: c=%s", ErrBadSDP, v)
	}
	addr, err := netip.ParseAddr(strings.SplitN(f[2], "/", 2)[0])
	if err != nil {
		return fmt.Errorf("%w: c=%s", ErrBadSDP, v)
	}
	switch {
	case p.inAudio:
		p.a.addr = addr.Unmap()
	case len(p.a.mlines) == 0:
		p.sessionAddr = addr.Unmap()
	}
	return nil
}

func (p *sdpParser) attribute(v string) {
	if len(p.a.mlines) > 0 && !p.inAudio {
		return
	}
	name, val, _ := strings.Cut(v, ":")
	switch name {
	case "sendrecv", "sendonly", "recvonly", "inactive":
		d := parseDirection(name)
		if p.inAudio {
			p.a.dir = d
		} else {
			p.sessionDir = d
		}
	case "rtpmap":
		p.rtpmap(val)
	case "fmtp":
		p.fmtp(val)
	}
}

// rtpmap reads "pt name/rate[/channels]" (RFC 4566 §6).
func (p *sdpParser) rtpmap(v string) {
	ptS, enc, ok := strings.Cut(v, " ")
	pt, err := strconv.ParseUint(ptS, 10, 7)
	if !ok || err != nil || !p.inAudio {
		return
	}
	parts := strings.Split(strings.TrimSpace(enc), "/")
	var rate uint64
	if len(parts) > 1 {
		rate, _ = strconv.ParseUint(parts[1], 10, 32)
	}
	if p.rtpmaps == nil {
		p.rtpmaps = map[uint8]format{}
	}
	p.rtpmaps[uint8(pt)] = format{pt: uint8(pt), name: strings.ToLower(parts[0]), rate: uint32(rate)}
}

func (p *sdpParser) fmtp(v string) {
	ptS, params, ok := strings.Cut(v, " ")
	pt, err := strconv.ParseUint(ptS, 10, 7)
	if !ok || err != nil || !p.inAudio {
		return
	}
	if p.fmtps == nil {
		p.fmtps = map[uint8]string{}
	}
	p.fmtps[uint8(pt)] = strings.TrimSpace(params)
}

// finish resolves each payload type: its rtpmap, or the static assignment
// of RFC 3551 §6 for types without one (0 PCMU, 8 PCMA, 13 CN).
func (p *sdpParser) finish() (*sdpAudio, error) {
	a := p.a
	if a.index < 0 {
		return nil, ErrNoAudio
	}
	if !a.addr.IsValid() {
		a.addr = p.sessionAddr
	}
	if !a.addr.IsValid() && a.port != 0 {
		return nil, fmt.Errorf("%w: no c= line for audio", ErrBadSDP)
	}
	for i, f := range a.formats {
		if m, ok := p.rtpmaps[f.pt]; ok {
			a.formats[i] = m
		} else {
			a.formats[i] = staticFormat(f.pt)
		}
		a.formats[i].fmtp = p.fmtps[f.pt]
	}
	return a, nil
}

func staticFormat(pt uint8) format {
	switch pt {
	case 0:
		return format{pt: 0, name: "pcmu", rate: 8000}
	case 8:
		return format{pt: 8, name: "pcma", rate: 8000}
	case 13:
		return format{pt: 13, name: "cn", rate: 8000}
	}
	return format{pt: pt}
}

// held reports whether the peer has put the call on hold: sendonly or
// inactive (RFC 3264 §8.4), or the older c=0.0.0.0 (RFC 2543).
func (a *sdpAudio) held() bool {
	return a.dir == sendonly || a.dir == inactive || (a.addr.IsValid() && a.addr.IsUnspecified())
}

// media is the outcome of an offer/answer exchange for the audio stream.
type media struct {
	codec  mixer.Codec
	pt     uint8 // the codec's payload type as the peer numbered it
	dtmfPT uint8 // telephone-event's payload type; 0 when not negotiated
	remote netip.AddrPort
	dir    direction // as the peer declared it
}

// hasDTMF reports whether RFC 4733 events were negotiated (payload type 0
// is PCMU, never telephone-event, so 0 can mean "none").
func (m media) hasDTMF() bool { return m.dtmfPT != 0 }

// negotiate picks the first codec of prefs that the peer offers (confd's
// preference wins, as with FreeSWITCH's codec string) and telephone-event
// at 8000 Hz if offered (RFC 4733 §7.1.1).
func negotiate(a *sdpAudio, prefs []mixer.Codec) (media, error) {
	if a.port == 0 || !strings.HasPrefix(a.proto, "RTP/AVP") {
		return media{}, ErrNoCodec
	}
	m := media{remote: netip.AddrPortFrom(a.addr, a.port), dir: a.dir}
	found := false
	for _, c := range prefs {
		if f, ok := a.find(codecName(c), 8000); ok {
			m.codec, m.pt, found = c, f.pt, true
			break
		}
	}
	if !found {
		return media{}, ErrNoCodec
	}
	if f, ok := a.find("telephone-event", 8000); ok {
		m.dtmfPT = f.pt
	}
	return m, nil
}

func (a *sdpAudio) find(name string, rate uint32) (format, bool) {
	for _, f := range a.formats {
		if f.name == name && f.rate == rate {
			return f, true
		}
	}
	return format{}, false
}

func codecName(c mixer.Codec) string { return strings.ToLower(c.String()) }

// sdpOrigin is confd's side of one session: its o= line (RFC 4566 §5.2),
// whose version goes up with every new description (RFC 3264 §8).
type sdpOrigin struct {
	id      uint64
	version uint64
	addr    netip.AddrPort // where confd receives RTP
}

// dtmfPT is the payload type confd offers for telephone-event; 101 is the
// common choice of phones and trunks, so answers rarely renumber it.
const dtmfPT = 101

// answer builds confd's answer to the peer's offer a, with m agreed
// (RFC 3264 §6): the audio line answered, every other m= line rejected
// with port 0 in the same position.
func (o *sdpOrigin) answer(a *sdpAudio, m media, dir direction) []byte {
	var b strings.Builder
	o.header(&b)
	for i, ml := range a.mlines {
		if i != a.index {
			fields := strings.Fields(ml)
			if len(fields) >= 4 {
				fmt.Fprintf(&b, "m=%s 0 %s %s\r\n", fields[0], fields[2], fields[3])
			}
			continue
		}
		var fs []format
		fs = append(fs, format{pt: m.pt, name: codecName(m.codec), rate: 8000})
		if m.hasDTMF() {
			fs = append(fs, format{pt: m.dtmfPT, name: "telephone-event", rate: 8000, fmtp: "0-16"})
		}
		o.audio(&b, fs, dir)
	}
	return []byte(b.String())
}

// offer builds confd's offer for a call that arrived without one (RFC 3261
// §13.2.1: the offer goes in the 2xx, the answer comes in the ACK).
func (o *sdpOrigin) offer(prefs []mixer.Codec) []byte {
	var b strings.Builder
	o.header(&b)
	var fs []format
	for _, c := range prefs {
		fs = append(fs, format{pt: c.PayloadType(), name: codecName(c), rate: 8000})
	}
	fs = append(fs, format{pt: dtmfPT, name: "telephone-event", rate: 8000, fmtp: "0-16"})
	o.audio(&b, fs, sendrecv)
	return []byte(b.String())
}

func (o *sdpOrigin) header(b *strings.Builder) {
	o.version++
	ip := "IP4"
	if o.addr.Addr().Is6() {
		ip = "IP6"
	}
	fmt.Fprintf(b, "v=0\r\no=confd %d %d IN %s %s\r\ns=confd\r\nc=IN %s %s\r\nt=0 0\r\n",
		o.id, o.version, ip, o.addr.Addr(), ip, o.addr.Addr())
}

func (o *sdpOrigin) audio(b *strings.Builder, fs []format, dir direction) {
	fmt.Fprintf(b, "m=audio %d RTP/AVP", o.addr.Port())
	for _, f := range fs {
		fmt.Fprintf(b, " %d", f.pt)
	}
	b.WriteString("\r\n")
	for _, f := range fs {
		fmt.Fprintf(b, "a=rtpmap:%d %s/%d\r\n", f.pt, sdpEncodingName(f.name), f.rate)
		if f.fmtp != "" {
			fmt.Fprintf(b, "a=fmtp:%d %s\r\n", f.pt, f.fmtp)
		}
	}
	// 20 ms is what the mixer packetizes and what its jitter buffer expects
	// (RFC 3551 §4.5: the default for G.711 anyway).
	fmt.Fprintf(b, "a=ptime:20\r\na=%s\r\n", dir)
}

func sdpEncodingName(name string) string {
	if name == "telephone-event" {
		return name
	}
	return strings.ToUpper(name)
}
