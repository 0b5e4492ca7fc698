package signalling

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/confd/confd/room"
)

// laView is a subscriber's copy of the live array, kept as verto.js keeps
// it: bootObj replaces the list, add/modify/del edit it, and every
// non-negative wireSerno must follow the last one exactly (verto-spec §9.3).
type laView struct {
	rows      map[string][]any
	lastSerno int
	events    int
}

type laFrame struct {
	Action    string          `json:"action"`
	Name      string          `json:"name"`
	HashKey   string          `json:"hashKey"`
	WireSerno int             `json:"wireSerno"`
	Data      json.RawMessage `json:"data"`
}

func (v *laView) apply(f laFrame) error {
	if f.WireSerno >= 0 {
		if v.lastSerno != 0 && f.WireSerno != v.lastSerno+1 {
			return fmt.Errorf("%s wireSerno %d after %d", f.Action, f.WireSerno, v.lastSerno)
		}
		v.lastSerno = f.WireSerno
	}
	v.events++
	switch f.Action {
	case "bootObj":
		var pairs [][2]json.RawMessage
		if err := json.Unmarshal(f.Data, &pairs); err != nil {
			return err
		}
		v.rows = map[string][]any{}
		for _, p := range pairs {
			var key string
			var row []any
			_ = json.Unmarshal(p[0], &key)
			_ = json.Unmarshal(p[1], &row)
			v.rows[key] = row
		}
	case "add", "modify":
		var row []any
		if err := json.Unmarshal(f.Data, &row); err != nil || len(row) != 7 {
			return fmt.Errorf("%s row %s: want 7 columns", f.Action, f.Data)
		}
		if _, ok := row[5].(map[string]any); !ok {
			return fmt.Errorf("row %s: column 5 must be an object", f.Data)
		}
		v.rows[f.HashKey] = row
	case "del":
		delete(v.rows, f.HashKey)
	}
	return nil
}

// watcher is a member subscribed to the live array.
type watcher struct {
	c    *wsClient
	view laView
}

func newWatcher(ctx context.Context, t *testing.T, env *testEnv, name string) *watcher {
	c := dialRaw(ctx, t, env.url, "")
	c.login(ctx, name, "guest")
	c.invite(ctx, "3500", 0)
	la := "conference-liveArray.3500@" + testDomain
	c.result(ctx, "verto.subscribe", map[string]any{"eventChannel": la})
	c.result(ctx, "verto.broadcast", map[string]any{"eventChannel": la, "data": map[string]any{
		"liveArray": map[string]any{"command": "bootstrap", "context": la, "name": "3500"}}})
	w := &watcher{c: c}
	w.view.rows = map[string][]any{}
	return w
}

// catchUp applies the live-array events as they come until the view has
// seen the server's last wireSerno, failing when ctx ends first.
func (w *watcher) catchUp(ctx context.Context, t *testing.T, last int) {
	t.Helper()
	for w.view.lastSerno != last {
		f, ok := w.c.tryNext(ctx)
		if !ok {
			t.Fatalf("%s stopped at wireSerno %d, the server is at %d", w.c.sessid, w.view.lastSerno, last)
		}
		var p struct {
			Data laFrame `json:"data"`
		}
		if f.Method != "verto.event" || json.Unmarshal(f.Params, &p) != nil || p.Data.Name != "3500" {
			continue
		}
		if err := w.view.apply(p.Data); err != nil {
			t.Fatalf("%s: %v", w.c.sessid, err)
		}
	}
}

// TestLiveArrayConsistency: 30 members join and leave in random order
// while three others stay subscribed. Every subscriber's wireSerno is
// consecutive throughout, and its final list equals the room's.
func TestLiveArrayConsistency(t *testing.T) {
	env := startServer(t, func(c *Config) { c.AllowGuests = true })
	ctx := testCtx(t, 120*time.Second)
	var watchers []*watcher
	for i := range 3 {
		watchers = append(watchers, newWatcher(ctx, t, env, fmt.Sprintf("watcher%d", i)))
	}
	rng := rand.New(rand.NewPCG(7, 11))
	type churner struct {
		c    *wsClient
		call *rawCall
	}
	var in []churner
	for joined := 0; joined < 30 || len(in) > 0; {
		if joined < 30 && (len(in) == 0 || rng.IntN(3) > 0) {
			c := dialRaw(ctx, t, env.url, "")
			c.login(ctx, fmt.Sprintf("churn%d", joined), "guest")
			in = append(in, churner{c, c.invite(ctx, "3500", 0)})
			joined++
			continue
		}
		i := rng.IntN(len(in))
		ch := in[i]
		ch.c.result(ctx, "verto.bye", map[string]any{"dialogParams": map[string]any{"callID": ch.call.id}})
		ch.c.Close()
		in = slices.Delete(in, i, i+1)
	}

	want, last := roomState(env)
	for _, w := range watchers {
		w.catchUp(ctx, t, last)
		if got := slices.Sorted(maps.Keys(w.view.rows)); !slices.Equal(got, want) {
			t.Errorf("%s sees %v, the room has %v", w.c.sessid, got, want)
		}
		if w.view.events < 60 {
			t.Errorf("%s applied only %d events", w.c.sessid, w.view.events)
		}
	}
}

// roomState is the room's row keys and the live array's last wireSerno,
// read together under the room's lock.
func roomState(env *testEnv) (keys []string, serno int) {
	r, _ := env.rooms.Lookup("3500")
	conf := env.srv.conferenceOf(r, false)
	r.Snapshot(func(rows []room.Row) {
		for _, row := range rows {
			keys = append(keys, row.Key)
		}
		serno = conf.serno
	})
	slices.Sort(keys)
	return keys, serno
}
