package signalling

import (
	"context"
	"testing"
	"time"

	"github.com/confd/confd/signalling/vertotest"
)

// TestShutdownEndsDetachedCalls: a call whose socket dropped waits in its
// attach window (an hour here). Shutdown does not wait for the window: it
// ends the call, so no attach timer outlives the server.
func TestShutdownEndsDetachedCalls(t *testing.T) {
	env := startServer(t, func(c *Config) { c.AllowGuests = true; c.AttachWindow = time.Hour })
	ctx := testCtx(t, 60*time.Second)
	r := env.room3500(t)
	client, call, err := vertotest.Join(ctx, env.url, "guest", "guest", vertotest.CallOptions{Dest: "3500", Name: "lost"})
	if err != nil {
		t.Fatal(err)
	}
	defer call.Close()
	_ = client.Close() // the socket drops; the call is parked
	parked := func() bool {
		env.srv.mu.Lock()
		defer env.srv.mu.Unlock()
		return len(env.srv.detached) == 1
	}
	if err := vertotest.WaitFor(ctx, parked); err != nil {
		t.Fatal("the call was never parked")
	}
	stop, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	env.srv.Shutdown(stop)
	if stop.Err() != nil {
		t.Fatal("Shutdown waited for the attach window")
	}
	env.srv.mu.Lock()
	calls := len(env.srv.calls)
	env.srv.mu.Unlock()
	if calls != 0 || len(r.Members()) != 0 {
		t.Fatalf("after Shutdown: %d calls registered, %d members in the room", calls, len(r.Members()))
	}
}
