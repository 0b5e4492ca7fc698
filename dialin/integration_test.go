package dialin_test

import (
	"context"
	"net/netip"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"

	"github.com/confd/confd/dialin"
	"github.com/confd/confd/dialin/dialintest"
	"github.com/confd/confd/room"
)

// harness runs a dialin.Server on loopback and the phones that call it.
type harness struct {
	once   sync.Once
	t      *testing.T
	srv    *dialin.Server
	rooms  *room.Rooms
	phones []*dialintest.Phone
}

// newHarness starts a server for rooms; mutate adjusts its config first.
// At cleanup the rooms close (phones get BYE), the server stops, and only
// then the phones go away.
func newHarness(t *testing.T, rooms []room.Config, mutate func(*dialin.Config)) *harness {
	t.Helper()
	return newHarnessWith(t, rooms, mutate, nil)
}

// newHarnessWith is newHarness with setup applied to the server before it
// starts (SetRelay).
func newHarnessWith(t *testing.T, rooms []room.Config, mutate func(*dialin.Config), setup func(*dialin.Server)) *harness {
	t.Helper()
	rs, err := room.New(rooms, zaptest.NewLogger(t).Named("room"))
	if err != nil {
		t.Fatal(err)
	}
	cfg := dialin.Config{
		UDP: "127.0.0.1:0", TCP: "127.0.0.1:0", RTPIP: netip.MustParseAddr("127.0.0.1"),
		Trunks: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")},
	}
	if mutate != nil {
		mutate(&cfg)
	}
	s, err := dialin.New(cfg, rs, zaptest.NewLogger(t).Named("sip"))
	if err != nil {
		t.Fatal(err)
	}
	if setup != nil {
		setup(s)
	}
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	h := &harness{t: t, srv: s, rooms: rs}
	t.Cleanup(h.close)
	return h
}

func (h *harness) close() { h.once.Do(h.shutdown) }

func (h *harness) shutdown() {
	h.rooms.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	h.srv.Shutdown(ctx)
	for _, p := range h.phones {
		p.Close()
	}
}

func (h *harness) addr(transport string) netip.AddrPort {
	h.t.Helper()
	a, ok := h.srv.Addr(transport)
	if !ok {
		h.t.Fatalf("no %s listener", transport)
	}
	return a
}

// tryDial calls and returns the phone or the error.
func (h *harness) tryDial(ctx context.Context, opts dialintest.Options) (*dialintest.Phone, error) {
	tr := opts.Transport
	if tr == "" {
		tr = "udp"
	}
	p, err := dialintest.Dial(ctx, h.addr(tr), opts)
	if err == nil {
		h.phones = append(h.phones, p)
	}
	return p, err
}

func (h *harness) dial(ctx context.Context, opts dialintest.Options) *dialintest.Phone {
	h.t.Helper()
	p, err := h.tryDial(ctx, opts)
	if err != nil {
		h.t.Fatalf("dial %s: %v", opts.Dest, err)
	}
	return p
}

// room looks a room up.
func (h *harness) room(number string) *room.Room {
	h.t.Helper()
	r, err := h.rooms.Lookup(number)
	if err != nil {
		h.t.Fatal(err)
	}
	return r
}

// waitFor polls cond until it holds or ctx ends.
func waitFor(ctx context.Context, t *testing.T, what string, cond func() bool) {
	t.Helper()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		select {
		case <-ctx.Done():
			t.Fatalf("timed out waiting for %s", what)
		case <-tick.C:
		}
	}
}

// untilSilent waits until p has heard 200 ms of digital silence: the
// prompt it was playing (if any) is over and nobody else speaks.
func untilSilent(ctx context.Context, t *testing.T, p *dialintest.Phone) {
	t.Helper()
	waitFor(ctx, t, "silence", func() bool {
		pcm, _ := p.Heard()
		if len(pcm) < 1600 {
			return false
		}
		for _, v := range pcm[len(pcm)-1600:] {
			if v > 8 || v < -8 { // A-law has no zero: ±8
				return false
			}
		}
		return true
	})
}

// untilHears waits until the last 200 ms p heard carry hz.
func untilHears(ctx context.Context, t *testing.T, p *dialintest.Phone, hz float64) {
	t.Helper()
	waitFor(ctx, t, "the tone", func() bool {
		pcm, _ := p.Heard()
		return len(pcm) >= 1600 && dialintest.ToneLevel(pcm[len(pcm)-1600:], hz) > presentDB
	})
}

// listen forgets what the phones heard and waits for a second more.
func listen(ctx context.Context, t *testing.T, phones ...*dialintest.Phone) {
	t.Helper()
	for _, p := range phones {
		p.ResetHeard()
	}
	for _, p := range phones {
		waitFor(ctx, t, "a second of audio", func() bool {
			pcm, _ := p.Heard()
			return len(pcm) >= 8000
		})
	}
}

const (
	presentDB = -35.0 // a loaded machine conceals late packets: -25 dB was seen
	absentDB  = -45.0
)

func hears(t *testing.T, who string, p *dialintest.Phone, hz float64, present bool) {
	t.Helper()
	pcm, _ := p.Heard()
	level := dialintest.ToneLevelBlocks(pcm, hz)
	t.Logf("%s hears %v Hz at %.1f dB", who, hz, level)
	switch {
	case present && level < presentDB:
		t.Errorf("%s: %v Hz at %.1f dB, want it heard (> %.0f dB)", who, hz, level, presentDB)
	case !present && level > absentDB:
		t.Errorf("%s: %v Hz at %.1f dB, want it absent (< %.0f dB)", who, hz, level, absentDB)
	}
}

// TestIntegrationTwoPhonesHearEachOther: two phones call 3500, one in
// PCMU with 440 Hz, one in PCMA with 880 Hz; each hears the other's tone
// and not its own. Both appear in the room as phones, caller ID masked.
func TestIntegrationTwoPhonesHearEachOther(t *testing.T) {
	h := newHarness(t, []room.Config{{Number: "3500"}}, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	a := h.dial(ctx, dialintest.Options{Dest: "3500", Codecs: []string{"PCMU"}, ToneHz: 440, From: "5550001111"})
	untilSilent(ctx, t, a) // alone at first, a was told so
	b := h.dial(ctx, dialintest.Options{Dest: "3500", Codecs: []string{"PCMA"}, ToneHz: 880, From: "5550002222"})
	untilHears(ctx, t, a, 880)
	listen(ctx, t, a, b)
	hears(t, "a", a, 880, true)
	hears(t, "a", a, 440, false)
	hears(t, "b", b, 440, true)
	hears(t, "b", b, 880, false)

	for _, m := range h.room("3500").Members() {
		if m.Info.Kind != room.KindPhone || m.Info.Name != "Phone user" {
			t.Errorf("member %+v: want a phone named Phone user", m.Info)
		}
		if m.Info.Number != "•••• 1111" && m.Info.Number != "•••• 2222" {
			t.Errorf("caller ID shown as %q, want it masked", m.Info.Number)
		}
	}
}
