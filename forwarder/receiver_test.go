package forwarder

import (
	"slices"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/pion/rtcp"
)

// keyframeInterval is the PLI throttle of these tests.
const keyframeInterval = 500 * time.Millisecond

// startThrottled starts a video Receiver whose upstream RTCP is recorded,
// inside the calling synctest bubble. The returned function closes it and
// waits for its goroutines.
func startThrottled(t *testing.T) (*Receiver, *timedRTCP, func()) {
	t.Helper()
	up := &timedRTCP{start: time.Now()}
	r := NewReceiver(ReceiverConfig{SSRC: 0xcafe, Kind: KindVideo, KeyframeInterval: keyframeInterval}, up)
	src := newBlockingReader()
	r.Start(src)
	synctest.Wait()
	return r, up, func() {
		r.Close()
		src.close()
		<-r.Done()
	}
}

// timedRTCP is an RTCPWriter, the publisher's connection, that records each
// packet with the virtual time it was sent at.
type timedRTCP struct {
	start time.Time
	mu    sync.Mutex
	pkts  []rtcp.Packet
	times []time.Duration
}

func (w *timedRTCP) WriteRTCP(pkts []rtcp.Packet) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, p := range pkts {
		w.pkts = append(w.pkts, p)
		w.times = append(w.times, time.Since(w.start))
	}
	return nil
}

func (w *timedRTCP) sentAt() []time.Duration {
	w.mu.Lock()
	defer w.mu.Unlock()
	return slices.Clone(w.times)
}

func (w *timedRTCP) packets() []rtcp.Packet {
	w.mu.Lock()
	defer w.mu.Unlock()
	return slices.Clone(w.pkts)
}

// advance moves the bubble's virtual clock by d and lets every goroutine
// run until it blocks. Nothing really waits.
func advance(d time.Duration) {
	time.Sleep(d)
	synctest.Wait()
}

// checkSpacing checks that PLIs are at least the throttle interval apart.
func checkSpacing(t *testing.T, at []time.Duration) {
	t.Helper()
	for i := 1; i < len(at); i++ {
		if at[i]-at[i-1] < keyframeInterval {
			t.Errorf("PLIs at %v and %v: closer than %v", at[i-1], at[i], keyframeInterval)
		}
	}
}

// TestKeyframeThrottleBurst: 100 slots switching to one publisher at once
// produce one PLI at once and at most one more, a throttle interval later.
func TestKeyframeThrottleBurst(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r, up, stop := startThrottled(t)
		defer stop()
		for range 100 {
			NewDownTrack("v", "s").SetSource(r)
		}
		synctest.Wait()
		if got := up.sentAt(); len(got) != 1 || got[0] != 0 {
			t.Fatalf("PLIs at %v right after the burst, want one at 0", got)
		}
		advance(keyframeInterval - time.Nanosecond)
		if got := up.sentAt(); len(got) != 1 {
			t.Fatalf("PLIs at %v before the interval passed", got)
		}
		advance(10 * keyframeInterval)
		got := up.sentAt()
		if len(got) > 2 || (len(got) == 2 && got[1] != keyframeInterval) {
			t.Fatalf("PLIs at %v, want 0 and at most one more at %v", got, keyframeInterval)
		}
		for _, p := range up.packets() {
			if pli, ok := p.(*rtcp.PictureLossIndication); !ok || pli.MediaSSRC != 0xcafe {
				t.Errorf("sent %v, want a PLI for the publisher's SSRC", p)
			}
		}
		if got := r.Stats().KeyframeRequests; got != uint64(len(up.sentAt())) {
			t.Errorf("Stats().KeyframeRequests = %d, want %d", got, len(up.sentAt()))
		}
	})
}

// TestKeyframeThrottleCoalesces: requests made while a PLI waits out the
// throttle are all answered by that PLI, not by one more after it.
func TestKeyframeThrottleCoalesces(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r, up, stop := startThrottled(t)
		defer stop()
		r.RequestKeyframe()
		synctest.Wait()
		advance(100 * time.Millisecond)
		for range 100 {
			r.RequestKeyframe()
		}
		advance(10 * keyframeInterval)
		want := []time.Duration{0, keyframeInterval}
		if got := up.sentAt(); !slices.Equal(got, want) {
			t.Fatalf("PLIs at %v, want %v", got, want)
		}
	})
}

// TestKeyframeThrottleSteady: a slot asking for a key frame on every packet
// gets one PLI per throttle interval, no more and no fewer.
func TestKeyframeThrottleSteady(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r, up, stop := startThrottled(t)
		defer stop()
		const span = 3 * time.Second
		for elapsed := time.Duration(0); elapsed < span; elapsed += 10 * time.Millisecond {
			r.RequestKeyframe()
			advance(10 * time.Millisecond)
		}
		got := up.sentAt()
		checkSpacing(t, got)
		if want := int(span/keyframeInterval) + 1; len(got) != want {
			t.Errorf("%d PLIs in %v of constant requests (at %v), want %d", len(got), span, got, want)
		}
	})
}

// TestKeyframeThrottleClose: after Close no PLI is sent, RequestKeyframe
// still returns at once, and the Receiver's goroutines end.
func TestKeyframeThrottleClose(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		up := &timedRTCP{start: time.Now()}
		r := NewReceiver(ReceiverConfig{SSRC: 1, KeyframeInterval: keyframeInterval}, up)
		src := newBlockingReader()
		r.Start(src)
		r.RequestKeyframe()
		synctest.Wait()
		r.RequestKeyframe() // waits out the throttle
		synctest.Wait()
		r.Close()
		advance(10 * keyframeInterval)
		for range 10 {
			r.RequestKeyframe()
		}
		advance(10 * keyframeInterval)
		if got := up.sentAt(); len(got) != 1 {
			t.Errorf("PLIs at %v, want only the one before Close", got)
		}
		select {
		case <-r.Done():
			t.Fatal("Done before the reader's source failed")
		default:
		}
		src.close()
		<-r.Done()
	})
}
