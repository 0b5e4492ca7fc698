package turnserver

import (
	"net"
	"net/netip"
	"sync"
	"time"
)

// quota counts allocations by user and by client address, and in all.
// pion asks allow before it makes an allocation and reports each one made
// and ended; between allow and made the allocation is pending, so that
// clients on several TCP connections (one goroutine each) cannot all pass
// the check at once. A pending allocation whose creation failed is
// forgotten after pendingFor.
type quota struct {
	maxTotal, maxUser, maxIP int

	mu      sync.Mutex
	byUser  map[string]int
	byIP    map[netip.Addr]int
	total   int
	pending map[string]pendingAlloc // by client address
	active  map[string]activeAlloc  // by 5-tuple
}

type pendingAlloc struct {
	user string
	ip   netip.Addr
	at   time.Time
}

type activeAlloc struct {
	user string
	ip   netip.Addr
}

// pendingFor is how long allow's count waits for the allocation it let
// through: pion makes it at once, right after asking, so a few seconds is
// only there for the case it failed (no relay port free).
const pendingFor = 5 * time.Second

func newQuota(maxTotal, maxUser, maxIP int) *quota {
	return &quota{
		maxTotal: maxTotal, maxUser: maxUser, maxIP: maxIP,
		byUser: map[string]int{}, byIP: map[netip.Addr]int{},
		pending: map[string]pendingAlloc{}, active: map[string]activeAlloc{},
	}
}

// allow is pion's QuotaHandler: false answers the Allocate with 486.
func (q *quota) allow(user string, src net.Addr, now time.Time) bool {
	ip := addrIP(src)
	key := src.String()
	q.mu.Lock()
	defer q.mu.Unlock()
	for k, p := range q.pending {
		if now.Sub(p.at) > pendingFor {
			q.dropLocked(p.user, p.ip)
			delete(q.pending, k)
		}
	}
	if p, dup := q.pending[key]; dup {
		// The client's retry after a creation that failed.
		q.dropLocked(p.user, p.ip)
		delete(q.pending, key)
	}
	if q.total >= q.maxTotal || q.byUser[user] >= q.maxUser || q.byIP[ip] >= q.maxIP {
		return false
	}
	q.total++
	q.byUser[user]++
	q.byIP[ip]++
	q.pending[key] = pendingAlloc{user: user, ip: ip, at: now}
	return true
}

// made turns the pending count of src into the allocation's.
func (q *quota) made(src, dst net.Addr, user string) {
	q.mu.Lock()
	defer q.mu.Unlock()
	p, ok := q.pending[src.String()]
	if ok {
		delete(q.pending, src.String())
	} else {
		// Counted after all (a pending entry that timed out meanwhile).
		p = pendingAlloc{user: user, ip: addrIP(src)}
		q.total++
		q.byUser[p.user]++
		q.byIP[p.ip]++
	}
	q.active[fiveTuple(src, dst)] = activeAlloc{user: p.user, ip: p.ip}
}

// ended forgets an allocation.
func (q *quota) ended(src, dst net.Addr) {
	q.mu.Lock()
	defer q.mu.Unlock()
	k := fiveTuple(src, dst)
	a, ok := q.active[k]
	if !ok {
		return
	}
	delete(q.active, k)
	q.dropLocked(a.user, a.ip)
}

func (q *quota) dropLocked(user string, ip netip.Addr) {
	q.total--
	if q.byUser[user]--; q.byUser[user] <= 0 {
		delete(q.byUser, user)
	}
	if q.byIP[ip]--; q.byIP[ip] <= 0 {
		delete(q.byIP, ip)
	}
}

// count is how many allocations there are, pending ones included.
func (q *quota) count() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.total
}

func fiveTuple(src, dst net.Addr) string { return src.String() + "/" + dst.String() }

func addrIP(a net.Addr) netip.Addr {
	switch v := a.(type) {
	case *net.UDPAddr:
		return v.AddrPort().Addr().Unmap()
	case *net.TCPAddr:
		return v.AddrPort().Addr().Unmap()
	}
	ap, err := netip.ParseAddrPort(a.String())
	if err != nil {
		return netip.Addr{}
	}
	return ap.Addr().Unmap()
}
