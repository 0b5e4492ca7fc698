package dialin_test

import (
	"context"
	"fmt"
	"net"
	"syscall"
	"testing"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"

	"github.com/confd/confd/dialin/dialintest"
	"github.com/confd/confd/room"
)

// cpuTime is the process's user+system CPU time so far (getrusage): on a
// shared machine wall time says little about cost.
func cpuTime(b *testing.B) time.Duration {
	b.Helper()
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkPhoneLeg measures the CPU one phone leg costs in steady state:
// RTP in, jitter buffer and G.711 decode, its share of the mix, the encode
// and RTP out, for legs phones in one room over loopback UDP, all sending
// a tone (so every leg is a talker the selector weighs; 3 are mixed).
// Each iteration is one second of call. The figure includes the test
// phones' own socket I/O (they do no codec work), so it is an upper bound.
func BenchmarkPhoneLeg(b *testing.B) {
	for _, legs := range []int{10, 50} {
		b.Run(fmt.Sprintf("legs=%d", legs), func(b *testing.B) { benchLegs(b, legs) })
	}
}

func benchLegs(b *testing.B, legs int) {
	h := newBenchHarness(b, []room.Config{{Number: "3500", MaxMembers: legs + 1}})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	phones := make([]*dialintest.Phone, legs)
	for i := range phones {
		p, err := dialintest.Dial(ctx, h.addr, dialintest.Options{Dest: "3500", ToneHz: float64(300 + 10*i), Lean: true, From: fmt.Sprint(5550000000 + i)})
		if err != nil {
			b.Fatal(err)
		}
		defer p.Close()
		phones[i] = p
	}
	warm := time.NewTimer(time.Second) // jitter buffers settle, prompts end
	<-warm.C
	b.ResetTimer()
	before := received(phones)
	start, wall := cpuTime(b), time.Now()
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for range b.N {
		<-tick.C
	}
	cpu, elapsed := cpuTime(b)-start, time.Since(wall)
	b.StopTimer()
	perLeg := cpu.Seconds() / elapsed.Seconds() / float64(legs)
	b.ReportMetric(perLeg*100, "%cpu/leg")
	b.ReportMetric(1/perLeg, "legs/core")
	got := received(phones) - before
	b.ReportMetric(float64(got)/elapsed.Seconds()/float64(legs), "pkts/s/leg")
}

func received(phones []*dialintest.Phone) uint64 {
	var n uint64
	for _, p := range phones {
		n += p.Received()
	}
	return n
}

// BenchmarkCallSetup measures call set-ups per second: one sipgo caller
// on loopback does INVITE → 200 → ACK → BYE → 200, one call at a time.
func BenchmarkCallSetup(b *testing.B) {
	h := newBenchHarness(b, []room.Config{{Number: "3500"}})
	ua, err := sipgo.NewUA(sipgo.WithUserAgentHostname("127.0.0.1"))
	if err != nil {
		b.Fatal(err)
	}
	defer ua.Close()
	cli, err := sipgo.NewClient(ua, sipgo.WithClientHostname("127.0.0.1"))
	if err != nil {
		b.Fatal(err)
	}
	rtp, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		b.Fatal(err)
	}
	defer rtp.Close()
	dc := sipgo.NewDialogClientCache(cli, sip.ContactHeader{Address: sip.Uri{User: "bench", Host: "127.0.0.1"}})
	offer := []byte(fmt.Sprintf("v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio %d RTP/AVP 0 101\r\na=rtpmap:101 telephone-event/8000\r\n", rtp.LocalAddr().(*net.UDPAddr).Port))
	target := sip.Uri{User: "3500", Host: "127.0.0.1", Port: int(h.addr.Port())}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	b.ResetTimer()
	start, wall := cpuTime(b), time.Now()
	for range b.N {
		setupOne(ctx, b, dc, target, offer)
	}
	cpu, elapsed := cpuTime(b)-start, time.Since(wall)
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "calls/s")
	b.ReportMetric(float64(cpu.Microseconds())/float64(b.N), "cpu-µs/call")
}

func setupOne(ctx context.Context, b *testing.B, dc *sipgo.DialogClientCache, target sip.Uri, offer []byte) {
	sess, err := dc.Invite(ctx, target, offer, sip.NewHeader("Content-Type", "application/sdp"))
	if err != nil {
		b.Fatal(err)
	}
	defer sess.Close()
	if err := sess.WaitAnswer(ctx, sipgo.AnswerOptions{}); err != nil {
		b.Fatal(err)
	}
	if err := sess.Ack(ctx); err != nil {
		b.Fatal(err)
	}
	if err := sess.Bye(ctx); err != nil {
		b.Fatal(err)
	}
}
