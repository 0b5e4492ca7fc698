package dialin

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"sync"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
	"go.uber.org/zap"

	"github.com/confd/confd/room"
)

// Server is confd's SIP endpoint: it answers INVITEs for rooms and runs
// each answered call until one side hangs up.
type Server struct {
	cfg     Config
	log     *zap.Logger
	rooms   *room.Rooms
	ua      *sipgo.UserAgent
	sip     *sipgo.Server
	client  *sipgo.Client
	prompts *prompts
	guard   *guard
	relay   Relay // cluster relaying (relay.go); zero alone
	gate    *gate
	conns   *connCounter // TCP and TLS connections, shared
	ports   portRange    // RTP port pairs; each call picks its address (arrival.go)

	mu       sync.Mutex
	closed   bool
	calls    map[string]*call           // answered or answering calls, by dialog ID
	sipgoLog *logGate                   // muted at Shutdown: sipgo's log goes quiet
	contacts map[string]*sipgo.DialogUA // by transport and arrival address
	wsl      *wsListener                // hands websockets to sipgo (ws.go)
	wsConns  map[string]*wsConn         // by remote address
	webCalls map[string]*webCall        // browsers' calls, by dialog ID (webcall.go)
	binds    *registrar                 // REGISTER bindings (register.go)
	addrs    map[string]netip.AddrPort
	closers  []func() error

	callWG  sync.WaitGroup // call goroutines
	serveWG sync.WaitGroup // transport servers

	callsTotal uint64 // calls taken since start; guarded by mu
	badEnded   uint64 // RTP packets dropped by calls that ended; guarded by mu
}

// New makes a server for rooms; Start binds its listeners.
func New(cfg Config, rooms *room.Rooms, log *zap.Logger) (*Server, error) {
	cfg.defaults()
	if log == nil {
		log = zap.NewNop()
	}
	ps, err := loadPrompts()
	if err != nil {
		return nil, fmt.Errorf("dialin: prompts: %w", err)
	}
	logs := new(logGate)
	sl := newSlog(log.Named("sipgo"), logs)
	// A response that matches no transaction of confd's is a peer's
	// retransmission or noise; sipgo would log it to the process's default
	// logger at info level, reason phrase and all.
	stray := func(res *sip.Response) {
		log.Debug("sip response matches no transaction", zap.Int("status", res.StatusCode), zap.String("source", res.Source()))
	}
	var filter func(sip.TransportReadProps, []byte) ([]byte, error) // the Server's, set below
	ua, err := sipgo.NewUA(sipgo.WithUserAgent("confd"),
		sipgo.WithUserAgentTransactionLayerOptions(sip.WithTransactionLayerLogger(sl),
			sip.WithTransactionLayerUnhandledResponseHandler(stray)),
		sipgo.WithUserAgentTransportLayerOptions(sip.WithTransportLayerLogger(sl),
			sip.WithTransportLayerReadFilter(func(p sip.TransportReadProps, b []byte) ([]byte, error) { return filter(p, b) })))
	if err != nil {
		return nil, err
	}
	s := &Server{cfg: cfg, log: log, rooms: rooms, ua: ua, prompts: ps, calls: map[string]*call{}, sipgoLog: logs,
		contacts: map[string]*sipgo.DialogUA{}, addrs: map[string]netip.AddrPort{},
		wsl: newWSListener(), wsConns: map[string]*wsConn{}, webCalls: map[string]*webCall{}, binds: newRegistrar()}
	filter = s.readFilter
	s.ports = portRange{min: s.cfg.RTPPortMin, max: s.cfg.RTPPortMax}
	s.guard = newGuard(&s.cfg)
	s.gate = &gate{lim: s.cfg.Limits.wire(), stream: s.cfg.Limits.stream(), log: log}
	s.conns = newConnCounter(s.cfg.Limits.MaxConnsPerAddress, s.cfg.Limits.MaxConns)
	if s.sip, err = sipgo.NewServer(ua, sipgo.WithServerLogger(sl)); err != nil {
		return nil, err
	}
	if s.client, err = sipgo.NewClient(ua, sipgo.WithClientLogger(sl)); err != nil {
		return nil, err
	}
	s.routes()
	return s, nil
}

// routes is the method → handler table. Every handler sends its final
// response before it returns: sipgo terminates the transaction then.
// The gate (gate.go) has checked each request's syntax and version by
// then; uas adds what a user agent server checks of a request it reads.
func (s *Server) routes() {
	s.sip.OnInvite(uas(s.onInvite))
	s.sip.OnAck(s.onAck)
	s.sip.OnBye(uas(s.onBye))
	s.sip.OnCancel(s.onCancel)
	s.sip.OnOptions(uas(s.onOptions))
	s.sip.OnInfo(uas(s.onInfo))
	s.sip.OnUpdate(uas(s.onUpdate))
	s.sip.OnRegister(uas(s.onRegister))
	s.sip.OnNoRoute(uas(s.onNoRoute))
}

// uas refuses a request that requires extensions confd does not support
// with 420 and their names (RFC 3261 §8.2.2.3) before h sees it. ACK and
// CANCEL are never refused so (the same section), and are not wrapped.
func uas(h sipgo.RequestHandler) sipgo.RequestHandler {
	return func(req *sip.Request, tx sip.ServerTransaction) {
		var unsupported []string
		for _, r := range req.GetHeaders("Require") {
			for _, tag := range strings.Split(r.Value(), ",") {
				if tag = strings.TrimSpace(tag); tag != "" {
					unsupported = append(unsupported, tag)
				}
			}
		}
		if len(unsupported) > 0 {
			res := sip.NewResponseFromRequest(req, 420, "Bad Extension", nil)
			res.AppendHeader(sip.NewHeader("Unsupported", strings.Join(unsupported, ", ")))
			_ = tx.Respond(res)
			return
		}
		h(req, tx)
	}
}

// Start binds the configured listeners and serves them in the background;
// websockets the web listeners hand over (ServeWebSocket) are served from
// then on.
func (s *Server) Start() error {
	s.mu.Lock()
	s.closers = append(s.closers, s.wsl.Close)
	s.mu.Unlock()
	s.serve(func() error { return s.sip.ServeWS(s.wsl) })
	if s.cfg.UDP != "" {
		if err := s.listenUDP(s.cfg.UDP); err != nil {
			return err
		}
	}
	if s.cfg.TCP != "" {
		if err := s.listenStream("tcp", s.cfg.TCP, nil); err != nil {
			return err
		}
	}
	if s.cfg.TLS != "" && s.cfg.TLSConfig != nil {
		if err := s.listenStream("tls", s.cfg.TLS, s.cfg.TLSConfig); err != nil {
			return err
		}
	}
	return nil
}

func (s *Server) listenUDP(addr string) error {
	conn, err := net.ListenPacket("udp", addr)
	if err != nil {
		return fmt.Errorf("sip udp: %w", err)
	}
	s.bound("udp", conn.LocalAddr(), conn.Close)
	pc := newPacketConn(conn, s.gate)
	s.serve(func() error { return s.sip.ServeUDP(pc) })
	return nil
}

func (s *Server) listenStream(transport, addr string, tlsCfg *tls.Config) error {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("sip %s: %w", transport, err)
	}
	s.bound(transport, l.Addr(), l.Close)
	sl := &streamListener{Listener: l, gate: s.gate, transport: transport, tls: tlsCfg, conns: s.conns, busy: s.carriesCall}
	if tlsCfg != nil {
		s.serve(func() error { return s.sip.ServeTLS(sl) })
		return nil
	}
	s.serve(func() error { return s.sip.ServeTCP(sl) })
	return nil
}

// carriesCall reports whether a call's INVITE came from remote over
// transport: its connection then stays however quiet it is.
func (s *Server) carriesCall(transport string, remote netip.AddrPort) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, c := range s.calls {
		if c.src == remote && transportKey(c.dlg.InviteRequest.Transport()) == transport {
			return true
		}
	}
	return false
}

func (s *Server) serve(f func() error) {
	s.serveWG.Add(1)
	go func() {
		defer s.serveWG.Done()
		if err := f(); err != nil && !s.isClosed() {
			s.log.Debug("sip transport stopped", zap.Error(err))
		}
	}()
}

// bound records a listener's address and how to close it.
func (s *Server) bound(transport string, a net.Addr, closer func() error) {
	ap := addrPortOf(a)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.addrs[transport] = ap
	s.closers = append(s.closers, closer)
}

// Addr is the bound address of a transport ("udp", "tcp", "tls").
func (s *Server) Addr(transport string) (netip.AddrPort, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a, ok := s.addrs[transport]
	return a, ok
}

// announce is the address confd names in Contact and SDP for a local
// address: the public IP if configured (of the same family if there is
// one), else the address itself, else (for an unspecified one) the address
// of the default route.
func (s *Server) announce(local netip.Addr) netip.Addr {
	for _, ip := range s.cfg.PublicIPs {
		if ip.Is4() == local.Is4() {
			return ip
		}
	}
	if len(s.cfg.PublicIPs) > 0 {
		return s.cfg.PublicIPs[0]
	}
	if local.IsUnspecified() {
		if ip := outboundIP(); ip.IsValid() {
			return ip
		}
	}
	return local
}

// outboundIP is the address of the interface with the default route,
// found by connecting a UDP socket (which sends nothing).
func outboundIP() netip.Addr {
	c, err := net.Dial("udp", "192.0.2.1:9") // TEST-NET-1: never sent to
	if err != nil {
		return netip.Addr{}
	}
	defer c.Close()
	ap, err := netip.ParseAddrPort(c.LocalAddr().String())
	if err != nil {
		return netip.Addr{}
	}
	return ap.Addr()
}

func (s *Server) isClosed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closed
}

// Shutdown stops taking calls, hangs up those that are not in a room
// (rooms hang up their own members when they close), waits for every call
// to end or ctx to expire, and closes the listeners.
func (s *Server) Shutdown(ctx context.Context) {
	s.mu.Lock()
	s.closed = true
	calls := make([]*call, 0, len(s.calls))
	for _, c := range s.calls {
		calls = append(calls, c)
	}
	web := make([]*webCall, 0, len(s.webCalls))
	for _, c := range s.webCalls {
		web = append(web, c)
	}
	s.mu.Unlock()
	for _, c := range calls {
		c.Close(room.ReasonShutdown)
	}
	for _, c := range web {
		c.end("shutdown")
	}
	done := make(chan struct{})
	go func() { s.callWG.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		s.log.Warn("sip calls still ending at shutdown")
	}
	s.closeTransports(ctx)
}

// closeTransports closes the listeners, then sipgo, which closes every
// TCP and TLS connection, and waits for sipgo's serving goroutines and for
// the connections' readers to let go of them.
func (s *Server) closeTransports(ctx context.Context) {
	s.mu.Lock()
	closers := s.closers
	s.closers = nil
	s.mu.Unlock()
	for _, c := range closers {
		_ = c()
	}
	_ = s.ua.Close()
	s.serveWG.Wait()
	if !s.conns.wait(ctx) {
		s.log.Warn("sip connections still closing at shutdown")
	}
	s.sipgoLog.mute()
}

func (s *Server) register(c *call) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	s.calls[c.dlg.ID] = c
	s.callsTotal++
	s.callWG.Add(1) // under mu, so never after Shutdown began waiting
	return true
}

func (s *Server) unregister(c *call) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.calls[c.dlg.ID] == c {
		delete(s.calls, c.dlg.ID)
		if c.port != nil {
			s.badEnded += c.port.bad.Load()
		}
		s.callWG.Done()
	}
}

// lookup finds the call an in-dialog request belongs to (RFC 3261 §12.2.2).
func (s *Server) lookup(req *sip.Request) *call {
	id, err := sip.DialogIDFromRequestUAS(req)
	if err != nil {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls[id]
}

// Calls is how many calls are up or being set up, phones' and browsers'.
func (s *Server) Calls() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.calls) + len(s.webCalls)
}

// sourceOf is the address a request came from.
func sourceOf(req *sip.Request) netip.AddrPort {
	ap, err := netip.ParseAddrPort(req.Source())
	if err != nil {
		return netip.AddrPort{}
	}
	return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
}

func transportKey(t string) string {
	switch t {
	case "TCP", "tcp":
		return "tcp"
	case "TLS", "tls":
		return "tls"
	case "WS", "ws":
		return "ws"
	}
	return "udp"
}
