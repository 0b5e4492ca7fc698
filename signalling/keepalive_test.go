package signalling

import (
	"encoding/json"
	"testing"
	"time"
)

// TestServerPingsIdleClients: after PingInterval without a frame from the
// client, confd sends verto.ping with a serno, and keeps the session without
// any reply (verto.js of 2020 never answers it).
func TestServerPingsIdleClients(t *testing.T) {
	env := startServer(t, func(c *Config) { c.PingInterval = 40 * time.Millisecond })
	ctx := testCtx(t, 10*time.Second)
	c := dialRaw(ctx, t, env.url, "")
	defer c.Close()
	c.login(ctx, "1000", "1234")
	for range 2 { // two pings in a row: not answering the first is fine
		ping := c.request(ctx, "verto.ping")
		var p struct {
			Serno int64 `json:"serno"`
		}
		if err := json.Unmarshal(ping.Params, &p); err != nil || p.Serno == 0 {
			t.Fatalf("verto.ping params %s: want a serno", ping.Params)
		}
	}
	c.echoOK(ctx)
}
