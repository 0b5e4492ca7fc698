package peer

import (
	"sync/atomic"
	"time"

	"github.com/pion/interceptor"
	"go.uber.org/zap"

	"github.com/confd/confd/forwarder"
	"github.com/confd/confd/room"
)

// The echo test shows a caller its own camera as late as it plays back its
// voice (room.EchoDelay, applied to the voice by the mixer), so that the
// two stay together. A camera published in the echo room is read through a
// delayLine: the Receiver, and so every slot, key-frame request and NACK
// replay downstream, sees the publisher's stream as it was EchoDelay ago.

// delaySlots is how many packets a delayLine holds: about 1.8 s of a
// 2.5 Mbit/s camera layer, so 0.5 s fits with room for bursts. Once full,
// new packets are dropped (and counted) until the oldest leave.
const delaySlots = 512

// delayLine is a forwarder.RTPReader that returns src's packets delay
// after they arrived. fill, one of the peer's goroutines, reads src into
// preallocated slots; Read, on the Receiver's reader goroutine, hands each
// one out when its time comes. Nothing is allocated per packet.
type delayLine struct {
	src   forwarder.RTPReader
	delay time.Duration

	slots []delaySlot
	free  chan int32 // slots fill may read into
	ready chan int32 // filled slots, oldest first
	spill [forwarder.MaxPacketSize]byte
	done  chan struct{} // closed when src failed; err is set before
	err   error

	dropped atomic.Uint64
}

type delaySlot struct {
	at  time.Time // when the packet arrived
	n   int
	buf [forwarder.MaxPacketSize]byte
}

func newDelayLine(src forwarder.RTPReader, delay time.Duration) *delayLine {
	d := &delayLine{
		src:   src,
		delay: delay,
		slots: make([]delaySlot, delaySlots),
		free:  make(chan int32, delaySlots),
		ready: make(chan int32, delaySlots),
		done:  make(chan struct{}),
	}
	for i := range delaySlots {
		d.free <- int32(i)
	}
	return d
}

// fill reads src until it fails.
func (d *delayLine) fill() {
	for {
		var i int32
		select {
		case i = <-d.free:
		default: // full: this packet is lost, the older ones keep their turn
			if _, _, err := d.src.Read(d.spill[:]); err != nil {
				d.stop(err)
				return
			}
			d.dropped.Add(1)
			continue
		}
		s := &d.slots[i]
		n, _, err := d.src.Read(s.buf[:])
		if err != nil {
			d.stop(err)
			return
		}
		s.n, s.at = n, time.Now()
		d.ready <- i // never blocks: ready holds every slot
	}
}

func (d *delayLine) stop(err error) {
	d.err = err
	close(d.done)
}

// Read returns the oldest packet once it is delay old, or src's error
// once src failed (what was still delayed is dropped: the track is over).
func (d *delayLine) Read(b []byte) (int, interceptor.Attributes, error) {
	var i int32
	select {
	case i = <-d.ready:
	case <-d.done:
		return 0, nil, d.err
	}
	s := &d.slots[i]
	if wait := time.Until(s.at.Add(d.delay)); wait > 0 {
		time.Sleep(wait)
	}
	n := copy(b, s.buf[:s.n])
	d.free <- i
	return n, nil, nil
}

// cameraSource is what the Receiver of the camera track src reads: src
// itself, or in the echo test src through a delayLine whose fill runs as
// one of the peer's goroutines.
func (p *Peer) cameraSource(src forwarder.RTPReader) forwarder.RTPReader {
	m := p.Where()
	if m.Room == nil || !m.Room.Echo() {
		return src
	}
	d := newDelayLine(src, room.EchoDelay)
	started := p.spawn(func() {
		d.fill()
		if n := d.dropped.Load(); n > 0 {
			p.log.Debug("echo test: camera packets dropped behind the delay", zap.Uint64("packets", n))
		}
	})
	if !started {
		return src
	}
	return d
}
