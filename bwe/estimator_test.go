package bwe

import (
	"math/rand/v2"
	"sync"
	"testing"
	"time"
)

// The estimator driven over a simulated path, on a simulated clock: a
// sender of 30 frames a second, a link of some capacity with a FIFO
// queue, and a receiver that writes feedback every 100 ms, encoded by
// pion's rtcp package.

const (
	simFrame    = 33_333  // µs between frames
	simFeedback = 100_000 // µs between feedback messages
	simPacket   = 1200    // octets at most in a packet
)

// simLink is one direction of the path.
type simLink struct {
	capacity   float64 // bits per second; 0: no limit
	delay      int64   // µs of propagation
	queueLimit int64   // µs of queue beyond which a packet is dropped
	jitter     int64   // µs at most added to a packet's arrival, not kept by the next
	loss       float64 // chance of a random drop
	free       int64   // µs at which the link is free again
	last       int64   // µs of the latest arrival (the link keeps order)
	rng        *rand.Rand
}

// carry returns when a packet sent at sent (µs) arrives, if it does.
func (l *simLink) carry(sent int64, size int) (int64, bool) {
	if l.loss > 0 && l.rng.Float64() < l.loss {
		return 0, false
	}
	out := sent
	if l.capacity > 0 {
		start := max(sent, l.free)
		if start-sent > l.queueLimit {
			return 0, false
		}
		l.free = start + int64(float64(size*8)/l.capacity*1e6)
		out = l.free
	}
	at := out + l.delay
	if l.jitter > 0 {
		at += l.rng.Int64N(l.jitter)
	}
	at = max(at, l.last)
	l.last = at
	return at, true
}

type simPacketState struct {
	seq     uint16
	arrival int64
	arrived bool
}

type sim struct {
	t       testing.TB
	e       *Estimator
	link    simLink
	now     int64 // µs
	rng     *rand.Rand
	sent    []simPacketState // not yet reported
	fbCount uint8
	// rate is what the sender sends, given the estimate (bits per second).
	rate func(target int) float64
	// lowest and the verdicts seen, for the tests.
	lowest   int
	overuses int
}

func newSim(t testing.TB, link simLink, rate func(int) float64) *sim {
	rng := rand.New(rand.NewPCG(11, 12))
	link.rng = rng
	e := New(Config{Initial: 2_500_000, Min: 100_000, Max: 20_000_000})
	return &sim{t: t, e: e, link: link, rng: rng, rate: rate, lowest: e.Target(), now: 1_000_000}
}

// run advances the simulation by d µs.
func (s *sim) run(d int64) {
	end := s.now + d
	nextFeedback := s.now + simFeedback
	for s.now < end {
		// One frame, its packets sent back to back.
		bytes := int(s.rate(s.e.Target()) / 8 * simFrame / 1e6)
		for bytes > 0 {
			size := min(bytes, simPacket)
			bytes -= size
			seq, _ := s.e.Stamp()
			s.e.Sent(seq, size, s.now*1000)
			at, ok := s.link.carry(s.now, size)
			s.sent = append(s.sent, simPacketState{seq: seq, arrival: at, arrived: ok})
		}
		s.now += simFrame
		for nextFeedback <= s.now {
			s.feedback(nextFeedback)
			nextFeedback += simFeedback
		}
	}
}

// feedback reports, at now, on every packet up to the newest arrived.
func (s *sim) feedback(now int64) {
	last := -1
	for i, p := range s.sent {
		if p.arrived && p.arrival <= now {
			last = i
		}
	}
	if last < 0 {
		return
	}
	reports := make([]packetReport, last+1)
	ref := int64(-1)
	for i, p := range s.sent[:last+1] {
		if !p.arrived || p.arrival > now {
			continue
		}
		if ref < 0 {
			ref = p.arrival / 64_000
		}
		reports[i] = packetReport{received: true, at: (p.arrival - ref*64_000) / 250 * 250}
	}
	pkt := encodeFeedback(s.t, s.sent[0].seq, uint32(ref)&(1<<24-1), s.fbCount, reports, s.rng)
	s.fbCount++
	s.sent = append(s.sent[:0], s.sent[last+1:]...)
	if err := s.e.Feedback(pkt, now*1000); err != nil {
		s.t.Fatalf("feedback: %v", err)
	}
	s.lowest = min(s.lowest, s.e.Target())
	if testing.Verbose() && s.fbCount%10 == 0 {
		loss, over := s.e.Congestion()
		s.t.Logf("%5.1f s: estimate %8d, loss %.2f, overuse %v, threshold %.1f", float64(now)/1e6, s.e.Target(), loss, over, s.e.delay.threshold)
	}
	if _, over := s.e.Congestion(); over {
		s.overuses++
	}
}

func constantRate(bps float64) func(int) float64 { return func(int) float64 { return bps } }

func TestJitterWithoutLossIsNotCongestion(t *testing.T) {
	// 1.5 Mbit/s over a wide path whose arrivals jitter by up to 20 ms,
	// as a busy host's scheduling does: a minute without a fall.
	s := newSim(t, simLink{capacity: 50_000_000, delay: 20_000, queueLimit: 1_000_000, jitter: 20_000}, constantRate(1_500_000))
	s.run(60_000_000)
	if s.lowest < 2_500_000 {
		t.Errorf("the estimate fell to %d bit/s (overuse seen in %d feedbacks)", s.lowest, s.overuses)
	}
	if loss, _ := s.e.Congestion(); loss != 0 {
		t.Errorf("loss %.3f, want none", loss)
	}
	if st := s.e.Stats(); st.Feedbacks < 500 || st.Unknown != 0 || st.Refused != 0 {
		t.Errorf("stats %+v", st)
	}
}

func TestQueueFillingIsOveruse(t *testing.T) {
	// The sender keeps to 2 Mbit/s over a 1 Mbit/s path: the queue grows
	// until packets drop. The estimate must come down to about what the
	// path carries within a few seconds.
	s := newSim(t, simLink{capacity: 1_000_000, delay: 20_000, queueLimit: 2_000_000}, constantRate(2_000_000))
	s.run(4_000_000)
	if s.overuses == 0 {
		t.Fatal("no overuse verdict while the queue filled")
	}
	if got := s.e.Target(); got > 1_100_000 || got < 500_000 {
		t.Errorf("estimate %d bit/s over a 1 Mbit/s path", got)
	}
}

func TestLossBringsTheEstimateDown(t *testing.T) {
	// A fifth of the packets lost at random on a wide path: the loss
	// controller cuts the estimate, and the loss shows.
	s := newSim(t, simLink{capacity: 50_000_000, delay: 20_000, queueLimit: 1_000_000, loss: 0.2}, constantRate(2_000_000))
	s.run(5_000_000)
	loss, _ := s.e.Congestion()
	if loss < 0.1 || loss > 0.3 {
		t.Errorf("loss %.3f, want about 0.2", loss)
	}
	if got := s.e.Target(); got >= 1_500_000 {
		t.Errorf("estimate %d bit/s after 5 s of 20%% loss", got)
	}
}

func TestEstimateClimbsWithWhatIsSent(t *testing.T) {
	// A sender that fills whatever the estimate allows (as a probe does)
	// over a 10 Mbit/s path climbs from 2.5 Mbit/s and settles within
	// the path's capacity.
	s := newSim(t, simLink{capacity: 10_000_000, delay: 20_000, queueLimit: 500_000}, func(target int) float64 { return float64(target) })
	s.run(40_000_000)
	if got := s.e.Target(); got < 5_000_000 || got > 12_000_000 {
		t.Errorf("estimate %d bit/s after 40 s on a 10 Mbit/s path", got)
	}
}

func TestEstimatorAllocatesNothing(t *testing.T) {
	s := newSim(t, simLink{capacity: 50_000_000, delay: 20_000, queueLimit: 1_000_000}, constantRate(1_500_000))
	s.run(2_000_000)
	if n := testing.AllocsPerRun(1000, func() {
		seq, _ := s.e.Stamp()
		s.e.Sent(seq, 1000, s.now*1000)
	}); n != 0 {
		t.Fatalf("%.1f allocations per packet sent", n)
	}
	rng := rand.New(rand.NewPCG(1, 1))
	base, _ := s.e.Stamp()
	for i := range 100 {
		s.e.Sent(base+uint16(i), 1000, s.now*1000)
	}
	reports := make([]packetReport, 100)
	for i := range reports {
		reports[i] = packetReport{received: true, at: int64(i) * 250}
	}
	pkt := encodeFeedback(t, base, 100, 1, reports, rng)
	_ = s.e.Feedback(pkt, s.now*1000)
	before := s.e.Stats().Feedbacks
	if n := testing.AllocsPerRun(100, func() {
		pkt[19]++ // the next feedback message, on the same packets
		_ = s.e.Feedback(pkt, s.now*1000)
	}); n != 0 {
		t.Fatalf("%.1f allocations per feedback", n)
	}
	if got := s.e.Stats().Feedbacks - before; got != 101 {
		t.Fatalf("%d feedbacks taken in, want 101", got)
	}
}

func TestStampIsSafeAcrossWriters(t *testing.T) {
	// Slots of one subscriber write at once while feedback comes in:
	// every packet gets its own sequence number, and the history gives
	// back each one's size.
	e := New(Config{Initial: 1_000_000, Max: 10_000_000})
	const writers, each = 4, 500
	seen := make([][]uint16, writers)
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for range each {
				seq, ext := e.Stamp()
				if uint16(ext[0])<<8|uint16(ext[1]) != seq {
					t.Errorf("extension %x for sequence number %d", ext, seq)
				}
				e.Sent(seq, 100+w, int64(seq))
				seen[w] = append(seen[w], seq)
			}
		})
	}
	wg.Go(func() {
		rng := rand.New(rand.NewPCG(2, 2))
		for range 50 {
			_ = e.Feedback(encodeFeedback(t, 0, 1, 0, randomReports(rng, 50), rng), 1)
		}
	})
	wg.Wait()
	all := map[uint16]bool{}
	for w, seqs := range seen {
		for _, seq := range seqs {
			if all[seq] {
				t.Fatalf("sequence number %d given twice", seq)
			}
			all[seq] = true
			if _, size, ok := e.hist.Load().lookup(seq); !ok || size != 100+w {
				t.Fatalf("sequence number %d: size %d, %v", seq, size, ok)
			}
		}
	}
}

func TestRTCPFindsFeedbackInACompound(t *testing.T) {
	e := New(Config{Initial: 1_000_000, Max: 10_000_000})
	rng := rand.New(rand.NewPCG(3, 3))
	seq, _ := e.Stamp()
	e.Sent(seq, 500, 0)
	rr := []byte{0x80, 201, 0, 1, 0, 0, 0, 9}
	fb := encodeFeedback(t, seq, 0, 0, []packetReport{{received: true, at: 250}}, rng)
	if err := e.RTCP(append(append(rr, fb...), rr...), 1); err != nil {
		t.Fatal(err)
	}
	if st := e.Stats(); st.Feedbacks != 1 || st.Unknown != 0 {
		t.Fatalf("stats %+v, want one feedback on a known packet", st)
	}
	// The same compound read again (by the reader of another SSRC it
	// names) is not taken in twice.
	if err := e.RTCP(append(append(rr, fb...), rr...), 2); err != nil || e.Stats().Feedbacks != 1 {
		t.Fatalf("the compound again: %v, %+v", err, e.Stats())
	}
	if err := e.RTCP(append(rr, withChunk(fb, 0x6000|1)...), 1); err != ErrBadSymbol {
		t.Fatalf("broken feedback in a compound: %v", err)
	}
}

func TestHistoryOnlyForWhatIsNumbered(t *testing.T) {
	// An Estimator of a PeerConnection that sends no video holds no
	// history; feedback it is handed reports on packets it never sent.
	e := New(Config{Initial: 1_000_000, Max: 10_000_000})
	rng := rand.New(rand.NewPCG(4, 4))
	if err := e.Feedback(encodeFeedback(t, 0, 1, 0, randomReports(rng, 10), rng), 1); err != nil {
		t.Fatal(err)
	}
	if e.hist.Load() != nil || e.Stats().Unknown != 10 {
		t.Fatalf("history %v, stats %+v", e.hist.Load() != nil, e.Stats())
	}
	e.Start()
	h := e.hist.Load()
	if h == nil {
		t.Fatal("Start made no history")
	}
	if e.Start(); e.hist.Load() != h {
		t.Fatal("a second Start made another history")
	}
}

func TestLateReportsAreNotLoss(t *testing.T) {
	// A receiver that read some packets too late for one feedback
	// reports them missing, then starts its next feedback back at the
	// first of them, reporting the packets after it again. Over many
	// rounds of that nothing is lost: the loss stays at none and the
	// acknowledged rate counts each packet once.
	e := New(Config{Initial: 1_000_000, Max: 10_000_000})
	rng := rand.New(rand.NewPCG(5, 5))
	const perRound = 40 // 100 ms of 1.92 Mbit/s in 600-octet packets
	const spacing = int64(100 * time.Millisecond / perRound)
	now := int64(1_000_000_000)
	arrived := map[uint16]int64{} // µs on the receiver's clock, by sequence number
	var pending []uint16          // reported missing, to come next round
	for round := range 50 {
		var seqs []uint16
		for i := range perRound {
			seq, _ := e.Stamp()
			e.Sent(seq, 600, now)
			seqs = append(seqs, seq)
			if i < perRound-10 || i >= perRound-5 {
				arrived[seq] = now / 1000
			}
			now += spacing
		}
		// This round's feedback starts at the first late packet of the
		// last round, which came meanwhile (the five after it come
		// again), and runs to the end of this one, five of whose last
		// ten are still to be read.
		first := seqs[0]
		for _, seq := range pending {
			arrived[seq] = now/1000 - 50_000
		}
		if len(pending) > 0 {
			first = pending[0]
		}
		var reports []packetReport
		for seq := first; seq != seqs[len(seqs)-1]+1; seq++ {
			at, ok := arrived[seq]
			reports = append(reports, packetReport{received: ok, at: (at - 1_000_000) / 250 * 250})
		}
		pending = seqs[perRound-10 : perRound-5]
		if err := e.Feedback(encodeFeedback(t, first, 0, uint8(round), reports, rng), now); err != nil {
			t.Fatal(err)
		}
	}
	loss, _ := e.Congestion()
	if loss > 0.01 {
		t.Errorf("loss %.3f from packets that only came late", loss)
	}
	// 40 packets of 600 octets a 100 ms is 1.92 Mbit/s.
	if r := e.acked.rate(); r < 1.8e6 || r > 2.05e6 {
		t.Errorf("acknowledged %.0f bit/s, want about 1.92 Mbit/s", r)
	} else {
		t.Logf("acknowledged %.0f bit/s", r)
	}
}
