package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/redis/go-redis/v9"
	"go.uber.org/zap/zaptest"

	"github.com/confd/confd/cluster"
	"github.com/confd/confd/cluster/clustertest"
	"github.com/confd/confd/dialin/dialintest"
	"github.com/confd/confd/signalling/vertotest"
)

const testClusterSecret = "cluster-secret-0123456789"

// clusterTTL is short so that a dead node's rooms are placed again soon.
const clusterTTL = 2 * time.Second

// startClusterNode runs one node of a cluster on loopback: HTTP, SIP over
// UDP, the API, rooms 3500 and 3600. Its shutdown at the test's end is
// skipped once kill has run.
func startClusterNode(t *testing.T, redisAddr, id string) *app {
	t.Helper()
	cfg, err := loadConfig("")
	if err != nil {
		t.Fatal(err)
	}
	cfg.Listen = ListenConfig{HTTP: "127.0.0.1:0", SIPUDP: "127.0.0.1:0"}
	cfg.SIP.RTPIP = "127.0.0.1"
	cfg.WebRTC.LoopbackOnly = true
	cfg.DataDir = t.TempDir()
	withAPI(&cfg)
	cfg.Users = []UserConfig{{Login: "mod", Password: "mod-password", Name: "Moderator", Role: "moderator"}}
	cfg.Rooms = []RoomConfig{{Number: "3500", Name: "Default room", WHEP: "open"}, {Number: "3600", Name: "Other room"}}
	cfg.Cluster = ClusterConfig{Redis: redisAddr, NodeID: id, Secret: testClusterSecret, TTL: clusterTTL}
	if err := cfg.validate(); err != nil {
		t.Fatal(err)
	}
	a, err := newApp(cfg, zaptest.NewLogger(t).Named(id))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if a.cluster.killed {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		a.shutdown(ctx)
	})
	return a
}

// kill stops a node as a crash would for the others: it stops refreshing
// its entries and leaves them in Redis to expire; its listeners close.
func (a *app) kill(t *testing.T) {
	t.Helper()
	gone, cancel := context.WithCancel(context.Background())
	cancel()
	a.clusterReg().Close(gone) // a cancelled context: nothing is deleted
	ctx, stop := context.WithTimeout(context.Background(), 10*time.Second)
	defer stop()
	a.shutdown(ctx)
	a.cluster.killed = true
}

func (a *app) httpBase() string { return "http://" + a.addrs["http"].String() }

// owner is the node 3500 lives on, as n's registry has it.
func owner(t *testing.T, n *app, room string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	node, ok, err := n.clusterReg().Where(ctx, room)
	if err != nil || !ok {
		t.Fatalf("room %s lives nowhere: %v", room, err)
	}
	return node.ID
}

// apiDo calls a node's API with the test key.
func apiDo(t *testing.T, a *app, method, path string, out any) int {
	t.Helper()
	req, err := http.NewRequest(method, a.httpBase()+"/api/v1"+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+testAPIKey)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	if out != nil && res.StatusCode < 300 {
		if err := json.Unmarshal(body, out); err != nil {
			t.Fatalf("%s %s: %v in %s", method, path, err, body)
		}
	}
	return res.StatusCode
}

// TestCluster: three nodes share one Redis. Two pion members join 3500
// through different nodes and see and hear each other; a phone dialling
// the third node is in the same mix; the API through a node that does not
// hold the room lists it with its members and mutes one who joined
// through another node. Killing the room's node: a new join places 3500 on
// a surviving node and works. Losing Redis: the room held keeps working,
// a join through another node fails with a cause, and once Redis is back
// the nodes register again and relayed joins work again.
func TestCluster(t *testing.T) {
	r := clustertest.StartRedis(t)
	nodes := []*app{startClusterNode(t, r.Addr, "n1"), startClusterNode(t, r.Addr, "n2"), startClusterNode(t, r.Addr, "n3")}
	byID := map[string]*app{"n1": nodes[0], "n2": nodes[1], "n3": nodes[2]}
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()

	joinVia := func(a *app, name string, ssrc uint32, hz float64) (*vertotest.Client, *vertotest.Call) {
		t.Helper()
		c, call, err := vertotest.Join(ctx, a.vertoURL(), name, "guest", vertotest.CallOptions{Dest: "3500", Name: name, Slots: 1, Publish: true, SSRC: ssrc, ToneHz: hz})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		t.Cleanup(func() { call.Close(); _ = c.Close() })
		return c, call
	}
	// 3500 is placed on n1 (as its first join would, were n1 the least
	// loaded), so that bob through n2 is relayed and the phone through n3
	// proxied.
	rdb := redis.NewClient(&redis.Options{Addr: r.Addr})
	if err := rdb.Set(ctx, "confd:room:3500", "n1", time.Minute).Err(); err != nil {
		t.Fatal(err)
	}
	_ = rdb.Close()
	_, alice := joinVia(nodes[0], "alice", 1111, 440)
	bobClient, bob := joinVia(nodes[1], "bob", 2222, 880)
	home := owner(t, nodes[2], "3500")
	if home != "n1" {
		t.Fatalf("3500 lives on %s, want n1", home)
	}
	for _, w := range []struct {
		viewer *vertotest.Call
		src    uint32
	}{{alice, 2222}, {bob, 1111}} {
		if err := w.viewer.WaitSources(ctx, w.src); err != nil {
			t.Fatalf("%v never saw %d: %v", w.viewer, w.src, err)
		}
	}
	phone, err := dialintest.Dial(ctx, nodes[2].sipAddr(t, "udp"), dialintest.Options{Dest: "3500", Codecs: []string{"PCMU"}, ToneHz: 330})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(phone.Close)
	listen(ctx, t, alice, bob)
	hears(t, "alice", alice, 880, true)
	hears(t, "alice", alice, 330, true)
	hears(t, "bob", bob, 440, true)
	hears(t, "bob", bob, 330, true)
	waitPhone(ctx, t, "440 Hz", phone, func(pcm []int16) bool { return dialintest.ToneLevel(pcm, 440) > presentDB })
	waitPhone(ctx, t, "880 Hz", phone, func(pcm []int16) bool { return dialintest.ToneLevel(pcm, 880) > presentDB })

	// The API through a node that does not hold 3500.
	var via *app
	for _, n := range nodes {
		if n.cfg.Cluster.NodeID != home {
			via = n
			break
		}
	}
	var list struct {
		Rooms []struct {
			Number      string `json:"number"`
			MemberCount int    `json:"member_count"`
			Node        string `json:"node"`
		} `json:"rooms"`
	}
	if st := apiDo(t, via, http.MethodGet, "/rooms", &list); st != http.StatusOK {
		t.Fatalf("GET /rooms through %s = %d", via.cfg.Cluster.NodeID, st)
	}
	found := false
	for _, rm := range list.Rooms {
		if rm.Number == "3500" {
			found = true
			if rm.MemberCount != 3 || rm.Node != home {
				t.Errorf("GET /rooms through %s: 3500 has %d members on %q, want 3 on %s", via.cfg.Cluster.NodeID, rm.MemberCount, rm.Node, home)
			}
		}
	}
	if !found {
		t.Errorf("GET /rooms through %s lists no 3500: %+v", via.cfg.Cluster.NodeID, list)
	}
	// Each node's /metrics is its own.
	for _, n := range nodes {
		id := n.cfg.Cluster.NodeID
		_, body := get(t, n.httpBase()+"/metrics")
		held := map[bool]string{true: "1", false: "0"}[id == home]
		for _, want := range []string{`confd_cluster_registry_up{node="` + id + `"} 1`, `confd_cluster_rooms_held{node="` + id + `"} ` + held} {
			if !strings.Contains(body, want+"\n") {
				t.Errorf("%s's /metrics lacks %s", id, want)
			}
		}
	}
	var detail struct {
		Members []struct {
			ID   int    `json:"id"`
			Name string `json:"name"`
		} `json:"members"`
	}
	if st := apiDo(t, via, http.MethodGet, "/rooms/3500", &detail); st != http.StatusOK {
		t.Fatalf("GET /rooms/3500 through %s = %d", via.cfg.Cluster.NodeID, st)
	}
	bobID := -1
	for _, m := range detail.Members {
		if m.Name == "bob" {
			bobID = m.ID
		}
	}
	if bobID < 0 {
		t.Fatalf("no bob in %+v", detail)
	}
	// A moderator logged in through n3 mutes bob, who joined through n2;
	// the live array (which runs on n1) shows it.
	modClient, _, err := vertotest.Join(ctx, nodes[2].vertoURL(), "mod", "mod-password", vertotest.CallOptions{Dest: "3500", Name: "Moderator"})
	if err != nil {
		t.Fatalf("moderator: %v", err)
	}
	t.Cleanup(func() { _ = modClient.Close() })
	const modChan, la = "conference-mod.3500@localhost", "conference-liveArray.3500@localhost"
	if r, err := modClient.Request(ctx, "verto.subscribe", map[string]any{"eventChannel": []string{modChan, la}}); err != nil || r.Error != nil {
		t.Fatalf("subscribe: %v %v", err, r.Error)
	}
	if r, err := modClient.Request(ctx, "verto.broadcast", map[string]any{"eventChannel": modChan,
		"data": map[string]any{"application": "conf-control", "command": "mute", "id": fmt.Sprint(bobID), "value": nil}}); err != nil || r.Error != nil {
		t.Fatalf("the moderator's mute: %v %v", err, r.Error)
	}
	waitRowMuted(ctx, t, modClient, la, "bob")
	waitGone(ctx, t, 880, alice)
	listen(ctx, t, alice)
	hears(t, "alice after bob's mute", alice, 880, false)
	hears(t, "alice after bob's mute", alice, 330, true)

	// A WHEP viewer through n2 (the room is on n1) sees alice; its
	// session's DELETE goes through n2 as well.
	viewer, whep, err := vertotest.Watch(ctx, nodes[1].httpBase()+"/whep/3500", "", vertotest.CallOptions{Name: "viewer"})
	if err != nil {
		t.Fatalf("WHEP through n2: %v", err)
	}
	if err := viewer.WaitSources(ctx, 1111); err != nil {
		t.Fatalf("the WHEP viewer through n2 never saw alice: %v", err)
	}
	if st, err := whep.Delete(ctx); err != nil || st != http.StatusOK {
		t.Errorf("DELETE of the WHEP session through n2 = %d, %v", st, err)
	}
	viewer.Close()

	// Bob's websocket to n2 drops; he reconnects to n2 with his sessid,
	// and his call, on n1, is reattached through the relay.
	_ = bobClient.Close()
	nc, err := vertotest.Dial(ctx, nodes[1].vertoURL(), bobClient.Sessid)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = nc.Close() })
	nc.Adopt(bob)
	if err := nc.Login(ctx, "bob", "guest"); err != nil {
		t.Fatalf("bob's login again: %v", err)
	}
	select {
	case <-bob.Attached():
	case <-ctx.Done():
		t.Fatal("bob's call was never reattached through n2")
	}
	if err := bob.AttachErr(); err != nil {
		t.Fatalf("bob's reattach: %v", err)
	}
	listen(ctx, t, bob)
	hears(t, "bob after reattaching", bob, 440, true)

	// The room's node dies: a join through a survivor places 3500 again.
	byID[home].kill(t)
	var survivors []*app
	for _, n := range nodes {
		if n.cfg.Cluster.NodeID != home {
			survivors = append(survivors, n)
		}
	}
	err = vertotest.WaitFor(ctx, func() bool {
		c, cancel := context.WithTimeout(ctx, time.Second)
		defer cancel()
		live, err := survivors[0].clusterReg().Nodes(c)
		return err == nil && !slices.ContainsFunc(live, func(n cluster.Node) bool { return n.ID == home })
	})
	if err != nil {
		t.Fatalf("the dead %s never left the registry", home)
	}
	_, carol := joinVia(survivors[0], "carol", 3333, 440)
	home2 := owner(t, survivors[0], "3500")
	if home2 == home {
		t.Fatalf("3500 still placed on the dead %s", home)
	}
	_, dave := joinVia(survivors[1], "dave", 4444, 660)
	listen(ctx, t, carol, dave)
	hears(t, "carol", carol, 660, true)
	hears(t, "dave", dave, 440, true)

	// Redis goes: the room held keeps working, and a join through the
	// other node fails with a cause.
	held, other := byID[home2], survivors[0]
	if other == held {
		other = survivors[1]
	}
	r.Stop()
	if err := vertotest.WaitFor(ctx, func() bool { return !held.clusterReg().Healthy() && !other.clusterReg().Healthy() }); err != nil {
		t.Fatal("the nodes never noticed Redis was gone")
	}
	listen(ctx, t, carol, dave)
	hears(t, "carol without Redis", carol, 660, true)
	hears(t, "dave without Redis", dave, 440, true)
	_, erin := joinVia(held, "erin", 5555, 0) // the room's own node takes joins
	listen(ctx, t, erin)
	hears(t, "erin without Redis", erin, 660, true)
	cause := refusedInvite(ctx, t, other, "3500")
	if !strings.Contains(cause, "unavailable") {
		t.Errorf("a join through %s without Redis: %s, want a cause naming the registry", other.cfg.Cluster.NodeID, cause)
	}

	// Redis is back: the nodes register again, and relayed joins work.
	r.Start(t)
	err = vertotest.WaitFor(ctx, func() bool {
		if !held.clusterReg().Healthy() || !other.clusterReg().Healthy() {
			return false
		}
		c, cancel := context.WithTimeout(ctx, time.Second)
		defer cancel()
		n, ok, err := other.clusterReg().Where(c, "3500")
		return err == nil && ok && n.ID == home2
	})
	if err != nil {
		t.Fatal("the nodes never registered again once Redis was back")
	}
	_, frank := joinVia(other, "frank", 6666, 0)
	listen(ctx, t, frank)
	hears(t, "frank after Redis came back", frank, 660, true)
}

// refusedInvite logs in to a node and sends an invite for room that must
// be refused; it returns the error as the client sees it.
func refusedInvite(ctx context.Context, t *testing.T, a *app, room string) string {
	t.Helper()
	conn, _, err := websocket.DefaultDialer.DialContext(ctx, a.vertoURL(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	send := func(id int, method string, params any) {
		b, _ := json.Marshal(map[string]any{"jsonrpc": "2.0", "id": id, "method": method, "params": params})
		if err := conn.WriteMessage(websocket.TextMessage, b); err != nil {
			t.Fatal(err)
		}
	}
	send(1, "login", map[string]any{"login": "zed", "passwd": "guest"})
	send(2, "verto.invite", map[string]any{"sdp": "v=0\r\n", "dialogParams": map[string]any{"callID": "11111111-2222-3333-4444-555555555555", "destination_number": room}})
	_ = conn.SetReadDeadline(time.Now().Add(30 * time.Second))
	for {
		_, frame, err := conn.ReadMessage()
		if err != nil {
			t.Fatalf("no reply to the invite: %v", err)
		}
		var m struct {
			ID     int             `json:"id"`
			Method string          `json:"method"`
			Result json.RawMessage `json:"result"`
			Error  json.RawMessage `json:"error"`
		}
		if json.Unmarshal(frame, &m) != nil || m.ID != 2 || m.Method != "" {
			continue
		}
		if m.Error == nil {
			t.Fatalf("the invite was not refused: %s", frame)
		}
		t.Logf("invite refused: %s", m.Error)
		return string(m.Error)
	}
}

// TestClusterRedisUnavailableAtStart: a node whose Redis cannot be reached
// does not start, and says why.
func TestClusterRedisUnavailableAtStart(t *testing.T) {
	cfg, err := loadConfig("")
	if err != nil {
		t.Fatal(err)
	}
	cfg.Listen = ListenConfig{HTTP: "127.0.0.1:0"}
	cfg.WebRTC.LoopbackOnly = true
	cfg.DataDir = t.TempDir()
	cfg.Cluster = ClusterConfig{Redis: "127.0.0.1:1", NodeID: "n1", Secret: testClusterSecret}
	if err := cfg.validate(); err != nil {
		t.Fatal(err)
	}
	a, err := newApp(cfg, zaptest.NewLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	_, err = a.start()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	a.shutdown(ctx)
	if err == nil || !strings.Contains(err.Error(), "redis at 127.0.0.1:1") {
		t.Fatalf("start = %v, want an error naming Redis", err)
	}
	t.Log(err)
}

// TestClusterDrain: a node being stopped tells Redis it is draining, takes
// no new rooms (a join through it is placed on another node), and leaves
// the registry with its rooms once stopped.
func TestClusterDrain(t *testing.T) {
	r := clustertest.StartRedis(t)
	n1, n2 := startClusterNode(t, r.Addr, "n1"), startClusterNode(t, r.Addr, "n2")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	// A relay with the wrong secret is refused, websocket and HTTP alike.
	hdr := http.Header{"X-Confd-Relay": {"not-the-secret"}}
	if _, res, err := websocket.DefaultDialer.DialContext(ctx, n2.vertoURL(), hdr); err == nil || res == nil || res.StatusCode != http.StatusForbidden {
		t.Errorf("a Verto relay with a wrong secret: %v, want 403", err)
	}
	req, _ := http.NewRequest(http.MethodGet, n2.httpBase()+"/api/v1/rooms", nil)
	req.Header = hdr
	req.Header.Set("Authorization", "Bearer "+testAPIKey)
	if res, err := http.DefaultClient.Do(req); err != nil || res.StatusCode != http.StatusForbidden {
		t.Errorf("an HTTP relay with a wrong secret: %v %v, want 403", res, err)
	} else {
		_ = res.Body.Close()
	}
	n1.drainCluster(ctx)
	live, err := n2.clusterReg().Nodes(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range live {
		if n.Draining != (n.ID == "n1") {
			t.Errorf("node %s draining = %v", n.ID, n.Draining)
		}
	}
	for _, room := range []string{"3500", "3600"} {
		node, err := n1.clusterReg().Place(ctx, room)
		if err != nil || node.ID != "n2" {
			t.Errorf("room %s placed through the draining n1 on %q (%v), want n2", room, node.ID, err)
		}
	}
	n1.shutdown(ctx)
	n1.cluster.killed = true // shut down already
	live, err = n2.clusterReg().Nodes(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if slices.ContainsFunc(live, func(n cluster.Node) bool { return n.ID == "n1" }) {
		t.Errorf("n1 is still registered after its shutdown: %+v", live)
	}
}

// TestClusterConfig: the cluster's keys are checked when the config loads;
// errors never show the secret.
func TestClusterConfig(t *testing.T) {
	for _, c := range []struct {
		cfg  ClusterConfig
		want string
	}{
		{ClusterConfig{Redis: "r:6379", Secret: testClusterSecret}, "node_id is required"},
		{ClusterConfig{Redis: "r:6379", NodeID: "a", Secret: "short"}, "secret is required"},
		{ClusterConfig{Redis: "r:6379", NodeID: "a", Secret: testClusterSecret, Advertise: "10.0.0.1:8080"}, "not a base URL"},
		{ClusterConfig{Redis: "r:6379", NodeID: "a", Secret: testClusterSecret, AdvertiseSIP: "10.0.0.1"}, "not host:port"},
		{ClusterConfig{Redis: "r:6379", NodeID: "a", Secret: testClusterSecret, Advertise: "http://10.0.0.1:8080", AdvertiseSIP: "10.0.0.1:5060"}, ""},
		{ClusterConfig{}, ""}, // alone
	} {
		err := c.cfg.validate()
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%+v: %v", c.cfg, err)
		case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
			t.Errorf("%+v: %v, want %q", c.cfg, err, c.want)
		case err != nil && strings.Contains(err.Error(), testClusterSecret):
			t.Errorf("the error shows the secret: %v", err)
		}
	}
}

// TestREADMEClusterConfig: the README's three-node example loads.
func TestREADMEClusterConfig(t *testing.T) {
	readme, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(readme), "## Several nodes (cluster)")
	_, block, ok2 := strings.Cut(section, "```yaml\n")
	block, _, ok3 := strings.Cut(block, "```")
	if !ok || !ok2 || !ok3 {
		t.Fatal("no yaml example in the README's cluster section")
	}
	path := filepath.Join(t.TempDir(), "c.yaml")
	writeFile(t, path, block)
	c, err := loadConfig(path)
	if err != nil {
		t.Fatalf("the README's example: %v", err)
	}
	if !c.Cluster.enabled() || c.Cluster.NodeID != "a" || c.Cluster.TTL != 10*time.Second {
		t.Errorf("cluster %+v", c.Cluster)
	}
}
