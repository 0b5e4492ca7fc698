package recorder

import "github.com/confd/confd/mixer"

// entryKind says what an entry carries.
type entryKind uint8

const (
	entryMix     entryKind = iota // the tick's mix, Opus
	entryInput                    // a member's input frame
	entryTalking                  // a member started or stopped talking
	entryVideo                    // one VP8 RTP packet's payload (descriptor removed)
)

// maxEntryPayload bounds what one entry carries: one RTP packet's payload
// or one encoded audio frame.
const maxEntryPayload = 1500

// entry is one packet or frame on its way to the recording's goroutine.
// Entries are allocated once, with the queue.
type entry struct {
	kind   entryKind
	at     int64 // mixer.Now clock
	id     int   // member ID; for video the stream's number
	codec  mixer.Codec
	status mixer.FrameStatus
	flag   bool // input: mixed; talking: talking; video: the RTP marker
	key    bool // video: the first packet of a key frame
	start  bool // video: the first packet of a frame
	layer  uint8
	seq    uint16
	ts     uint32
	n      int
	buf    [maxEntryPayload]byte
}

func (e *entry) payload() []byte { return e.buf[:e.n] }

// queue hands entries from the taps to the recording's goroutine without
// blocking either: a tap takes a free entry or drops, and an entry taken
// can always be queued, since no more exist than the channels hold.
type queue struct {
	free chan *entry
	full chan *entry
}

func newQueue(n int) *queue {
	q := &queue{free: make(chan *entry, n), full: make(chan *entry, n)}
	entries := make([]entry, n)
	for i := range entries {
		q.free <- &entries[i]
	}
	return q
}

// get takes a free entry, nil when the queue is full.
func (q *queue) get() *entry {
	select {
	case e := <-q.free:
		return e
	default:
		return nil
	}
}

// put queues e, taken with get; it never blocks.
func (q *queue) put(e *entry) { q.full <- e }

// release gives a handled entry back.
func (q *queue) release(e *entry) { q.free <- e }
