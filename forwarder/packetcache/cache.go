// Package packetcache keeps the most recent RTP packets of one stream so that
// packets a receiver reports lost (RTCP generic NACK, RFC 4585 §6.2.1) can be
// sent again. All memory is allocated up front: storing and replaying packets
// never allocates.
package packetcache

import "sync"

// BufSize is the size of one slot: the largest RTP packet (header and
// payload, RFC 3550 §5.1) the cache keeps. It matches the common Ethernet MTU,
// which no packet that reached us over UDP can exceed in practice.
const BufSize = 1500

// maxCapacity is the number of distinct RTP sequence numbers (they are 16
// bits, RFC 3550 §5.1); more slots could never be addressed.
const maxCapacity = 1 << 16

// slot records which packet a region of the buffer holds.
type slot struct {
	seq   uint16 // sequence number the slot was written for
	n     int    // packet length
	valid bool   // false until the first Store into the slot
}

// Cache keeps the last Capacity packets of one RTP stream in fixed
// preallocated slots, indexed by sequence number. Safe for one writer and
// concurrent readers (small mutex; no allocation after New).
type Cache struct {
	mu    sync.RWMutex
	mask  int
	slots []slot
	buf   []byte // len(slots) regions of BufSize bytes
}

// New returns a cache with room for capacity packets. capacity is rounded up
// to a power of two, so a slot is found by masking the sequence number, and
// clamped to [1, 65536].
func New(capacity int) *Cache {
	n := roundCapacity(capacity)
	return &Cache{
		mask:  n - 1,
		slots: make([]slot, n),
		buf:   make([]byte, n*BufSize),
	}
}

func roundCapacity(capacity int) int {
	n := 1
	for n < capacity && n < maxCapacity {
		n <<= 1
	}
	return n
}

// Capacity returns the number of slots.
func (c *Cache) Capacity() int {
	return len(c.slots)
}

// region returns the buffer space of slot i.
func (c *Cache) region(i int) []byte {
	return c.buf[i*BufSize : (i+1)*BufSize]
}

// Store copies pkt, a whole RTP packet, into the slot for seq, replacing
// whatever the slot held. Packets larger than BufSize are dropped.
func (c *Cache) Store(seq uint16, pkt []byte) {
	if len(pkt) > BufSize {
		return
	}
	i := int(seq) & c.mask
	c.mu.Lock()
	copy(c.region(i), pkt)
	c.slots[i] = slot{seq: seq, n: len(pkt), valid: true}
	c.mu.Unlock()
}

// Get copies the packet stored for exactly seq into dst and returns its
// length. It reports false when no packet for seq is held (never stored, or
// its slot has since been reused for a later sequence number) or when dst is
// shorter than the packet; dst is then left unchanged.
func (c *Cache) Get(seq uint16, dst []byte) (int, bool) {
	i := int(seq) & c.mask
	c.mu.RLock()
	defer c.mu.RUnlock()
	s := c.slots[i]
	if !s.valid || s.seq != seq || len(dst) < s.n {
		return 0, false
	}
	return copy(dst, c.region(i)[:s.n]), true
}
