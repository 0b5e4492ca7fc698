package signalling

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"runtime/metrics"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/confd/confd/signalling/vertotest"
)

// heapSample is what the heap holds, read from runtime/metrics without
// forcing a collection: the bytes in objects (live ones, and dead ones not
// yet swept), and the bytes of heap memory the process keeps from the
// system (objects, fragmentation and free pages not yet returned); and,
// for the log, the process's resident memory (0 where /proc has none).
type heapSample struct{ objects, retained, rss uint64 }

func readHeap() heapSample {
	s := []metrics.Sample{
		{Name: "/memory/classes/heap/objects:bytes"},
		{Name: "/memory/classes/heap/unused:bytes"},
		{Name: "/memory/classes/heap/free:bytes"},
	}
	metrics.Read(s)
	objects := s[0].Value.Uint64()
	return heapSample{objects: objects, retained: objects + s[1].Value.Uint64() + s[2].Value.Uint64(), rss: readRSS()}
}

// readRSS is VmRSS from /proc/self/status, in bytes.
func readRSS() uint64 {
	b, _ := os.ReadFile("/proc/self/status")
	for line := range strings.Lines(string(b)) {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, _ := strconv.ParseUint(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return kb << 10
		}
	}
	return 0
}

// TestMemoryAfterJoinsAndLeaves: 300 members join, publish a camera and a
// microphone, and leave (hanging up, or losing their socket so that the
// attach window ends the call), four at a time; then 20 are in the room at
// once. The members run in a separate process, so that this one holds the
// server alone.
//   - Once the load is gone, the server gives the memory back by itself:
//     the heap it keeps from the system falls from the load's peak to near
//     where it started.
//   - Nothing is left behind: once the server's goroutines are back to
//     where they were, what the heap holds after a release is within 10 %
//     of what it held before the load.
func TestMemoryAfterJoinsAndLeaves(t *testing.T) {
	env := startServer(t, func(c *Config) {
		c.AllowGuests = true
		c.AttachWindow = 200 * time.Millisecond
		c.MemoryRelease = 100 * time.Millisecond
	})
	ctx := testCtx(t, 5*time.Minute)
	r := env.room3500(t)
	goroutines := runtime.NumGoroutine()

	// load runs the members in a child process and waits until their calls
	// are gone and the release their leaving armed has run; it returns the
	// most heap kept from the system while it ran.
	load := func(joins, together int) (peak heapSample) {
		t.Helper()
		before := env.srv.releases.Load()
		stop, sampled := make(chan struct{}), make(chan struct{})
		go func() {
			defer close(sampled)
			tick := time.NewTicker(10 * time.Millisecond)
			defer tick.Stop()
			for {
				h := readHeap()
				peak.retained, peak.rss = max(peak.retained, h.retained), max(peak.rss, h.rss)
				select {
				case <-stop:
					return
				case <-tick.C:
				}
			}
		}()
		cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestMemoryLoadHelperProcess$")
		cmd.Env = append(os.Environ(), "CONFD_MEMORY_LOAD_URL="+env.url,
			"CONFD_MEMORY_LOAD_JOINS="+strconv.Itoa(joins), "CONFD_MEMORY_LOAD_TOGETHER="+strconv.Itoa(together))
		out, err := cmd.CombinedOutput()
		close(stop)
		<-sampled
		if err != nil {
			t.Fatalf("load process: %v\n%s", err, out)
		}
		waitUntil(ctx, t, "calls gone and memory released", func() bool {
			if len(r.Members()) > 0 {
				return false
			}
			env.srv.mu.Lock()
			defer env.srv.mu.Unlock()
			return env.srv.loadLocked() == 0 && env.srv.memTimer == nil && !env.srv.releasing && env.srv.releases.Load() > before
		})
		return peak
	}
	// settled waits for the server's goroutines to end, then releases
	// what they left, so that a sample counts only what the server holds.
	settled := func() heapSample {
		t.Helper()
		waitUntil(ctx, t, "goroutines back to where they were", func() bool { return runtime.NumGoroutine() <= goroutines })
		freeMemory()
		return readHeap()
	}

	// Warm up, to the same peak: codecs, the room's mixer outputs, and
	// what the Go runtime keeps for the most goroutines and threads it has
	// had (their descriptors, allgs) and maps keep for the most entries.
	load(12, 20)
	start := settled()
	peak := load(300, 20)
	released := readHeap()
	end := settled()
	t.Logf("heap kept from the system: %d kB at the start, %d kB at the peak, %d kB after the server's release",
		start.retained>>10, peak.retained>>10, released.retained>>10)
	t.Logf("this process's RSS (the server and the test): %d kB at the start, %d kB at the peak, %d kB after the server's release",
		start.rss>>10, peak.rss>>10, released.rss>>10)
	t.Logf("heap objects: %d kB before 300 joins and leaves and 20 at once, %d kB after", start.objects>>10, end.objects>>10)
	if end.objects > start.objects+start.objects/10 {
		t.Errorf("the heap holds %d kB after the load, %d kB before: over 10 %% more", end.objects>>10, start.objects>>10)
	}
	if released.retained > start.retained+(peak.retained-start.retained)/4 {
		t.Errorf("after the release the server keeps %d kB of heap, from %d kB at the peak and %d kB at the start",
			released.retained>>10, peak.retained>>10, start.retained>>10)
	}
}

// TestMemoryLoadHelperProcess is not a test of its own: it is the members
// of TestMemoryAfterJoinsAndLeaves, run in their own process when that
// test starts this binary with CONFD_MEMORY_LOAD_URL set, and skipped
// otherwise.
func TestMemoryLoadHelperProcess(t *testing.T) {
	url := os.Getenv("CONFD_MEMORY_LOAD_URL")
	if url == "" {
		t.Skip("run by TestMemoryAfterJoinsAndLeaves")
	}
	joins, _ := strconv.Atoi(os.Getenv("CONFD_MEMORY_LOAD_JOINS"))
	together, _ := strconv.Atoi(os.Getenv("CONFD_MEMORY_LOAD_TOGETHER"))
	ctx := testCtx(t, 4*time.Minute)
	const workers = 4
	var wg sync.WaitGroup
	errs := make(chan error, joins+together)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < joins; i += workers {
				m, err := joinPublishing(ctx, url, i)
				if err == nil {
					err = m.leave(ctx, i%2 == 0)
				}
				if err != nil {
					errs <- fmt.Errorf("member %d: %w", i, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	// Then a room of `together` members at once.
	var members []*member
	var mu sync.Mutex
	for i := range together {
		wg.Add(1)
		go func() {
			defer wg.Done()
			m, err := joinPublishing(ctx, url, joins+i)
			if err != nil {
				errs <- err
				return
			}
			mu.Lock()
			members = append(members, m)
			mu.Unlock()
		}()
	}
	wg.Wait()
	for _, m := range members {
		if err := vertotest.WaitFor(ctx, func() bool { return len(m.call.Slots().Slots) > 0 && m.call.Slots().Slots[0].MemberID != 0 }); err != nil {
			errs <- fmt.Errorf("%v: slot never filled: %w", m.call, err)
		}
	}
	for i, m := range members {
		if err := m.leave(ctx, i%2 == 0); err != nil {
			errs <- err
		}
	}
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

type member struct {
	cl   *vertotest.Client
	call *vertotest.Call
}

// joinPublishing joins with a real pion peer that publishes a camera and a
// microphone, and waits until the camera is forwarded to it in its slot
// (its own, while it is alone, or another member's).
func joinPublishing(ctx context.Context, url string, i int) (*member, error) {
	name := fmt.Sprintf("m%d", i)
	cl, call, err := vertotest.Join(ctx, url, name, "x", vertotest.CallOptions{
		Dest: "3500", Name: name, Slots: 1, Publish: true, SSRC: uint32(1000 + i), ToneHz: 440,
	})
	if err != nil {
		return nil, err
	}
	m := &member{cl, call}
	// Media flows both ways once the room's mix is heard (the server sends
	// it continuously, silence included).
	if err := vertotest.WaitFor(ctx, func() bool { _, n := call.Heard(); return n >= 10 }); err != nil {
		_ = m.leave(ctx, false)
		return nil, fmt.Errorf("%v: no audio: %w", call, err)
	}
	return m, nil
}

// leave hangs up, or drops the socket (the attach window then ends the
// call on the server).
func (m *member) leave(ctx context.Context, hangup bool) error {
	var err error
	if hangup {
		err = m.call.Hangup(ctx)
	}
	m.call.Close()
	if cerr := m.cl.Close(); err == nil && cerr != nil && !errors.Is(cerr, os.ErrClosed) {
		err = cerr
	}
	return err
}
