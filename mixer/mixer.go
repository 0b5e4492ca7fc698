package mixer

import (
	"errors"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"
)

// Events is how the mixer tells the room who talks. Its methods are called
// on the mixer's delivery goroutine, never on the tick: they may take the
// room's lock and do the room's work while the mix goes on. What they get
// is the latest state, a mailbox and not a queue: a member whose state
// changed twice since the last delivery is reported once, as it is now.
type Events interface {
	// Talking reports a member starting or stopping to talk, with its
	// loudness score (0..127).
	Talking(id int, talking bool, score int)
	// Floor reports the loudest speaker, who holds the audio floor.
	Floor(id int)
}

// Config configures a Mixer.
type Config struct {
	// Speakers is how many of the loudest members are mixed (default 3).
	Speakers int
	// MaxCatchUp bounds the ticks run at once after a late wake-up
	// (default 5, i.e. 100 ms); further missed ticks are skipped.
	MaxCatchUp int
	// EchoDelay, when set, makes the mixer an echo test (echo.go): each
	// member hears its own voice this much later, and no mix is made.
	EchoDelay time.Duration
	Events    Events
	Log       *zap.Logger
	// Burst, when set, is held across each tick's writes, so that the
	// network can send one tick's packets to every listener together.
	Burst Burster
}

// Burster gathers the packets written between Hold and Release into one
// send (medianet.Net is one).
type Burster interface {
	Hold()
	Release()
}

// noBurst is the Burster of a mixer without one.
type noBurst struct{}

func (noBurst) Hold()    {}
func (noBurst) Release() {}

// Stats are a mixer's counters.
type Stats struct {
	Ticks, Skipped, Encodes, WriteErrors uint64
	// DTXSkips counts the silent frames not sent to listeners (DTXWriter).
	DTXSkips uint64
	// Parked counts the ticks (of Ticks) that passed while the room was
	// silent and the clock slept (park.go).
	Parked uint64
}

var errClosed = errors.New("mixer: closed")

// epoch anchors Now: a monotonic clock shared by the mixer's ticks and the
// arrival times its callers pass to Push.
var epoch = time.Now()

// Now is the time to pass to Member.Push, in nanoseconds of a monotonic clock.
func Now() int64 { return int64(time.Since(epoch)) }

// Mixer is one room's audio mix.
type Mixer struct {
	cfg Config

	mu      sync.Mutex // serialises membership changes
	closed  bool
	members atomic.Pointer[[]*Member]
	gone    chan *Member // members removed, for the tick to forget

	stop chan struct{}
	done chan struct{}
	// The events mailbox: the tick writes the latest state (the members'
	// talk fields, floorID) and wakes the delivery goroutine, which calls
	// Events outside the tick.
	wake      chan struct{}
	delivered chan struct{} // closed when the delivery goroutine has ended
	floorID   atomic.Int64
	floorDue  atomic.Bool

	// Parking (park.go): parked is raised while the clock sleeps through a
	// silent room; resume wakes it.
	parked atomic.Bool
	resume chan struct{}

	// newDecoder and newEncoder make codecs; tests swap in exact ones.
	newDecoder func(Codec) (Decoder, error)
	newEncoder func(Codec) (Encoder, error)

	// Owned by the mixer goroutine.
	sel       *selector
	sum       [FrameSamples]int32
	minus     [FrameSamples]int32
	env       [FrameSamples]int32
	scratch   [FrameSamples]int16
	lastFloor int
	shared    []*output // one per (codec, volume) heard by non-speakers
	silent    [3]*output
	seq       int64 // ticks mixed or passed silent: the count DTX keep-alives keep to

	ticks, skipped, encodes, writeErrors, dtxSkips, parkedTicks atomic.Uint64
	latency                                                     histogram

	tap atomic.Pointer[tapBox] // a recorder's view of the audio (tap.go)
}

// New makes a mixer; Start runs its clock.
func New(cfg Config) *Mixer {
	if cfg.Speakers <= 0 {
		cfg.Speakers = 3
	}
	if cfg.MaxCatchUp <= 0 {
		cfg.MaxCatchUp = 5
	}
	if cfg.Log == nil {
		cfg.Log = zap.NewNop()
	}
	if cfg.Burst == nil {
		cfg.Burst = noBurst{}
	}
	m := &Mixer{
		cfg: cfg, sel: newSelector(cfg.Speakers), gone: make(chan *Member, 64),
		stop: make(chan struct{}), done: make(chan struct{}), wake: make(chan struct{}, 1), delivered: make(chan struct{}),
		resume:     make(chan struct{}, 1),
		newDecoder: NewDecoder, newEncoder: NewEncoder,
	}
	m.members.Store(&[]*Member{})
	return m
}

// Add makes a member. Its codecs' state (decoder, jitter buffer) is
// allocated here, not on the mixer goroutine.
func (m *Mixer) Add(id int, opts MemberOptions) (*Member, error) {
	mb := &Member{id: id, mix: m, opts: opts, level: -1}
	if opts.HasInput {
		dec, err := m.newDecoder(opts.In)
		if err != nil {
			return nil, err
		}
		mb.dec = dec
		mb.jb = NewJitterBuffer(JitterConfig{ClockRate: opts.In.ClockRate(), FrameTS: opts.In.FrameTimestamp()})
	}
	if opts.Writer != nil {
		enc, err := m.newEncoder(opts.Out)
		if err != nil {
			return nil, err
		}
		mb.enc = enc
	}
	if m.cfg.EchoDelay > 0 {
		mb.echo = newEchoLine(m.cfg.EchoDelay)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return nil, errClosed
	}
	old := *m.members.Load()
	next := append(slices.Clip(old), mb)
	m.members.Store(&next)
	m.unpark() // its first silent frame is due
	return mb, nil
}

// Remove takes a member out of the mix.
func (m *Mixer) Remove(mb *Member) {
	m.mu.Lock()
	defer m.mu.Unlock()
	old := *m.members.Load()
	next := slices.DeleteFunc(slices.Clone(old), func(o *Member) bool { return o == mb })
	m.members.Store(&next)
	mb.removed.Store(true)
	select {
	case m.gone <- mb:
	default: // the tick also drops removed speakers by their flag
	}
	m.unpark() // so that the tick forgets it
}

// Members is how many members the mixer has.
func (m *Mixer) Members() int { return len(*m.members.Load()) }

// Start runs the mixer's clock, and the delivery of its events, until
// Close.
func (m *Mixer) Start() {
	go m.run()
	go m.deliverEvents()
}

// Close stops the clock and waits for the mixer goroutine.
func (m *Mixer) Close() {
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return
	}
	m.closed = true
	close(m.stop)
	m.mu.Unlock()
	<-m.done
	<-m.delivered
}

// deliverEvents is the delivery goroutine: it hands the mailbox's changes to
// Events each time the tick says there are some, until Close.
func (m *Mixer) deliverEvents() {
	defer close(m.delivered)
	for {
		select {
		case <-m.stop:
			return
		case <-m.wake:
			m.deliverDue()
		}
	}
}

// deliverDue calls Events for every member whose talk state changed since
// the last delivery, then for the floor if it moved.
func (m *Mixer) deliverDue() {
	ev := m.cfg.Events
	if ev == nil {
		return
	}
	for _, mb := range *m.members.Load() {
		if mb.talkDue.Swap(false) {
			st := mb.talk.Load()
			ev.Talking(mb.id, st&1 == 1, int(st>>1))
		}
	}
	if m.floorDue.Swap(false) {
		ev.Floor(int(m.floorID.Load()))
	}
}

// poke wakes the delivery goroutine; it never blocks the tick.
func (m *Mixer) poke() {
	select {
	case m.wake <- struct{}{}:
	default: // already awake with changes to deliver
	}
}

// Latency returns the p50 and p99 of the time the server adds to a voice:
// from a speaker's packet arriving to its mix leaving for every listener.
func (m *Mixer) Latency() (p50, p99 time.Duration) {
	return m.latency.quantile(0.50), m.latency.quantile(0.99)
}

// Stats returns the mixer's counters.
func (m *Mixer) Stats() Stats {
	return Stats{Ticks: m.ticks.Load(), Skipped: m.skipped.Load(), Encodes: m.encodes.Load(), WriteErrors: m.writeErrors.Load(),
		DTXSkips: m.dtxSkips.Load(), Parked: m.parkedTicks.Load()}
}

// run is the mixer goroutine: a clock on a 20 ms grid, never clocked by
// input arrival. After a late wake-up it runs the ticks that are due, at
// most MaxCatchUp of them; older ones are skipped, so a stalled machine
// resyncs instead of bursting seconds of audio. In a silent room it parks
// (park.go): it sleeps until the next DTX keep-alive or a packet, whichever
// comes first, and stays on the same grid.
func (m *Mixer) run() {
	defer close(m.done)
	const frame = FrameMillis * time.Millisecond
	start := time.Now()
	at := func(n int64) time.Duration { return time.Until(start.Add(time.Duration(n) * frame)) }
	t := time.NewTimer(frame)
	defer t.Stop()
	var n int64 // ticks run, passed silent or skipped so far
	parked := false
	for {
		select {
		case <-m.stop:
			return
		case <-m.resume:
			if !parked {
				continue // a wake-up that raced with the end of a park
			}
			// The ticks that passed were silent; the next one mixes.
			m.cfg.Burst.Hold()
			n += m.silentTicks(int64(time.Since(start)/frame) - n)
			m.cfg.Burst.Release()
			parked = false
			m.parked.Store(false)
			t.Reset(at(n + 1))
		case now := <-t.C:
			due := int64(now.Sub(start)/frame) - n
			m.cfg.Burst.Hold()
			if parked { // the keep-alive tick
				n += m.silentTicks(due)
				m.cfg.Burst.Release()
				t.Reset(at(n + m.untilKeepalive()))
				continue
			}
			if due > int64(m.cfg.MaxCatchUp) {
				m.skipped.Add(uint64(due) - uint64(m.cfg.MaxCatchUp))
				n += due - int64(m.cfg.MaxCatchUp)
				due = int64(m.cfg.MaxCatchUp)
			}
			for range due {
				n++
				m.mixOnce(int64(start.Add(time.Duration(n) * frame).Sub(epoch)))
			}
			m.cfg.Burst.Release()
			if parked = m.park(); parked {
				t.Reset(at(n + m.untilKeepalive()))
			} else {
				t.Reset(at(n + 1))
			}
		}
	}
}
