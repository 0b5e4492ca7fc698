package forwarder

import (
	"fmt"
	"testing"

	"github.com/pion/rtp"

	"github.com/confd/confd/forwarder/forwardertest"
)

// depthBurst is a Burster that counts holds and releases.
type depthBurst struct{ depth, holds, releases int }

func (b *depthBurst) Hold()    { b.depth++; b.holds++ }
func (b *depthBurst) Release() { b.depth--; b.releases++ }

// heldWriter is a slot's writer that counts the packets written while its
// burst was held and while it was not.
type heldWriter struct {
	nopWriter
	b            *depthBurst
	held, unheld int
}

func (w *heldWriter) WriteRTP(h *rtp.Header, payload []byte) (int, error) {
	if w.b.depth > 0 {
		w.held++
	} else {
		w.unheld++
	}
	return w.nopWriter.WriteRTP(h, payload)
}

// TestFanoutIsOneBurst: a packet that goes to two slots or more is written
// to all of them inside one Hold and Release, so that a burst-capable
// network sends the copies in one system call; a packet for one slot alone
// is written without a hold.
func TestFanoutIsOneBurst(t *testing.T) {
	n := newTestNet(t)
	b := &depthBurst{}
	p := n.publisher(forwardertest.VP8Config{SSRC: 0xA, KeyframeInterval: 10}, 0)
	p.r.cfg.Burst = b
	bind := func(i int) *heldWriter {
		w := &heldWriter{b: b}
		dt := NewDownTrack(fmt.Sprintf("video%d", i), "slots")
		bindWriter(t, dt, uint32(2000+i), w)
		dt.SetSource(p.r)
		return w
	}
	lone := bind(0)
	n.run(20, p)
	if lone.held == 0 && lone.unheld == 0 {
		t.Fatal("the slot was sent nothing")
	}
	if lone.held != 0 || b.holds != 0 {
		t.Errorf("one slot: %d packets written in %d holds, want none held", lone.held, b.holds)
	}
	ws := []*heldWriter{lone, bind(1), bind(2)}
	lone.unheld = 0
	n.run(20, p)
	for i, w := range ws {
		if w.held == 0 || w.unheld != 0 {
			t.Errorf("slot %d of three: %d packets written held, %d not", i, w.held, w.unheld)
		}
	}
	if b.depth != 0 || b.holds != b.releases || b.holds != ws[0].held {
		t.Errorf("%d holds, %d releases (depth %d) for %d packets sent to three slots", b.holds, b.releases, b.depth, ws[0].held)
	}
}
