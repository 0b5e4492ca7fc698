package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/confd/confd/signalling/vertotest"
)

// steadyEnv runs TestSimulcastSteadyUnderLoad (make bench sets it): it
// keeps a core busy and 26 pion peers for a minute, too much for make
// test on a shared two-core machine.
const steadyEnv = "CONFD_STEADY"

// steadyViewers and steadyWindow are the test's size: 25 viewers of a
// 720p simulcast publisher, watched for 45 s (after they reached f).
const (
	steadyViewers = 25
	steadyWindow  = 45 * time.Second
)

// publisherKeyframeInterval is the synthetic simulcast camera's own
// key-frame interval (vertotest: every 90 frames at 30 fps).
const publisherKeyframeInterval = 3 * time.Second

// TestSimulcastSteadyUnderLoad: with one core kept busy by a CPU hog, 25
// viewers of a 720p simulcast publisher over loopback, none of them
// losing anything, stay on the top layer: at most one switch per slot in
// the window (under a minute), and at most 1.5 times the publisher's own
// key frames each. Scheduling jitter on a starved host is not congestion
// (forwarder/steady.go), and a key frame one viewer's switch asks for is
// not forced on the others (SwitchKeyframeWait). Run with CONFD_STEADY=1
// (make bench does).
func TestSimulcastSteadyUnderLoad(t *testing.T) {
	if os.Getenv(steadyEnv) == "" {
		t.Skipf("a minute of 26 peers and a CPU hog: set %s=1 (make bench does)", steadyEnv)
	}
	a := startTestApp(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	hog(t)
	pub := joinSimulcastPublisher(ctx, t, a)
	viewers := make([]*member, steadyViewers)
	var wg sync.WaitGroup
	errs := make([]error, steadyViewers)
	for i := range viewers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			name := fmt.Sprintf("viewer%d", i)
			c, call, err := vertotest.Join(ctx, a.vertoURL(), name+"@localhost", "guest",
				vertotest.CallOptions{Dest: "3500", Name: name, Slots: 1})
			if err != nil {
				errs[i] = fmt.Errorf("%s: %w", name, err)
				return
			}
			viewers[i] = &member{name: name, client: c, call: call}
		}()
	}
	wg.Wait()
	for i, v := range viewers {
		if v != nil {
			t.Cleanup(func() { _ = v.client.Close() })
			t.Cleanup(v.call.Close)
		}
		if errs[i] != nil {
			t.Fatal(errs[i])
		}
	}
	streams := make([]*vertotest.Stream, len(viewers))
	for i, v := range viewers {
		if err := v.call.SetSlotSize(ctx, 0, 1280, 720); err != nil {
			t.Fatal(err)
		}
		streams[i] = slotStream(ctx, t, v)
	}
	for i, v := range viewers {
		waitLayer(ctx, t, v, streams[i], 2, "a 720p slot")
	}
	start := time.Now()
	mark := make([]int, len(viewers))
	for i, s := range streams {
		mark[i] = len(s.Packets())
	}
	forcedBefore := pub.KeyframesForced()
	select {
	case <-time.After(steadyWindow):
	case <-ctx.Done():
		t.Fatal(ctx.Err())
	}
	window := time.Since(start)
	forced := pub.KeyframesForced()
	own := window.Seconds() / publisherKeyframeInterval.Seconds()
	var worstKF, worstSwitches, totalLost, totalRetransmitted int
	for i, s := range streams {
		pkts := s.Packets()[mark[i]:]
		kf, retransmitted := keyframesIn(pkts)
		switches := len(s.SourcesSince(mark[i])) - 1
		lost, _ := s.Check()
		totalLost += lost
		totalRetransmitted += retransmitted
		worstKF, worstSwitches = max(worstKF, kf), max(worstSwitches, switches)
		if cur := s.CurrentSource(); cur != simMarker+2 {
			t.Errorf("%s: on %d at the end, want f (%d)", viewers[i].name, cur, simMarker+2)
		}
		if switches > 1 {
			t.Errorf("%s: %d switches in %v (sources %v), want at most one", viewers[i].name, switches, window.Round(time.Second), s.SourcesSince(mark[i]))
		}
		if float64(kf) > 1.5*own {
			t.Errorf("%s: %d key frames in %v, the publisher's own interval makes %.0f: want at most 1.5 times that", viewers[i].name, kf, window.Round(time.Second), own)
		}
	}
	t.Logf("%d viewers over %v with a CPU hog: at most %d switches and %d key frames a viewer (the publisher's own: %.0f; made on request: q %d, h %d, f %d); %d packets lost, %d key-frame starts received again in all",
		len(viewers), window.Round(time.Second), worstSwitches, worstKF, own,
		forced[0]-forcedBefore[0], forced[1]-forcedBefore[1], forced[2]-forcedBefore[2], totalLost, totalRetransmitted)
}

// keyframesIn counts the key frames among pkts, each once: a packet at
// or behind the highest sequence number seen is a retransmission (NACK)
// and repeats one already counted or lost. retransmitted counts those
// that began a key frame.
func keyframesIn(pkts []vertotest.Packet) (keyframes, retransmitted int) {
	var highest uint16
	for i, p := range pkts {
		again := i > 0 && int16(p.Seq-highest) <= 0
		if !again {
			highest = p.Seq
		}
		switch {
		case !p.Keyframe || !p.Start:
		case again:
			retransmitted++
		default:
			keyframes++
		}
	}
	return keyframes, retransmitted
}

// hog keeps one core busy until the test ends: a shell spinning in a
// process group of its own, which the cleanup kills and waits for.
func hog(t *testing.T) {
	t.Helper()
	cmd := exec.Command("sh", "-c", "while :; do :; done")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		_ = cmd.Wait()
	})
}
