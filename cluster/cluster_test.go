package cluster

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/confd/confd/cluster/clustertest"
)

// loadOf is a node's reported load, set by the test.
type loadOf struct {
	mu sync.Mutex
	l  Load
}

func (l *loadOf) get() Load {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.l
}

func (l *loadOf) set(members int, rooms ...string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.l = Load{Members: members, Rooms: rooms}
}

func node(t *testing.T, addr, id string, ttl time.Duration) (*Cluster, *loadOf) {
	t.Helper()
	l := &loadOf{}
	c, err := New(context.Background(), Config{Redis: addr, NodeID: id, Advertise: "http://127.0.0.1:1/" + id, TTL: ttl}, l.get)
	if err != nil {
		t.Fatal(err)
	}
	return c, l
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: never", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestRegistryUnavailableAtStart: a node that cannot reach Redis says so.
func TestRegistryUnavailableAtStart(t *testing.T) {
	_, err := New(context.Background(), Config{Redis: "127.0.0.1:1", NodeID: "a", Advertise: "http://x"}, func() Load { return Load{} })
	if err == nil {
		t.Fatal("New succeeded with no Redis")
	}
	t.Log(err)
}

// TestPlacement: a room is placed once, on the least loaded live node,
// whichever node asks, even when several ask at once; a node that stops
// refreshing is gone within the TTL and its rooms are placed again; a
// draining node takes no new rooms.
func TestPlacement(t *testing.T) {
	r := clustertest.StartRedis(t)
	ctx := context.Background()
	a, la := node(t, r.Addr, "a", 10*time.Second)
	b, _ := node(t, r.Addr, "b", 10*time.Second)
	defer a.Close(ctx)
	defer b.Close(ctx)
	la.set(5)
	if err := a.refresh(ctx); err != nil {
		t.Fatal(err)
	}
	if nodes, err := a.Nodes(ctx); err != nil || len(nodes) != 2 {
		t.Fatalf("nodes %v, %v", nodes, err)
	}
	var wg sync.WaitGroup
	got := make([]string, 10)
	for i := range got {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := a
			if i%2 == 1 {
				c = b
			}
			n, err := c.Place(ctx, "3500")
			if err != nil {
				t.Error(err)
			}
			got[i] = n.ID
		}()
	}
	wg.Wait()
	for i, id := range got {
		if id != "b" {
			t.Fatalf("placement %d: %q (all %v), want b, the least loaded", i, id, got)
		}
	}

	// b dies: it stops refreshing; its entry and its room's expire.
	c, lc := node(t, r.Addr, "c", 300*time.Millisecond)
	defer c.Close(ctx)
	lc.set(0)
	n, err := c.Place(ctx, "3600")
	if err != nil || n.ID == "a" {
		t.Fatalf("3600 placed on %q (%v), want the idle b or c", n.ID, err)
	}
	if n.ID == "c" {
		waitFor(t, "c's entry expires", func() bool { nodes, _ := a.Nodes(ctx); return len(nodes) == 2 })
		n, err = a.Place(ctx, "3600")
		if err != nil || n.ID == "c" {
			t.Fatalf("3600 after c died: %q %v", n.ID, err)
		}
	}

	a.Drain(ctx)
	if n, err := a.Place(ctx, "3700"); err != nil || n.ID != "b" {
		t.Errorf("a draining node placed 3700 on %q (%v), want b", n.ID, err)
	}
}

// TestRegistryLost: with Redis gone, a room this node holds stays its own
// and others fail with ErrUnavailable; when Redis is back the node
// registers again by itself and its room's entry is restored.
func TestRegistryLost(t *testing.T) {
	r := clustertest.StartRedis(t)
	ctx := context.Background()
	a, la := node(t, r.Addr, "a", 300*time.Millisecond)
	defer a.Close(ctx)
	a.Start()
	if n, err := a.Place(ctx, "3500"); err != nil || n.ID != "a" {
		t.Fatalf("placed on %q, %v", n.ID, err)
	}
	la.set(1, "3500")
	r.Stop()
	waitFor(t, "the node notices", func() bool { return !a.Healthy() })
	if n, err := a.Place(ctx, "3500"); err != nil || n.ID != "a" {
		t.Errorf("the held room with Redis gone: %q %v", n.ID, err)
	}
	if _, err := a.Place(ctx, "4000"); !errors.Is(err, ErrUnavailable) {
		t.Errorf("another room with Redis gone: %v, want ErrUnavailable", err)
	}
	r.Start(t)
	waitFor(t, "the node registers again", a.Healthy)
	b, _ := node(t, r.Addr, "b", time.Second)
	defer b.Close(ctx)
	if n, err := b.Place(ctx, "3500"); err != nil || n.ID != "a" {
		t.Errorf("3500 after Redis came back: %q %v, want a", n.ID, err)
	}
}
