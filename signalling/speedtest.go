package signalling

import (
	"bytes"
	"fmt"
	"strconv"
	"time"
)

// The speed test Verto Communicator runs after login (verto-spec §1): not
// JSON-RPC but text frames. The client announces "#SPU <bytes>", uploads
// that many bytes in "#SPB…" blocks and ends with "#SPE"; confd answers
// "#SPU <upload ms>", sends the same amount back in "#SPB" blocks, and
// ends with "#SPD <download ms>". Both figures are at least 1 ms, because
// the client divides by them.
const (
	speedBlock        = 1024
	speedTestMaxBytes = 1 << 20 // a client may not make confd send more
)

type speedTest struct {
	size  int
	start time.Time
}

func isSpeedBlock(frame []byte) bool { return bytes.HasPrefix(frame, []byte("#SPB")) }

// speedTest handles one speed-test frame on the session loop.
func (s *Session) speedTest(frame []byte) {
	switch {
	case bytes.HasPrefix(frame, []byte("#SPU ")):
		n, err := strconv.Atoi(string(bytes.TrimSpace(frame[5:])))
		if err != nil || n <= 0 {
			return
		}
		s.speed = &speedTest{size: min(n, speedTestMaxBytes), start: time.Now()}
	case bytes.HasPrefix(frame, []byte("#SPE")) && s.speed != nil:
		st := s.speed
		s.speed = nil
		s.send(fmt.Appendf(nil, "#SPU %d", millis(time.Since(st.start))))
		s.download(st.size)
	}
	// "#SPB" blocks need no answer: their time is the upload's.
}

// download sends size bytes in blocks and, once the last is on the socket,
// reports how long that took.
func (s *Session) download(size int) {
	block := append([]byte("#SPB "), bytes.Repeat([]byte{'.'}, speedBlock-5)...)
	blocks := max(size/speedBlock, 1)
	start := time.Now()
	done := make(chan struct{})
	for i := range blocks {
		f := outFrame{data: block}
		if i == blocks-1 {
			f.written = done
		}
		s.sendFrame(f)
	}
	s.spawn(func() {
		select {
		case <-done:
			s.post(func() { s.send(fmt.Appendf(nil, "#SPD %d", millis(time.Since(start)))) })
		case <-s.ctx.Done():
		}
	})
}

func millis(d time.Duration) int64 { return max(d.Milliseconds(), 1) }
