package recorder

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/pion/rtp"

	"github.com/confd/confd/forwarder"
	"github.com/confd/confd/mixer"
	"github.com/confd/confd/room"
)

// activities records what the rooms report.
type activities struct {
	mu  sync.Mutex
	got []room.Activity
}

func (s *activities) Activity(a room.Activity) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.got = append(s.got, a)
}

func (s *activities) finished() (string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, a := range s.got {
		if a.Kind == room.RecordingFinished {
			return a.Reason, true
		}
	}
	return "", false
}

type nobody struct{}

func (nobody) Notify(room.Event) {}
func (nobody) Close(room.Reason) {}

type nopWriter struct{}

func (nopWriter) WriteFrame([]byte) error { return nil }

// testRoom is a room with one member whose Opus input is fed a tone
// every 20 ms until the test ends, and a recorder writing under a
// temporary directory.
func testRoom(t *testing.T, cfg Config) (*room.Room, *Recorder, *activities) {
	t.Helper()
	rs, err := room.New([]room.Config{{Number: "3500"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	sink := &activities{}
	rs.ReportTo(sink)
	if cfg.Dir == "" {
		cfg.Dir = t.TempDir()
	}
	rc, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	rs.RecordWith(rc)
	r, _ := rs.Lookup("3500")
	p, err := r.Join(nobody{}, room.JoinInfo{Name: "ann"})
	if err != nil {
		t.Fatal(err)
	}
	in, err := r.JoinAudio(p, mixer.MemberOptions{In: mixer.CodecOpus, HasInput: true, Out: mixer.CodecOpus, Writer: nopWriter{}})
	if err != nil {
		t.Fatal(err)
	}
	frame := opusFrame(t)
	stop, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			case <-tick.C:
			}
			in.Push(uint16(i), uint32(i*mixer.FrameSamples), frame, 20, mixer.Now())
		}
	}()
	t.Cleanup(func() {
		close(stop)
		<-done
		rc.Close(context.Background())
		rs.Close()
	})
	return r, rc, sink
}

func opusFrame(t *testing.T) []byte {
	t.Helper()
	enc, err := mixer.NewEncoder(mixer.CodecOpus)
	if err != nil {
		t.Fatal(err)
	}
	pcm := make([]int16, mixer.FrameSamples)
	for i := range pcm {
		pcm[i] = int16(8000 * ((i % 48) - 24) / 24)
	}
	buf := make([]byte, mixer.MaxPayload)
	n, err := enc.Encode(pcm, buf)
	if err != nil {
		t.Fatal(err)
	}
	return buf[:n]
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond) // polling a condition, not standing in for one
	}
}

// TestSizeLimitStopsTheRecording: a recording that reaches MaxBytes stops
// on its own with its reason; the room is no longer marked recorded, its
// mixer goes on, and the files written so far are closed and listed.
func TestSizeLimitStopsTheRecording(t *testing.T) {
	r, rc, sink := testRoom(t, Config{MaxBytes: 4000})
	if err := rc.Start(r); err != nil {
		t.Fatal(err)
	}
	dir := rc.Dir(r)
	waitFor(t, "the recording to stop", func() bool { return !r.Recording() })
	if reason, ok := sink.finished(); !ok || reason != "size limit reached" {
		t.Fatalf("recording_finished %v with %q", ok, reason)
	}
	ticks := r.Mixer().Stats().Ticks
	waitFor(t, "the mixer to go on", func() bool { return r.Mixer().Stats().Ticks > ticks+5 })
	body, err := os.ReadFile(filepath.Join(dir, "timeline.json"))
	if err != nil || !strings.Contains(string(body), `"stopped_because": "size limit reached"`) {
		t.Fatalf("timeline %s %v", body, err)
	}
	if err := rc.Start(r); err != nil {
		t.Fatalf("starting again after the limit: %v", err)
	}
}

// TestFullDiskStopsTheRecording: a write that fails as on a full disk
// (the mix's file swapped for /dev/full) stops the recording with
// "disk full"; the meeting goes on.
func TestFullDiskStopsTheRecording(t *testing.T) {
	full, err := os.OpenFile("/dev/full", os.O_WRONLY, 0)
	if err != nil {
		t.Skip("no /dev/full here")
	}
	r, rc, sink := testRoom(t, Config{})
	if err := rc.Start(r); err != nil {
		t.Fatal(err)
	}
	rc.mu.Lock()
	f := rc.active[r].mixFile.file
	rc.mu.Unlock()
	f.mu.Lock()
	_ = f.f.Close()
	f.f = full
	f.mu.Unlock()
	waitFor(t, "the recording to stop", func() bool { return !r.Recording() })
	if reason, _ := sink.finished(); reason != "disk full" {
		t.Fatalf("recording_finished with %q", reason)
	}
	if !errors.Is(f.failed(), syscall.ENOSPC) {
		t.Fatalf("the file's error: %v", f.failed())
	}
}

// TestStartRefusals: a room recorded already, too many recordings and the
// echo test are refused, changing nothing.
func TestStartRefusals(t *testing.T) {
	r, rc, _ := testRoom(t, Config{MaxRecordings: 1})
	if err := rc.Stop(r); !errors.Is(err, ErrNotRecording) {
		t.Fatalf("stop before start: %v", err)
	}
	if err := rc.Start(r); err != nil {
		t.Fatal(err)
	}
	if err := rc.Start(r); !errors.Is(err, ErrRecording) {
		t.Fatalf("twice: %v", err)
	}
	rs, _ := room.New([]room.Config{{Number: "9196", Echo: true}, {Number: "4000"}}, nil)
	t.Cleanup(rs.Close)
	echo, _ := rs.Lookup("9196")
	if err := rc.Start(echo); !errors.Is(err, ErrEchoTest) {
		t.Fatalf("the echo test: %v", err)
	}
	other, _ := rs.Lookup("4000")
	if err := rc.Start(other); !errors.Is(err, ErrTooMany) || other.Recording() {
		t.Fatalf("over the limit: %v", err)
	}
	if err := rc.Stop(r); err != nil || r.Recording() {
		t.Fatalf("stop: %v", err)
	}
}

// TestDirectoryNames: a room number that is a plain name names its
// directory; anything else is replaced by a digest.
func TestDirectoryNames(t *testing.T) {
	for number, want := range map[string]string{"3500": "3500", "board-1": "board-1"} {
		if got := roomDir(number); got != want {
			t.Errorf("%q: %q", number, got)
		}
	}
	for _, number := range []string{"../etc", "a/b", ".", "..", "", "x y", strings.Repeat("a", 65)} {
		if got := roomDir(number); !safeName.MatchString(got) || !strings.HasPrefix(got, "room-") {
			t.Errorf("%q: %q", number, got)
		}
	}
	root := t.TempDir()
	at := time.Date(2026, 12, 7, 9, 0, 0, 0, time.UTC)
	a, err := makeDir(root, "../x", at)
	if err != nil {
		t.Fatal(err)
	}
	b, err := makeDir(root, "../x", at)
	if err != nil || a == b || filepath.Dir(a) != filepath.Dir(b) || !strings.HasPrefix(a, root) {
		t.Fatalf("%s and %s", a, b)
	}
}

// TestTapsDoNotAllocate: what the mixer's tick and a camera's reader do
// for a recording (copy into the queue, or drop when it is full) allocates
// nothing.
func TestTapsDoNotAllocate(t *testing.T) {
	rec := &recording{q: newQueue(8)}
	mt := mixTap{rec: rec}
	sink := &videoSink{rec: rec}
	sink.mask.Store(1)
	frame := make([]byte, 120)
	hdr := rtp.Header{SequenceNumber: 1, Timestamp: 3000, Marker: true}
	raw := []byte{0x90, 0x80, 0x01, 0x10, 0x9d, 0x01, 0x2a, 0x40, 0x01, 0xb4, 0x00}
	pkt := &forwarder.Packet{Header: &hdr, Payload: raw}
	if err := pkt.VP8.Unmarshal(raw); err != nil {
		t.Fatal(err)
	}
	var scratch forwarder.Scratch
	step := func() {
		mt.Input(1, 1, mixer.CodecOpus, mixer.FramePlay, frame, true)
		mt.Mix(1, frame)
		mt.Talking(1, 1, true)
		sink.WriteRTP(pkt, &scratch)
		for range 4 {
			select {
			case e := <-rec.q.full:
				rec.q.release(e)
			default:
			}
		}
	}
	if n := testing.AllocsPerRun(500, step); n != 0 {
		t.Fatalf("%.1f allocations per tick and packet", n)
	}
	overflow := func() {
		mt.Input(1, 1, mixer.CodecOpus, mixer.FramePlay, frame, true)
		sink.WriteRTP(pkt, &scratch)
	}
	if n := testing.AllocsPerRun(500, overflow); n != 0 || rec.dropped.Load() == 0 {
		t.Fatalf("%.1f allocations dropping, %d dropped", n, rec.dropped.Load())
	}
}
