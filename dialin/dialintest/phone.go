package dialintest

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"

	"github.com/confd/confd/mixer"
)

// Options describe a test call.
type Options struct {
	Dest       string   // the number dialled (request-URI user)
	From       string   // the calling number (default "5551234567")
	NoFromUser bool     // a From without a user part: sip:127.0.0.1
	Codecs     []string // offered, in order: "PCMU", "PCMA" (default both)
	ToneHz     float64  // a sine sent at -12 dBFS; 0 sends silence
	LateOffer  bool     // INVITE without SDP: offer in the 200, answer in the ACK
	Transport  string   // "udp" (default), "tcp" or "tls"
	Login      string   // digest credentials, used when challenged
	Password   string
	NoMedia    bool // send no RTP at all (RTP timeout tests)
	// Lean sends one pre-encoded frame over and over and only counts what
	// it receives, so that benchmarks measure confd rather than the phone.
	Lean bool
}

// ResponseError is a final non-2xx answer to the INVITE.
type ResponseError struct {
	Code   int
	Reason string
}

func (e *ResponseError) Error() string { return fmt.Sprintf("%d %s", e.Code, e.Reason) }

// Phone is one test call.
type Phone struct {
	opts   Options
	ua     *sipgo.UserAgent
	cli    *sipgo.Client
	dc     *sipgo.DialogClientCache
	sess   *sipgo.DialogClientSession
	rtp    *net.UDPConn
	remote atomic.Pointer[netip.AddrPort]
	from   atomic.Pointer[netip.AddrPort] // where confd's RTP comes from
	codec  mixer.Codec
	pt     uint8
	dtmfPT uint8
	answer string

	byeOnce  sync.Once
	bye      chan struct{}
	stop     chan struct{}
	wg       sync.WaitGroup
	sendMu   sync.Mutex // the RTP sequence shared by tone and digits
	seq      uint16
	ts       uint32
	ssrc     uint32
	muted    atomic.Bool
	received atomic.Uint64

	mu       sync.Mutex
	heard    []int16
	packets  int
	infoResp int
}

// Dial calls server and returns once the call is answered and ACKed.
func Dial(ctx context.Context, server netip.AddrPort, opts Options) (*Phone, error) {
	p, err := newPhone(opts)
	if err != nil {
		return nil, err
	}
	if err := p.invite(ctx, server, nil); err != nil {
		p.Close()
		return nil, err
	}
	return p, nil
}

func newPhone(opts Options) (*Phone, error) {
	if opts.From == "" {
		opts.From = "5551234567"
	}
	if len(opts.Codecs) == 0 {
		opts.Codecs = []string{"PCMU", "PCMA"}
	}
	if opts.Transport == "" {
		opts.Transport = "udp"
	}
	p := &Phone{opts: opts, bye: make(chan struct{}), stop: make(chan struct{})}
	var seed [10]byte
	_, _ = rand.Read(seed[:])
	p.seq, p.ts, p.ssrc = binary.BigEndian.Uint16(seed[:]), binary.BigEndian.Uint32(seed[2:]), binary.BigEndian.Uint32(seed[6:])
	rtp, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		return nil, err
	}
	p.rtp = rtp
	if err := p.startUA(); err != nil {
		_ = rtp.Close()
		return nil, err
	}
	return p, nil
}

// startUA runs the phone's own SIP server on loopback, so that confd's BYE
// reaches it.
func (p *Phone) startUA() error {
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	// The test server's certificate is self-signed: a test phone trusts it.
	tlsCfg := &tls.Config{InsecureSkipVerify: true} //nolint:gosec // test phone
	ua, err := sipgo.NewUA(sipgo.WithUserAgent("confd-test-phone"), sipgo.WithUserAgentHostname("127.0.0.1"),
		sipgo.WithUserAgenTLSConfig(tlsCfg),
		sipgo.WithUserAgentTransactionLayerOptions(sip.WithTransactionLayerLogger(quiet)),
		sipgo.WithUserAgentTransportLayerOptions(sip.WithTransportLayerLogger(quiet)))
	if err != nil {
		return err
	}
	p.ua = ua
	srv, err := sipgo.NewServer(ua, sipgo.WithServerLogger(quiet))
	if err != nil {
		return err
	}
	p.cli, err = sipgo.NewClient(ua, sipgo.WithClientHostname("127.0.0.1"), sipgo.WithClientLogger(quiet))
	if err != nil {
		return err
	}
	contact := sip.ContactHeader{Address: sip.Uri{User: p.opts.From, Host: "127.0.0.1"}}
	p.dc = sipgo.NewDialogClientCache(p.cli, contact)
	srv.OnBye(func(req *sip.Request, tx sip.ServerTransaction) {
		if err := p.dc.ReadBye(req, tx); err != nil {
			_ = tx.Respond(sip.NewResponseFromRequest(req, 481, "No Such Call", nil))
		}
		p.byeOnce.Do(func() { close(p.bye) })
	})
	return nil
}

// Close hangs up if the call is still up (as a phone put down would),
// then stops the phone's goroutines and sockets.
func (p *Phone) Close() {
	select {
	case <-p.stop:
		return
	default:
	}
	if p.sess != nil && p.sess.LoadState() == sip.DialogStateConfirmed {
		select {
		case <-p.bye:
		default:
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			_ = p.sess.Bye(ctx)
			cancel()
		}
	}
	close(p.stop)
	_ = p.rtp.Close()
	p.wg.Wait()
	if p.sess != nil {
		_ = p.sess.Close()
	}
	_ = p.ua.Close()
}

// offer is the phone's SDP offer for its codecs and telephone-event.
func (p *Phone) offer(dir string) []byte {
	port := p.rtp.LocalAddr().(*net.UDPAddr).Port
	var pts []string
	var maps []string
	for _, c := range p.opts.Codecs {
		pt := map[string]string{"PCMU": "0", "PCMA": "8", "G729": "18"}[c]
		pts = append(pts, pt)
		maps = append(maps, "a=rtpmap:"+pt+" "+c+"/8000")
	}
	pts = append(pts, "101")
	maps = append(maps, "a=rtpmap:101 telephone-event/8000", "a=fmtp:101 0-16")
	return []byte(fmt.Sprintf("v=0\r\no=phone 1 %d IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio %d RTP/AVP %s\r\n%s\r\na=ptime:20\r\na=%s\r\n",
		time.Now().UnixNano()%1e6, port, strings.Join(pts, " "), strings.Join(maps, "\r\n"), dir))
}

func (p *Phone) target(server netip.AddrPort) sip.Uri {
	u := sip.Uri{User: p.opts.Dest, Host: server.Addr().String(), Port: int(server.Port())}
	if p.opts.Transport != "udp" {
		u.UriParams = sip.NewParams()
		u.UriParams.Add("transport", p.opts.Transport)
	}
	return u
}

// invite sends the INVITE; provisional, when not nil, gets each
// provisional response (for CANCEL tests).
func (p *Phone) invite(ctx context.Context, server netip.AddrPort, provisional func(*sip.Response)) error {
	var body []byte
	if !p.opts.LateOffer {
		body = p.offer("sendrecv")
	}
	req := sip.NewRequest(sip.INVITE, p.target(server))
	req.SetTransport(strings.ToUpper(p.opts.Transport))
	from := sip.FromHeader{Address: sip.Uri{User: p.opts.From, Host: "127.0.0.1"}, Params: sip.NewParams()}
	if p.opts.NoFromUser {
		from.Address.User = ""
	}
	from.Params.Add("tag", sip.GenerateTagN(16))
	req.AppendHeader(&from)
	if body != nil {
		req.SetBody(body)
		req.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
	}
	sess, err := p.dc.WriteInvite(ctx, req)
	if err != nil {
		return err
	}
	p.sess = sess
	return p.waitAnswer(ctx, provisional)
}

func (p *Phone) waitAnswer(ctx context.Context, provisional func(*sip.Response)) error {
	err := p.sess.WaitAnswer(ctx, sipgo.AnswerOptions{
		Username: p.opts.Login, Password: p.opts.Password,
		OnResponse: func(res *sip.Response) error {
			if provisional != nil && res.IsProvisional() {
				provisional(res)
			}
			return nil
		},
	})
	var de *sipgo.ErrDialogResponse
	if errors.As(err, &de) {
		return &ResponseError{Code: de.Res.StatusCode, Reason: de.Res.Reason}
	}
	if err != nil {
		return err
	}
	return p.answered(ctx)
}

// answered reads confd's SDP (answer, or offer for a late offer), ACKs and
// starts the media.
func (p *Phone) answered(ctx context.Context) error {
	res := p.sess.InviteResponse
	p.answer = string(res.Body())
	if err := p.readSDP(p.answer); err != nil {
		return err
	}
	if err := loopbackContact(res); err != nil {
		return err
	}
	ack := sip.NewRequest(sip.ACK, p.remoteTarget())
	if p.opts.LateOffer {
		ack.SetBody(p.answerTo())
		ack.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
	}
	if err := p.sess.WriteAck(ctx, ack); err != nil {
		return err
	}
	p.wg.Add(2)
	go p.readRTP()
	go p.sendTone()
	return nil
}

// answerTo answers confd's offer (late offer) with the first codec both
// have.
func (p *Phone) answerTo() []byte {
	saved := p.opts.Codecs
	p.opts.Codecs = []string{p.codec.String()}
	defer func() { p.opts.Codecs = saved }()
	return p.offer("sendrecv")
}

// readSDP takes the first codec and telephone-event from confd's SDP.
func (p *Phone) readSDP(s string) error {
	var addr netip.Addr
	var port uint16
	found := false
	for _, line := range strings.Split(s, "\r\n") {
		switch {
		case strings.HasPrefix(line, "c=IN IP4 "):
			addr, _ = netip.ParseAddr(strings.TrimPrefix(line, "c=IN IP4 "))
		case strings.HasPrefix(line, "m=audio "):
			f := strings.Fields(line)
			n, _ := strconv.Atoi(f[1])
			port = uint16(n)
		case strings.HasPrefix(line, "a=rtpmap:"):
			found = p.rtpmap(strings.TrimPrefix(line, "a=rtpmap:"), found)
		}
	}
	if !found || !addr.IsValid() {
		return fmt.Errorf("no usable audio in confd's SDP:\n%s", s)
	}
	if !addr.IsLoopback() {
		return fmt.Errorf("%w: confd's SDP names %s:\n%s", ErrNotLoopback, addr, s)
	}
	ap := netip.AddrPortFrom(addr, port)
	p.remote.Store(&ap)
	return nil
}

func (p *Phone) rtpmap(v string, found bool) bool {
	ptS, enc, _ := strings.Cut(v, " ")
	pt, _ := strconv.Atoi(ptS)
	name := strings.ToUpper(strings.Split(enc, "/")[0])
	switch {
	case name == "TELEPHONE-EVENT":
		p.dtmfPT = uint8(pt)
	case !found && (name == "PCMU" || name == "PCMA"):
		p.pt = uint8(pt)
		p.codec = mixer.CodecPCMU
		if name == "PCMA" {
			p.codec = mixer.CodecPCMA
		}
		return true
	}
	return found
}

// ErrNotLoopback: confd's answer named an address off loopback, where a
// test phone sends nothing (no ACK, no RTP, no BYE).
var ErrNotLoopback = errors.New("dialintest: not a loopback address")

// loopbackContact checks that the 200's Contact, where the ACK and BYE
// go, is on loopback.
func loopbackContact(res *sip.Response) error {
	ct := res.Contact()
	if ct == nil {
		return nil // sipgo sends in-dialog requests to where the INVITE went
	}
	a, err := netip.ParseAddr(strings.Trim(ct.Address.Host, "[]"))
	if err != nil || !a.IsLoopback() {
		return fmt.Errorf("%w: confd's Contact is %s", ErrNotLoopback, ct.Address.String())
	}
	return nil
}

// remoteTarget is where the dialog's requests go (RFC 3261 §12.1.2): the
// 200's Contact (it may name another node than the INVITE went to), else
// the INVITE's Request-URI.
func (p *Phone) remoteTarget() sip.Uri {
	if ct := p.sess.InviteResponse.Contact(); ct != nil {
		return *ct.Address.Clone()
	}
	return p.sess.InviteRequest.Recipient
}

// Answer is confd's SDP from the 200 OK.
func (p *Phone) Answer() string { return p.answer }

// Contact is the Contact of confd's 200 OK, where the phone's ACK and BYE
// went ("" if it had none).
func (p *Phone) Contact() string {
	if ct := p.sess.InviteResponse.Contact(); ct != nil {
		return ct.Address.String()
	}
	return ""
}

// Codec is the codec agreed.
func (p *Phone) Codec() mixer.Codec { return p.codec }

// CallID is the call's SIP Call-ID.
func (p *Phone) CallID() string { return p.sess.InviteRequest.CallID().Value() }

// Hangup sends BYE and waits for its answer.
func (p *Phone) Hangup(ctx context.Context) error { return p.sess.Bye(ctx) }

// GotBye is closed when confd hangs up.
func (p *Phone) GotBye() <-chan struct{} { return p.bye }

// Mute stops (or resumes) the tone; RTP keeps flowing with silence.
func (p *Phone) Mute(m bool) { p.muted.Store(m) }
