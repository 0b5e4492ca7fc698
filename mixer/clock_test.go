package mixer

import (
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"
)

// stallingEar is a listener whose writes can hold up the mixer goroutine,
// as a late wake-up of a loaded machine would.
type stallingEar struct {
	stall atomic.Int64 // nanoseconds to sleep on the next write
}

func (e *stallingEar) WriteFrame([]byte) error {
	if d := e.stall.Swap(0); d > 0 {
		time.Sleep(time.Duration(d))
	}
	return nil
}

// TestCatchUpAfterLateTick: the mixer runs on its own 20 ms clock. After a
// late wake-up it runs every tick that came due, up to MaxCatchUp; a longer
// stall skips the excess so that it resyncs instead of bursting audio.
func TestCatchUpAfterLateTick(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := New(Config{MaxCatchUp: 5})
		(&exactCodec{}).install(m)
		ear := &stallingEar{}
		if _, err := m.Add(1, MemberOptions{Out: CodecOpus, Writer: ear}); err != nil {
			t.Fatal(err)
		}
		m.Start()
		defer m.Close()

		time.Sleep(100*time.Millisecond + time.Millisecond)
		synctest.Wait()
		if got := m.Stats().Ticks; got != 5 {
			t.Fatalf("%d ticks in 100 ms, want 5", got)
		}

		// A 70 ms stall: the 3 ticks that came due meanwhile run at once.
		ear.stall.Store(int64(70 * time.Millisecond))
		time.Sleep(200 * time.Millisecond)
		synctest.Wait()
		if s := m.Stats(); s.Ticks != 15 || s.Skipped != 0 {
			t.Fatalf("after a 70 ms stall: %d ticks, %d skipped; want 15 and 0", s.Ticks, s.Skipped)
		}

		// A 500 ms stall: 5 ticks catch up, the other 20 are skipped.
		ear.stall.Store(int64(500 * time.Millisecond))
		time.Sleep(700 * time.Millisecond)
		synctest.Wait()
		s := m.Stats()
		if s.Skipped == 0 || s.Ticks+s.Skipped != 50 {
			t.Fatalf("after a 500 ms stall: %d ticks + %d skipped, want 50 in all with some skipped", s.Ticks, s.Skipped)
		}
	})
}
