package recorder

import (
	"sync"
	"sync/atomic"

	"github.com/confd/confd/forwarder"
	"github.com/confd/confd/mixer"
	"github.com/confd/confd/room"
)

// The taps run on other packages' goroutines (the mixer's tick, the
// cameras' readers, whoever holds a room's lock). Each copies what it is
// handed into the queue, or drops it and counts, and returns: none waits.

// mixTap is the recording's mixer.Tap.
type mixTap struct{ rec *recording }

// Input implements mixer.Tap: member inputs, not the join and leave tones.
func (t mixTap) Input(now int64, id int, codec mixer.Codec, status mixer.FrameStatus, payload []byte, mixed bool) {
	if id <= 0 {
		return
	}
	e := t.rec.take()
	if e == nil {
		return
	}
	e.kind, e.at, e.id, e.codec, e.status, e.flag = entryInput, now, id, codec, status, mixed
	e.n = copy(e.buf[:], payload)
	t.rec.q.put(e)
}

// Mix implements mixer.Tap.
func (t mixTap) Mix(now int64, payload []byte) {
	e := t.rec.take()
	if e == nil {
		return
	}
	e.kind, e.at = entryMix, now
	e.n = copy(e.buf[:], payload)
	t.rec.q.put(e)
}

// Talking implements mixer.Tap.
func (t mixTap) Talking(now int64, id int, talking bool) {
	if id <= 0 {
		return
	}
	e := t.rec.take()
	if e == nil {
		return
	}
	e.kind, e.at, e.id, e.flag, e.n = entryTalking, now, id, talking, 0
	t.rec.q.put(e)
}

// videoSink records one camera or screen share: a forwarder.Sink on its
// Receiver that copies the packets of the layers the recording's
// goroutine asks for (mask) into the queue.
type videoSink struct {
	rec    *recording
	stream int // the recording's number for this camera
	member room.MemberRef
	recv   *forwarder.Receiver
	mask   atomic.Uint32 // bit i: copy layer i's packets
}

// WriteRTP implements forwarder.Sink on the layer's reader goroutine.
func (s *videoSink) WriteRTP(p *forwarder.Packet, _ *forwarder.Scratch) {
	if s.mask.Load()&(1<<p.Layer) == 0 || len(p.Payload) <= p.VP8.Size {
		return // another layer, or padding
	}
	e := s.rec.take()
	if e == nil {
		return
	}
	e.kind, e.at, e.id, e.layer = entryVideo, mixer.Now(), s.stream, uint8(p.Layer)
	e.seq, e.ts, e.flag = p.Header.SequenceNumber, p.Header.Timestamp, p.Header.Marker
	e.key, e.start = p.Keyframe, p.VP8.Start && p.VP8.PartitionID == 0
	e.n = copy(e.buf[:], p.Payload[p.VP8.Size:])
	s.rec.q.put(e)
}

// control is what the room's tap hands the recording's goroutine: an
// activity, or a camera that started or ended.
type control struct {
	at       int64
	activity *room.Activity
	started  *videoSink
	ended    *videoSink
}

// roomTap is the recording's room.Tap. It keeps the camera sinks, which
// it attaches and detaches itself (under the room's lock, so no packet of
// a camera is missed between its publication and the recording hearing
// of it).
type roomTap struct {
	rec *recording

	mu       sync.Mutex
	sinks    map[*forwarder.Receiver]*videoSink
	streams  int
	detached bool
}

// Activity implements room.ActivitySink.
func (t *roomTap) Activity(a room.Activity) {
	t.rec.post(control{at: mixer.Now(), activity: &a})
}

// Published implements room.Tap: the camera's packets are copied from now
// on (as soon as the recording's goroutine chooses a layer).
func (t *roomTap) Published(m room.MemberRef, recv *forwarder.Receiver) {
	t.mu.Lock()
	if t.detached || t.sinks[recv] != nil {
		t.mu.Unlock()
		return
	}
	t.streams++
	s := &videoSink{rec: t.rec, stream: t.streams, member: m, recv: recv}
	t.sinks[recv] = s
	t.mu.Unlock()
	recv.AddSink(s)
	t.rec.post(control{at: mixer.Now(), started: s})
}

// Unpublished implements room.Tap.
func (t *roomTap) Unpublished(_ room.MemberRef, recv *forwarder.Receiver) {
	t.mu.Lock()
	s := t.sinks[recv]
	delete(t.sinks, recv)
	t.mu.Unlock()
	if s == nil {
		return
	}
	recv.RemoveSink(s)
	recv.Want(s, 0)
	t.rec.post(control{at: mixer.Now(), ended: s})
}

// detach takes every sink off its camera; no new one is attached after.
func (t *roomTap) detach() {
	t.mu.Lock()
	t.detached = true
	sinks := t.sinks
	t.sinks = map[*forwarder.Receiver]*videoSink{}
	t.mu.Unlock()
	for recv, s := range sinks {
		recv.RemoveSink(s)
		recv.Want(s, 0)
	}
}
