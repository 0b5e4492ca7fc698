package dialin

import (
	"errors"
	"io"
	"net"
	"sync"
	"testing"

	"github.com/gobwas/ws"
)

func TestFramePayload(t *testing.T) {
	for _, c := range []struct {
		n int
	}{{0}, {5}, {125}, {126}, {65535}, {65536}} {
		f := ws.NewTextFrame(make([]byte, c.n))
		h, err := ws.CompileFrame(ws.Frame{Header: f.Header})
		if err != nil {
			t.Fatal(err)
		}
		if got := framePayload(h); got != int64(c.n) {
			t.Errorf("header of %d: %d", c.n, got)
		}
		whole, _ := ws.CompileFrame(f)
		if got := framePayload(whole); got != 0 {
			t.Errorf("whole frame of %d: %d owed", c.n, got)
		}
	}
}

// TestHandOverBetweenFrames: a connection handed over mid-frame lets that
// frame end whole, and refuses sipgo's frames after it.
func TestHandOverBetweenFrames(t *testing.T) {
	client, server := net.Pipe()
	defer client.Close()
	var read []byte
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		read, _ = io.ReadAll(client)
	}()
	c := &wsConn{Conn: server, srv: &Server{}}
	c.srv.cfg.Limits.WriteTimeout = 1 << 40
	c.wdone = sync.NewCond(&c.wmu)
	hs := []byte("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n")
	for _, part := range [][]byte{hs[:len(hs)-1], hs[len(hs)-1:]} { // its blank line split over two writes
		if _, err := c.Write(part); err != nil {
			t.Fatal(err)
		}
	}
	frame := ws.NewTextFrame([]byte("SIP/2.0 200 OK\r\n\r\n"))
	h, _ := ws.CompileFrame(ws.Frame{Header: frame.Header})
	if _, err := c.Write(h); err != nil {
		t.Fatal(err)
	}
	handed := make(chan bool)
	go func() { handed <- c.handOver() }()
	if _, err := c.Write(frame.Payload); err != nil {
		t.Fatalf("the payload of a frame begun before the hand-over: %v", err)
	}
	if !<-handed {
		t.Fatal("not handed over")
	}
	if _, err := c.Write(h); !errors.Is(err, errHandedOver) {
		t.Fatalf("a frame after the hand-over: %v, want it refused", err)
	}
	_ = server.Close()
	wg.Wait()
	want := string(hs) + string(h) + string(frame.Payload)
	if string(read) != want {
		t.Fatalf("the client read %q, want %q", read, want)
	}
}
