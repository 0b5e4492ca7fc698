package medianet

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/pion/transport/v4"
	"github.com/pion/transport/v4/stdnet"
)

// Config says which addresses are confd's media.
type Config struct {
	// LoopbackOnly: gather on loopback only, and bind loopback where an
	// unspecified address is asked for (tests).
	LoopbackOnly bool
	// IncludeLoopback: loopback addresses are confd's too.
	IncludeLoopback bool
	// PublicIPs are confd's public addresses (1:1 NAT).
	PublicIPs []string
}

// ErrNoPublicIP refuses a server-reflexive socket for an IP family that
// has no public address.
var ErrNoPublicIP = errors.New("medianet: no public address of this family")

// refreshEvery is how stale the interface list may get: gathering reads
// it for every call, and re-reading it each time costs a netlink dump.
const refreshEvery = 10 * time.Second

// Net is confd's media network (see the package doc).
type Net struct {
	cfg    Config
	public []netip.Addr

	mu        sync.Mutex // serializes refreshes of std's interface list
	std       *stdnet.Net
	refreshed time.Time
	ips       atomic.Pointer[[]netip.Addr] // confd's IPs, swapped whole

	ports [1 << 16]atomic.Int32 // open media sockets per UDP port

	b bursts // burst.go
}

var _ transport.Net = (*Net)(nil)

// New reads the host's interfaces and returns the Net.
func New(cfg Config) (*Net, error) {
	n := &Net{cfg: cfg}
	for _, s := range cfg.PublicIPs {
		ip, err := netip.ParseAddr(s)
		if err != nil {
			return nil, fmt.Errorf("public ip %q: %w", s, err)
		}
		n.public = append(n.public, ip.Unmap())
	}
	std, err := stdnet.NewNet()
	if err != nil {
		return nil, err
	}
	n.std = std
	n.refreshed = time.Now()
	n.setIPs()
	return n, nil
}

// Own reports whether ap is one of confd's live media sockets: an IP of
// OwnIP and a port a media socket has open. It allocates nothing and takes
// no lock (the TURN relay asks it for every packet).
func (n *Net) Own(ap netip.AddrPort) bool {
	return n.ports[ap.Port()].Load() > 0 && n.OwnIP(ap.Addr())
}

// OwnIP reports whether ip is one confd gathers on or announces.
func (n *Net) OwnIP(ip netip.Addr) bool {
	ip = ip.Unmap()
	for _, a := range *n.ips.Load() {
		if a == ip {
			return true
		}
	}
	return false
}

// IPs are confd's media IPs as OwnIP knows them now.
func (n *Net) IPs() []netip.Addr { return append([]netip.Addr(nil), *n.ips.Load()...) }

// OpenPorts counts the media sockets open now.
func (n *Net) OpenPorts() int {
	total := 0
	for i := range n.ports {
		total += int(n.ports[i].Load())
	}
	return total
}

// setIPs recomputes the IP set from std's interface list (n.mu held, or
// from New).
func (n *Net) setIPs() {
	ips := append([]netip.Addr(nil), n.public...)
	ifaces, _ := n.std.Interfaces()
	for _, ifc := range ifaces {
		addrs, _ := ifc.Addrs()
		for _, a := range addrs {
			ip, ok := addrIP(a)
			if ok && n.gathers(ip) {
				ips = append(ips, ip)
			}
		}
	}
	n.ips.Store(&ips)
}

func (n *Net) gathers(ip netip.Addr) bool {
	if ip.IsLoopback() {
		return n.cfg.LoopbackOnly || n.cfg.IncludeLoopback
	}
	return !n.cfg.LoopbackOnly
}

func addrIP(a net.Addr) (netip.Addr, bool) {
	var ip net.IP
	switch v := a.(type) {
	case *net.IPNet:
		ip = v.IP
	case *net.IPAddr:
		ip = v.IP
	default:
		return netip.Addr{}, false
	}
	addr, ok := netip.AddrFromSlice(ip)
	return addr.Unmap(), ok
}

// Interfaces is the host's interface list, read again when stale.
func (n *Net) Interfaces() ([]*transport.Interface, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if time.Since(n.refreshed) > refreshEvery {
		if err := n.std.UpdateInterfaces(); err == nil {
			n.refreshed = time.Now()
			n.setIPs()
		}
	}
	return n.std.Interfaces()
}

// InterfaceByIndex is std's.
func (n *Net) InterfaceByIndex(index int) (*transport.Interface, error) {
	return n.std.InterfaceByIndex(index)
}

// InterfaceByName is std's.
func (n *Net) InterfaceByName(name string) (*transport.Interface, error) {
	return n.std.InterfaceByName(name)
}

// ListenUDP opens a media socket.
func (n *Net) ListenUDP(network string, laddr *net.UDPAddr) (transport.UDPConn, error) {
	if laddr == nil {
		laddr = &net.UDPAddr{}
	}
	unspecified := laddr.IP == nil || laddr.IP.IsUnspecified()
	if unspecified && laddr.Port == 0 && len(n.public) > 0 && !n.publicFamily(network) {
		// pion opens a server-reflexive socket per IP family for the
		// public addresses, on the unspecified address; for a family no
		// public address belongs to, it would announce the socket's own
		// address as server-reflexive (0.0.0.0, ::). Nothing else of
		// confd's media binds an unspecified address on any port.
		return nil, fmt.Errorf("%w: %s", ErrNoPublicIP, network)
	}
	if n.cfg.LoopbackOnly && (laddr.IP == nil || laddr.IP.IsUnspecified()) {
		bound := *laddr
		bound.IP = net.IPv4(127, 0, 0, 1)
		if network == "udp6" || laddr.IP != nil && laddr.IP.To4() == nil {
			bound.IP = net.IPv6loopback
		}
		laddr = &bound
	}
	c, err := net.ListenUDP(network, laddr)
	if err != nil {
		return nil, err
	}
	mc := &conn{UDPConn: c, n: n, port: uint16(c.LocalAddr().(*net.UDPAddr).Port)}
	mc.raw, mc.v6 = rawConn(c)
	n.ports[mc.port].Add(1)
	return mc, nil
}

// publicFamily reports whether a public address is of network's family.
func (n *Net) publicFamily(network string) bool {
	for _, ip := range n.public {
		if network == "udp" || ip.Is4() == (network == "udp4") {
			return true
		}
	}
	return false
}

// ListenPacket opens a UDP media socket for the udp networks; others are
// std's.
func (n *Net) ListenPacket(network, address string) (net.PacketConn, error) {
	switch network {
	case "udp", "udp4", "udp6":
		a, err := net.ResolveUDPAddr(network, address)
		if err != nil {
			return nil, err
		}
		return n.ListenUDP(network, a)
	}
	return n.std.ListenPacket(network, address)
}

// ListenTCP is std's.
func (n *Net) ListenTCP(network string, laddr *net.TCPAddr) (transport.TCPListener, error) {
	return n.std.ListenTCP(network, laddr)
}

// Dial is std's.
func (n *Net) Dial(network, address string) (net.Conn, error) { return n.std.Dial(network, address) }

// DialUDP is std's.
func (n *Net) DialUDP(network string, laddr, raddr *net.UDPAddr) (transport.UDPConn, error) {
	return n.std.DialUDP(network, laddr, raddr)
}

// DialTCP is std's.
func (n *Net) DialTCP(network string, laddr, raddr *net.TCPAddr) (transport.TCPConn, error) {
	return n.std.DialTCP(network, laddr, raddr)
}

// ResolveIPAddr is std's.
func (n *Net) ResolveIPAddr(network, address string) (*net.IPAddr, error) {
	return n.std.ResolveIPAddr(network, address)
}

// ResolveUDPAddr is std's.
func (n *Net) ResolveUDPAddr(network, address string) (*net.UDPAddr, error) {
	return n.std.ResolveUDPAddr(network, address)
}

// ResolveTCPAddr is std's.
func (n *Net) ResolveTCPAddr(network, address string) (*net.TCPAddr, error) {
	return n.std.ResolveTCPAddr(network, address)
}

// CreateDialer is std's.
func (n *Net) CreateDialer(d *net.Dialer) transport.Dialer { return n.std.CreateDialer(d) }

// CreateListenConfig is std's.
func (n *Net) CreateListenConfig(c *net.ListenConfig) transport.ListenConfig {
	return n.std.CreateListenConfig(c)
}

// conn is a media socket: counted by port until it closes.
type conn struct {
	*net.UDPConn
	n      *Net
	port   uint16
	closed atomic.Bool
	// Bursts (burst.go): the descriptor sendmmsg writes to, the queue of a
	// burst, and whether the socket is on its Net's list of queues to send.
	raw   syscall.RawConn
	v6    bool
	mu    sync.Mutex // guards q
	q     *queue
	dirty atomic.Bool
}

// Close closes the socket; the port stops counting as confd's.
func (c *conn) Close() error {
	if c.closed.CompareAndSwap(false, true) {
		c.n.ports[c.port].Add(-1)
	}
	return c.UDPConn.Close()
}

// ReadFromAddrPort is pion's allocation-free read (ice.AddrPortReaderWriter).
func (c *conn) ReadFromAddrPort(b []byte) (int, netip.AddrPort, error) {
	return c.UDPConn.ReadFromUDPAddrPort(b)
}

// WriteToAddrPort is pion's allocation-free write.
func (c *conn) WriteToAddrPort(b []byte, a netip.AddrPort) (int, error) {
	if c.queueWrite(b, a) {
		return len(b), nil
	}
	return c.UDPConn.WriteToUDPAddrPort(b, a)
}
