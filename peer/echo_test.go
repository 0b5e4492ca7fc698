package peer

import (
	"errors"
	"testing"
	"time"

	"github.com/pion/interceptor"
)

// chanReader is an RTP source fed by a test: each value is one packet.
type chanReader chan []byte

func (c chanReader) Read(b []byte) (int, interceptor.Attributes, error) {
	p, ok := <-c
	if !ok {
		return 0, nil, errors.New("track ended")
	}
	return copy(b, p), nil, nil
}

// TestDelayLine: packets come out in order, none before the delay, and
// the source's end ends the line.
func TestDelayLine(t *testing.T) {
	src := make(chanReader, 8)
	const delay = 30 * time.Millisecond
	d := newDelayLine(src, delay)
	done := make(chan struct{})
	go func() { d.fill(); close(done) }()
	sent := make([]time.Time, 5)
	for i := range sent {
		sent[i] = time.Now()
		src <- []byte{byte(i), 0xaa}
	}
	buf := make([]byte, 1500)
	for i := range sent {
		n, _, err := d.Read(buf)
		if err != nil || n != 2 || buf[0] != byte(i) {
			t.Fatalf("packet %d: %v %v", i, buf[:n], err)
		}
		if late := time.Since(sent[i]); late < delay {
			t.Fatalf("packet %d out after %v, before the %v delay", i, late, delay)
		}
	}
	close(src)
	if _, _, err := d.Read(buf); err == nil {
		t.Fatal("no error after the source ended")
	}
	<-done
}

// TestDelayLineAllocatesNothing: a packet through the line allocates
// nothing.
func TestDelayLineAllocatesNothing(t *testing.T) {
	src := make(chanReader, 1)
	d := newDelayLine(src, time.Microsecond)
	go d.fill()
	defer close(src)
	pkt, buf := make([]byte, 1200), make([]byte, 1500)
	allocs := testing.AllocsPerRun(200, func() {
		src <- pkt
		if _, _, err := d.Read(buf); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Fatalf("%v allocations per packet", allocs)
	}
}
