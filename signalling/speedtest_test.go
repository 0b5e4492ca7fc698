package signalling

import (
	"bytes"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// TestSpeedTest: Verto Communicator's bandwidth test, as it runs after
// login: 256 kB up in 1 kB blocks past the request rate limit, then the
// same down; both timings come back non-zero, and JSON-RPC still works.
func TestSpeedTest(t *testing.T) {
	env := startServer(t, nil)
	ctx := testCtx(t, 30*time.Second)
	c := dialRaw(ctx, t, env.url, "")
	c.login(ctx, userLogin, userPasswd)
	const size = 262144
	c.write(websocket.TextMessage, []byte("#SPU "+strconv.Itoa(size)))
	block := append([]byte("#SPB "), bytes.Repeat([]byte{'.'}, 1019)...)
	for range size / 1024 {
		c.write(websocket.TextMessage, block)
	}
	c.write(websocket.TextMessage, []byte("#SPE"))
	up := c.expect(ctx, "#SPU", func(f *rpc) bool { return strings.HasPrefix(string(f.raw), "#SPU ") })
	blocks := 0
	down := c.expect(ctx, "#SPD", func(f *rpc) bool {
		if strings.HasPrefix(string(f.raw), "#SPB") {
			blocks++
		}
		return strings.HasPrefix(string(f.raw), "#SPD ")
	})
	for _, f := range []*rpc{up, down} {
		if n, err := strconv.Atoi(strings.Fields(string(f.raw))[1]); err != nil || n < 1 {
			t.Errorf("%s: want a positive number of ms", f.raw)
		}
	}
	if blocks != size/1024 {
		t.Errorf("%d download blocks, want %d", blocks, size/1024)
	}
	c.echoOK(ctx)
}
