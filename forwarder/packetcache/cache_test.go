package packetcache

import (
	"bytes"
	"sync"
	"testing"
)

// packet builds a distinguishable fake packet for seq.
func packet(seq uint16, size int) []byte {
	p := make([]byte, size)
	for i := range p {
		p[i] = byte(int(seq) + i*7)
	}
	return p
}

func expectPacket(t *testing.T, c *Cache, seq uint16, want []byte) {
	t.Helper()
	dst := make([]byte, BufSize)
	n, ok := c.Get(seq, dst)
	if !ok {
		t.Fatalf("Get(%d): missing", seq)
	}
	if !bytes.Equal(dst[:n], want) {
		t.Fatalf("Get(%d): wrong bytes", seq)
	}
}

func expectMissing(t *testing.T, c *Cache, seq uint16) {
	t.Helper()
	if n, ok := c.Get(seq, make([]byte, BufSize)); ok {
		t.Fatalf("Get(%d) = %d, true; want missing", seq, n)
	}
}

func TestCapacityRounding(t *testing.T) {
	tests := []struct{ in, want int }{
		{-5, 1}, {0, 1}, {1, 1}, {2, 2}, {3, 4}, {500, 512}, {512, 512}, {513, 1024},
		{1 << 16, 1 << 16}, {1<<16 + 1, 1 << 16},
	}
	for _, tt := range tests {
		if got := roundCapacity(tt.in); got != tt.want {
			t.Errorf("roundCapacity(%d) = %d, want %d", tt.in, got, tt.want)
		}
	}
	if got := New(100).Capacity(); got != 128 {
		t.Errorf("New(100).Capacity() = %d, want 128", got)
	}
}

func TestStoreGet(t *testing.T) {
	c := New(8)
	expectMissing(t, c, 0)
	for seq := uint16(100); seq < 108; seq++ {
		c.Store(seq, packet(seq, 100+int(seq)))
	}
	for seq := uint16(100); seq < 108; seq++ {
		expectPacket(t, c, seq, packet(seq, 100+int(seq)))
	}
	expectMissing(t, c, 108)
	expectMissing(t, c, 99)
}

func TestStoreReplacesSameSeq(t *testing.T) {
	c := New(4)
	c.Store(7, packet(7, 1000))
	c.Store(7, packet(70, 20))
	expectPacket(t, c, 7, packet(70, 20))
}

func TestOverwriteAfterRingWrap(t *testing.T) {
	c := New(4)
	for seq := uint16(0); seq < 6; seq++ {
		c.Store(seq, packet(seq, 50))
	}
	expectMissing(t, c, 0)
	expectMissing(t, c, 1)
	for seq := uint16(2); seq < 6; seq++ {
		expectPacket(t, c, seq, packet(seq, 50))
	}
}

func TestSequenceWrap(t *testing.T) {
	c := New(8)
	for i := 0; i < 6; i++ {
		seq := uint16(65533 + i) // 65533, 65534, 65535, 0, 1, 2
		c.Store(seq, packet(seq, 60))
	}
	for i := 0; i < 6; i++ {
		seq := uint16(65533 + i)
		expectPacket(t, c, seq, packet(seq, 60))
	}
	// The slot of 65533 (index 5) must not answer for 5, nor 65535 for 7.
	expectMissing(t, c, 5)
	expectMissing(t, c, 7)
}

func TestOversizeRefused(t *testing.T) {
	c := New(4)
	c.Store(1, packet(1, 40))
	c.Store(1, packet(2, BufSize+1))
	expectPacket(t, c, 1, packet(1, 40))
	c.Store(2, packet(2, BufSize+1))
	expectMissing(t, c, 2)
	c.Store(3, packet(3, BufSize))
	expectPacket(t, c, 3, packet(3, BufSize))
}

func TestGetSmallDst(t *testing.T) {
	c := New(4)
	c.Store(9, packet(9, 200))
	dst := bytes.Repeat([]byte{0xee}, 199)
	if n, ok := c.Get(9, dst); ok || n != 0 {
		t.Fatalf("Get into 199 bytes = %d, %v; want 0, false", n, ok)
	}
	if !bytes.Equal(dst, bytes.Repeat([]byte{0xee}, 199)) {
		t.Error("Get modified dst on failure")
	}
	n, ok := c.Get(9, make([]byte, 200))
	if !ok || n != 200 {
		t.Fatalf("Get into 200 bytes = %d, %v", n, ok)
	}
}

// TestConcurrent runs one writer against several readers; run it with -race.
// Readers check that whatever they get is a complete packet for that seq.
func TestConcurrent(t *testing.T) {
	c := New(64)
	const total = 20000
	var wg sync.WaitGroup
	for r := 0; r < 4; r++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			readLoop(t, c, total)
		}()
	}
	for i := 0; i < total; i++ {
		seq := uint16(i)
		c.Store(seq, packet(seq, 64+int(seq%512)))
	}
	wg.Wait()
}

func readLoop(t *testing.T, c *Cache, total int) {
	dst := make([]byte, BufSize)
	for i := 0; i < total; i++ {
		seq := uint16(i)
		n, ok := c.Get(seq, dst)
		if ok && !bytes.Equal(dst[:n], packet(seq, 64+int(seq%512))) {
			t.Errorf("seq %d: torn or wrong packet", seq)
			return
		}
	}
}

func TestNoAllocations(t *testing.T) {
	c := New(512)
	pkt := packet(1, 1200)
	dst := make([]byte, BufSize)
	seq := uint16(0)
	if n := testing.AllocsPerRun(1000, func() { seq++; c.Store(seq, pkt) }); n != 0 {
		t.Errorf("Store: %v allocations", n)
	}
	if n := testing.AllocsPerRun(1000, func() { c.Get(seq, dst); seq-- }); n != 0 {
		t.Errorf("Get: %v allocations", n)
	}
}

func BenchmarkStore(b *testing.B) {
	c := New(1024)
	pkt := packet(1, 1200)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		c.Store(uint16(i), pkt)
	}
}

func BenchmarkGet(b *testing.B) {
	c := New(1024)
	for i := 0; i < 1024; i++ {
		c.Store(uint16(i), packet(uint16(i), 1200))
	}
	dst := make([]byte, BufSize)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		c.Get(uint16(i&1023), dst)
	}
}
