package dialin

import (
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
)

// portRange hands out RTP/RTCP port pairs: RTP on an even port, RTCP on
// the odd one above it (RFC 3550 §11).
type portRange struct {
	min, max uint16
}

// open binds a free pair on ip, starting at a random place in the range so that
// a restarted server does not reuse the ports of calls that just ended.
func (r portRange) open(ip netip.Addr) (rtp, rtcp *net.UDPConn, port uint16, err error) {
	lo, hi := int(r.min+1)&^1, int(r.max)
	if hi <= lo {
		return nil, nil, 0, fmt.Errorf("%w: range %d-%d", ErrNoPort, r.min, r.max)
	}
	pairs := (hi - lo + 1) / 2
	start := rand.IntN(pairs)
	for i := range pairs {
		p := uint16(lo + 2*((start+i)%pairs))
		if rtp, rtcp, err = bindPair(ip, p); err == nil {
			return rtp, rtcp, p, nil
		}
	}
	return nil, nil, 0, ErrNoPort
}

func bindPair(ip netip.Addr, p uint16) (*net.UDPConn, *net.UDPConn, error) {
	rtp, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(ip, p)))
	if err != nil {
		return nil, nil, err
	}
	rtcp, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(ip, p+1)))
	if err != nil {
		_ = rtp.Close()
		return nil, nil, err
	}
	return rtp, rtcp, nil
}
