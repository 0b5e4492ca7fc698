package turnserver

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync/atomic"
	"time"

	"github.com/pion/turn/v5"
	"go.uber.org/zap"
)

// Policy says which addresses are confd's media (medianet.Net is one).
type Policy interface {
	// Own reports whether ap is a live media socket; it is asked per
	// packet and must not allocate or block.
	Own(ap netip.AddrPort) bool
	// OwnIP reports whether ip is one of confd's media IPs.
	OwnIP(ip netip.Addr) bool
}

// Config is the TURN server's.
type Config struct {
	// Realm is the long-term credential realm (default "confd").
	Realm string
	// Secret keys the credentials (required). It is never logged.
	Secret string
	// CredentialTTL is how long a minted credential may start allocations
	// (default 1 h).
	CredentialTTL time.Duration
	// ListenUDP and ListenTCP are the TURN port's addresses ("" is off).
	ListenUDP, ListenTCP string
	// TLS, when set, is a listener of TURN over TLS connections whose TLS
	// is already terminated (the HTTPS port's share, from netmux).
	TLS net.Listener
	// RelayIP is where relay sockets bind, and the relayed address
	// clients are told (default 127.0.0.1: the relay talks to confd on
	// this machine only).
	RelayIP netip.Addr
	// Policy says what the relay may reach (required).
	Policy Policy
	// MaxAllocations in all (default 1000), per user: one minted
	// credential (default 10), and per client IP (default 50).
	MaxAllocations, MaxAllocationsPerUser, MaxAllocationsPerIP int
	// MaxBitrate bounds each allocation each way, in bits a second
	// (default 10 Mbit/s).
	MaxBitrate int64
	// MaxConnections is the most TURN over TCP and TLS connections at
	// once (default 1000), MaxConnectionsPerIP from one IP (default 100).
	MaxConnections, MaxConnectionsPerIP int
	// FirstRequestTimeout is how long a TCP client may take to send its
	// first request (default 10 s); IdleTimeout how long it may then stay
	// silent (default 11 min: above the 10-minute allocation lifetime
	// clients refresh within).
	FirstRequestTimeout, IdleTimeout time.Duration
	Log                              *zap.Logger

	now func() time.Time // the credentials' clock (tests)
}

// The defaults, and why. An allocation carries one PeerConnection's
// media: a browser makes one per TURN URL it is given (three for confd's
// own), a screen share a second set, and a reconnect a third while the
// old ones time out, so 10 per credential leaves room. 50 per address
// leaves room for an office behind one NAT while one host cannot take
// the whole 1000. A camera with simulcast sends under 3 Mbit/s and a
// viewer's slots receive a few more, so 10 Mbit/s each way covers a
// heavy call and stops a relay from being a bandwidth amplifier.
const (
	DefaultRealm               = "confd"
	DefaultCredentialTTL       = time.Hour
	DefaultMaxAllocations      = 1000
	DefaultMaxAllocsPerUser    = 10
	DefaultMaxAllocsPerIP      = 50
	DefaultMaxBitrate          = 10_000_000
	DefaultMaxConnections      = 1000
	DefaultMaxConnectionsPerIP = 100
	DefaultFirstRequestTimeout = 10 * time.Second
	DefaultIdleTimeout         = 11 * time.Minute
)

func (c *Config) defaults() {
	if c.Realm == "" {
		c.Realm = DefaultRealm
	}
	if c.CredentialTTL <= 0 {
		c.CredentialTTL = DefaultCredentialTTL
	}
	if !c.RelayIP.IsValid() {
		c.RelayIP = netip.MustParseAddr("127.0.0.1")
	}
	c.RelayIP = c.RelayIP.Unmap()
	setDefault(&c.MaxAllocations, DefaultMaxAllocations)
	setDefault(&c.MaxAllocationsPerUser, DefaultMaxAllocsPerUser)
	setDefault(&c.MaxAllocationsPerIP, DefaultMaxAllocsPerIP)
	setDefault(&c.MaxConnections, DefaultMaxConnections)
	setDefault(&c.MaxConnectionsPerIP, DefaultMaxConnectionsPerIP)
	if c.MaxBitrate <= 0 {
		c.MaxBitrate = DefaultMaxBitrate
	}
	if c.FirstRequestTimeout <= 0 {
		c.FirstRequestTimeout = DefaultFirstRequestTimeout
	}
	if c.IdleTimeout <= 0 {
		c.IdleTimeout = DefaultIdleTimeout
	}
	if c.Log == nil {
		c.Log = zap.NewNop()
	}
}

func setDefault(v *int, def int) {
	if *v <= 0 {
		*v = def
	}
}

// Stats counts what the server did.
type Stats struct {
	Allocations   int    // now, pending ones included
	Connections   int    // TURN over TCP and TLS connections open now
	Unauthorized  uint64 // requests answered 401 for their credential
	Forbidden     uint64 // permissions and channels to a peer not confd's (403)
	OverQuota     uint64 // allocations refused at a quota (486)
	OverLimit     uint64 // TCP and TLS connections closed at the connection limits
	Garbage       uint64 // datagrams and streams that are not TURN
	DroppedNotOwn uint64 // relayed packets dropped: not to or from confd's media
	DroppedRate   uint64 // relayed packets dropped: over the allocation's bandwidth
	RelayedIn     uint64 // bytes relayed from confd's media to clients
	RelayedOut    uint64 // bytes relayed from clients to confd's media
}

type counters struct {
	unauthorized, forbidden, overQuota, overLimit, garbage atomic.Uint64
	droppedNotOwn, droppedRate, relayedIn, relayedOut      atomic.Uint64
}

// Server is confd's TURN server (see the package doc).
type Server struct {
	cfg   Config
	creds *Credentials
	quota *quota
	pion  *turn.Server

	udp       *net.UDPConn
	tcp, tls  *listener
	live      tracker // relay sockets and client connections
	n         counters
	closeOnce atomic.Bool
}

// New starts the TURN server on its listeners.
func New(cfg Config) (*Server, error) {
	cfg.defaults()
	if cfg.Secret == "" {
		return nil, ErrNoSecret
	}
	if cfg.Policy == nil {
		return nil, errors.New("turnserver: no policy")
	}
	s := &Server{cfg: cfg, creds: NewCredentials(cfg.Secret, cfg.CredentialTTL)}
	if cfg.now != nil {
		s.creds.now = cfg.now
	}
	s.quota = newQuota(cfg.MaxAllocations, cfg.MaxAllocationsPerUser, cfg.MaxAllocationsPerIP)
	sc, err := s.listen()
	if err != nil {
		s.closeListeners()
		return nil, err
	}
	if s.pion, err = turn.NewServer(sc); err != nil {
		s.closeListeners()
		return nil, fmt.Errorf("turn: %w", err)
	}
	s.cfg.Log.Info("TURN server started", zap.Any("udp", s.UDPAddr()), zap.Any("tcp", s.TCPAddr()),
		zap.Bool("tls", s.tls != nil), zap.Stringer("relay_ip", cfg.RelayIP))
	return s, nil
}

// listen opens the TURN port and builds pion's configuration.
func (s *Server) listen() (turn.ServerConfig, error) {
	gen := relayGen{s}
	sc := turn.ServerConfig{
		Realm:         s.cfg.Realm,
		AuthHandler:   s.auth,
		QuotaHandler:  func(user, _ string, src net.Addr) bool { return s.allow(user, src) },
		LoggerFactory: pionLog{s.cfg.Log.Named("pion")},
		EventHandler: turn.EventHandler{
			OnAllocationCreated: func(src, dst net.Addr, _, user, _ string, _ net.Addr, _ int) { s.quota.made(src, dst, user) },
			OnAllocationDeleted: func(src, dst net.Addr, _, _, _ string) { s.quota.ended(src, dst) },
		},
	}
	perm := func(_ net.Addr, ip net.IP) bool {
		a, ok := netip.AddrFromSlice(ip)
		return ok && s.cfg.Policy.OwnIP(a.Unmap())
	}
	if s.cfg.ListenUDP != "" {
		ua, err := net.ResolveUDPAddr("udp", s.cfg.ListenUDP)
		if err != nil {
			return sc, fmt.Errorf("turn udp: %w", err)
		}
		if s.udp, err = net.ListenUDP("udp", ua); err != nil {
			return sc, fmt.Errorf("turn udp: %w", err)
		}
		sc.PacketConnConfigs = append(sc.PacketConnConfigs, turn.PacketConnConfig{
			PacketConn: newPacketConn(s.udp, s), RelayAddressGenerator: gen, PermissionHandler: perm,
		})
	}
	if s.cfg.ListenTCP != "" {
		l, err := net.Listen("tcp", s.cfg.ListenTCP)
		if err != nil {
			return sc, fmt.Errorf("turn tcp: %w", err)
		}
		s.tcp = newListener(l, s)
		sc.ListenerConfigs = append(sc.ListenerConfigs, turn.ListenerConfig{Listener: s.tcp, RelayAddressGenerator: gen, PermissionHandler: perm})
	}
	if s.cfg.TLS != nil {
		s.tls = newListener(s.cfg.TLS, s)
		sc.ListenerConfigs = append(sc.ListenerConfigs, turn.ListenerConfig{Listener: s.tls, RelayAddressGenerator: gen, PermissionHandler: perm})
	}
	if len(sc.PacketConnConfigs)+len(sc.ListenerConfigs) == 0 {
		return sc, errors.New("turnserver: no listener")
	}
	return sc, nil
}

// auth is pion's AuthHandler: the key of a credential confd minted. The
// filter has answered a bad one with 401 before pion sees it; this is the
// same check, for pion's own use of the key.
func (s *Server) auth(ra *turn.RequestAttributes) (string, []byte, bool) {
	user, password, err := s.creds.check(ra.Username, ra.Method != methodAllocate)
	if err != nil || ra.Realm != s.cfg.Realm {
		return "", nil, false
	}
	return user, turn.GenerateAuthKey(ra.Username, ra.Realm, password), true
}

func (s *Server) allow(user string, src net.Addr) bool {
	if s.quota.allow(user, src, time.Now()) {
		return true
	}
	s.n.overQuota.Add(1)
	return false
}

// byteRate is MaxBitrate in bytes a second.
func (s *Server) byteRate() float64 { return float64(s.cfg.MaxBitrate) / 8 }

// Credentials mints credentials for this server.
func (s *Server) Credentials() *Credentials { return s.creds }

// UDPAddr is the TURN port's bound UDP address (nil when off).
func (s *Server) UDPAddr() net.Addr {
	if s.udp == nil {
		return nil
	}
	return s.udp.LocalAddr()
}

// TCPAddr is the TURN port's bound TCP address (nil when off).
func (s *Server) TCPAddr() net.Addr {
	if s.tcp == nil {
		return nil
	}
	return s.tcp.Addr()
}

// Stats reads the counters.
func (s *Server) Stats() Stats {
	st := Stats{
		Allocations: s.quota.count(), Unauthorized: s.n.unauthorized.Load(), Forbidden: s.n.forbidden.Load(),
		OverQuota: s.n.overQuota.Load(), OverLimit: s.n.overLimit.Load(), Garbage: s.n.garbage.Load(),
		DroppedNotOwn: s.n.droppedNotOwn.Load(), DroppedRate: s.n.droppedRate.Load(),
		RelayedIn: s.n.relayedIn.Load(), RelayedOut: s.n.relayedOut.Load(),
	}
	for _, l := range []*listener{s.tcp, s.tls} {
		if l != nil {
			st.Connections += l.open()
		}
	}
	return st
}

// Close stops the server: the listeners close, every client connection
// and allocation ends, and Close waits until pion has closed every relay
// socket and client connection, or until timeout.
func (s *Server) Close(timeout time.Duration) error {
	if !s.closeOnce.CompareAndSwap(false, true) {
		return nil
	}
	err := s.pion.Close()
	s.closeListeners()
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case <-s.live.close():
	case <-t.C:
		return errors.Join(err, errors.New("turnserver: relays still open at the deadline"))
	}
	return err
}

// closeListeners closes what pion does not: the TCP and TLS connections
// it accepted (its goroutine for each ends on the read error).
func (s *Server) closeListeners() {
	for _, l := range []*listener{s.tcp, s.tls} {
		if l != nil {
			_ = l.Close()
		}
	}
	if s.pion == nil && s.udp != nil {
		_ = s.udp.Close()
	}
}
