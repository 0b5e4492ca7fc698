package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"
)

// Defaults.
const (
	DefaultTTL     = 10 * time.Second
	DefaultKey     = "confd"
	minRefreshRate = 3 // a TTL is refreshed this many times over
)

// Errors a join may meet.
var (
	// ErrUnavailable: Redis cannot be reached, and the room is not one this
	// node holds, so nobody can tell where it lives.
	ErrUnavailable = errors.New("cluster: the room registry (Redis) is unavailable")
	// ErrNoNode: no live node can take the room.
	ErrNoNode = errors.New("cluster: no live node to place the room on")
	// ErrDraining: this node is stopping and takes no new rooms.
	ErrDraining = errors.New("cluster: this node is stopping")
)

// Config is how a node finds the others.
type Config struct {
	// Redis is the registry's address ("host:port") and Password its
	// password (none when empty); DB its database number.
	Redis    string
	Password string
	DB       int
	// NodeID names this node; it must be unique in the cluster.
	NodeID string
	// Advertise is the base URL at which the other nodes reach this one
	// for relayed signalling (http://10.0.0.2:8080).
	Advertise string
	// AdvertiseSIP is the address ("host:port", UDP) at which the others
	// send this node the SIP calls for its rooms; empty: none.
	AdvertiseSIP string
	// TTL is how long a node's entry and its rooms' entries live without
	// being refreshed (default 10 s): a dead node's rooms are placed again
	// this long after it died at most.
	TTL time.Duration
	// Prefix starts every key (default "confd"), so that clusters can
	// share a Redis.
	Prefix string
	Log    *zap.Logger
}

// Node is one node as the registry has it.
type Node struct {
	ID        string  `json:"id"`
	Advertise string  `json:"advertise"`
	SIP       string  `json:"sip,omitempty"`
	Members   int     `json:"members"`
	CPU       float64 `json:"cpu"` // cores busy, over the last refresh
	Draining  bool    `json:"draining,omitempty"`
}

// Load is what a node reports of itself at each refresh.
type Load struct {
	Members int
	CPU     float64
	// Rooms are the rooms with members on this node: their entries are
	// kept alive with the node's.
	Rooms []string
}

// Cluster is this node's view of the cluster: its own registration, and
// where each room lives.
type Cluster struct {
	cfg  Config
	log  *zap.Logger
	rdb  *redis.Client
	load func() Load

	mu       sync.Mutex
	draining bool
	healthy  bool
	held     map[string]bool // rooms this node holds, as of the last refresh and since

	started bool // guarded by mu
	stop    chan struct{}
	done    chan struct{}
}

// New connects to the registry. A Redis that cannot be reached at start is
// an error: a node that cannot register would place rooms nobody else
// knows of.
func New(ctx context.Context, cfg Config, load func() Load) (*Cluster, error) {
	if cfg.TTL <= 0 {
		cfg.TTL = DefaultTTL
	}
	if cfg.Prefix == "" {
		cfg.Prefix = DefaultKey
	}
	if cfg.Log == nil {
		cfg.Log = zap.NewNop()
	}
	switch {
	case cfg.Redis == "":
		return nil, errors.New("cluster: redis address is required")
	case cfg.NodeID == "" || strings.ContainsAny(cfg.NodeID, " :{}"):
		return nil, fmt.Errorf("cluster: node_id %q must be set, without spaces, colons or braces", cfg.NodeID)
	case cfg.Advertise == "":
		return nil, errors.New("cluster: advertise (this node's base URL for the others) is required")
	}
	quietRedis.Do(func() { redis.SetLogger(quiet{}) })
	rdb := redis.NewClient(&redis.Options{
		Addr: cfg.Redis, Password: cfg.Password, DB: cfg.DB,
		DialTimeout: 2 * time.Second, ReadTimeout: 2 * time.Second, WriteTimeout: 2 * time.Second,
		MaxRetries: -1, // the refresh loop retries; a join fails fast
	})
	pctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	if err := rdb.Ping(pctx).Err(); err != nil {
		_ = rdb.Close()
		return nil, fmt.Errorf("cluster: redis at %s: %w", cfg.Redis, err)
	}
	c := &Cluster{cfg: cfg, log: cfg.Log, rdb: rdb, load: load, held: map[string]bool{}, healthy: true,
		stop: make(chan struct{}), done: make(chan struct{})}
	if err := c.refresh(pctx); err != nil {
		_ = rdb.Close()
		return nil, fmt.Errorf("cluster: registering %s: %w", cfg.NodeID, err)
	}
	return c, nil
}

// quietRedis silences go-redis's own log (the process's default logger,
// a line per failed dial): the cluster logs the registry's state itself,
// once per change.
var quietRedis sync.Once

type quiet struct{}

func (quiet) Printf(context.Context, string, ...any) {}

// Self is this node's ID.
func (c *Cluster) Self() string { return c.cfg.NodeID }

// Start keeps the node's entry and its rooms' entries alive until Close.
func (c *Cluster) Start() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.started {
		c.started = true
		go c.run()
	}
}

func (c *Cluster) run() {
	defer close(c.done)
	t := time.NewTicker(c.cfg.TTL / minRefreshRate)
	defer t.Stop()
	for {
		select {
		case <-c.stop:
			return
		case <-t.C:
		}
		ctx, cancel := context.WithTimeout(context.Background(), c.cfg.TTL/minRefreshRate)
		err := c.refresh(ctx)
		cancel()
		c.setHealthy(err)
	}
}

func (c *Cluster) setHealthy(err error) {
	c.mu.Lock()
	was := c.healthy
	c.healthy = err == nil
	c.mu.Unlock()
	switch {
	case err != nil && was:
		c.log.Warn("the room registry is unreachable; the rooms held here go on", zap.Error(err))
	case err == nil && !was:
		c.log.Info("the room registry is back; registered again")
	}
}

// Healthy says whether the last refresh reached the registry.
func (c *Cluster) Healthy() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.healthy
}

func (c *Cluster) nodeKey(id string) string  { return c.cfg.Prefix + ":node:" + id }
func (c *Cluster) roomKey(num string) string { return c.cfg.Prefix + ":room:" + num }

// refresh writes this node's entry and renews the entries of the rooms it
// holds, all with the TTL.
func (c *Cluster) refresh(ctx context.Context) error {
	l := c.load()
	c.mu.Lock()
	draining := c.draining
	for k := range c.held {
		delete(c.held, k)
	}
	for _, r := range l.Rooms {
		c.held[r] = true
	}
	c.mu.Unlock()
	n := Node{ID: c.cfg.NodeID, Advertise: c.cfg.Advertise, SIP: c.cfg.AdvertiseSIP, Members: l.Members, CPU: l.CPU, Draining: draining}
	b, _ := json.Marshal(n)
	_, err := c.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.Set(ctx, c.nodeKey(n.ID), b, c.cfg.TTL)
		for _, r := range l.Rooms {
			// Only a room still ours is renewed (it may have been placed
			// again while this node was out of reach).
			p.Eval(ctx, renewScript, []string{c.roomKey(r)}, c.cfg.NodeID, c.cfg.TTL.Milliseconds())
		}
		return nil
	})
	return err
}

// renewScript renews a room's entry if it names this node, or claims it
// if it has none (a room this node held through a registry outage).
const renewScript = `
local v = redis.call('GET', KEYS[1])
if v == ARGV[1] or not v then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
end
return 0`

// Nodes lists the live nodes, this one included.
func (c *Cluster) Nodes(ctx context.Context) ([]Node, error) {
	var keys []string
	iter := c.rdb.Scan(ctx, 0, c.cfg.Prefix+":node:*", 100).Iterator()
	for iter.Next(ctx) {
		keys = append(keys, iter.Val())
	}
	if err := iter.Err(); err != nil {
		return nil, err
	}
	if len(keys) == 0 {
		return nil, nil
	}
	vals, err := c.rdb.MGet(ctx, keys...).Result()
	if err != nil {
		return nil, err
	}
	var out []Node
	for _, v := range vals {
		s, ok := v.(string)
		if !ok {
			continue
		}
		var n Node
		if json.Unmarshal([]byte(s), &n) == nil && n.ID != "" {
			out = append(out, n)
		}
	}
	slices.SortFunc(out, func(a, b Node) int { return strings.Compare(a.ID, b.ID) })
	return out, nil
}

// Place says which node the room lives on. A room without an entry is
// placed, by an atomic claim, on the least loaded live node that is not
// draining; this node's own draining refuses new rooms. With the registry
// out of reach, a room this node holds is still its own; any other fails
// with ErrUnavailable.
func (c *Cluster) Place(ctx context.Context, room string) (Node, error) {
	c.mu.Lock()
	held, draining := c.held[room], c.draining
	c.mu.Unlock()
	owner, err := c.rdb.Get(ctx, c.roomKey(room)).Result()
	switch {
	case errors.Is(err, redis.Nil):
	case err != nil:
		if held {
			return c.selfNode(), nil
		}
		return Node{}, fmt.Errorf("%w: %v", ErrUnavailable, err)
	default:
		if owner == c.cfg.NodeID {
			return c.selfNode(), nil
		}
		if n, ok := c.node(ctx, owner); ok {
			return n, nil
		}
		// The entry names a node that is gone: place the room again.
		c.rdb.Eval(ctx, dropIfScript, []string{c.roomKey(room)}, owner)
	}
	nodes, err := c.Nodes(ctx)
	if err != nil {
		return Node{}, fmt.Errorf("%w: %v", ErrUnavailable, err)
	}
	nodes = slices.DeleteFunc(nodes, func(n Node) bool { return n.Draining })
	if draining {
		nodes = slices.DeleteFunc(nodes, func(n Node) bool { return n.ID == c.cfg.NodeID })
	}
	if len(nodes) == 0 {
		return Node{}, ErrNoNode
	}
	best := slices.MinFunc(nodes, func(a, b Node) int {
		if a.Members != b.Members {
			return a.Members - b.Members
		}
		if a.CPU != b.CPU {
			if a.CPU < b.CPU {
				return -1
			}
			return 1
		}
		return strings.Compare(a.ID, b.ID)
	})
	ok, err := c.rdb.SetNX(ctx, c.roomKey(room), best.ID, c.cfg.TTL).Result()
	if err != nil {
		return Node{}, fmt.Errorf("%w: %v", ErrUnavailable, err)
	}
	if !ok { // another node placed it first: that placement stands
		return c.Place(ctx, room)
	}
	c.log.Info("room placed", zap.String("room", room), zap.String("node", best.ID))
	if best.ID == c.cfg.NodeID {
		c.Hold(room)
	}
	return best, nil
}

// dropIfScript deletes a room's entry if it still names a node found gone.
const dropIfScript = `
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0`

func (c *Cluster) node(ctx context.Context, id string) (Node, bool) {
	s, err := c.rdb.Get(ctx, c.nodeKey(id)).Result()
	if err != nil {
		return Node{}, false
	}
	var n Node
	if json.Unmarshal([]byte(s), &n) != nil {
		return Node{}, false
	}
	return n, true
}

func (c *Cluster) selfNode() Node {
	return Node{ID: c.cfg.NodeID, Advertise: c.cfg.Advertise, SIP: c.cfg.AdvertiseSIP}
}

// Where says which node the room lives on without placing it: ok is
// false when it lives nowhere (it has no members anywhere) or on a node
// that is gone. With the registry out of reach, a room held here is
// here; any other fails with ErrUnavailable.
func (c *Cluster) Where(ctx context.Context, room string) (n Node, ok bool, err error) {
	c.mu.Lock()
	held := c.held[room]
	c.mu.Unlock()
	owner, err := c.rdb.Get(ctx, c.roomKey(room)).Result()
	switch {
	case errors.Is(err, redis.Nil):
		return Node{}, false, nil
	case err != nil:
		if held {
			return c.selfNode(), true, nil
		}
		return Node{}, false, fmt.Errorf("%w: %v", ErrUnavailable, err)
	case owner == c.cfg.NodeID:
		return c.selfNode(), true, nil
	}
	n, ok = c.node(ctx, owner)
	return n, ok, nil
}

// Draining says whether Drain was called.
func (c *Cluster) Draining() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.draining
}

// Hold marks a room as this node's until the next refresh says whether it
// still has members.
func (c *Cluster) Hold(room string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.held[room] = true
}

// Drain stops the node from taking new rooms and tells the registry: its
// entry says so, and its rooms' entries go once their members are gone.
func (c *Cluster) Drain(ctx context.Context) {
	c.mu.Lock()
	c.draining = true
	c.mu.Unlock()
	if err := c.refresh(ctx); err != nil {
		c.log.Warn("cannot tell the registry this node is draining", zap.Error(err))
	}
}

// Close stops refreshing and takes this node and its rooms out of the
// registry, so that the next join of each places it again at once.
func (c *Cluster) Close(ctx context.Context) {
	c.mu.Lock()
	started := c.started
	c.mu.Unlock()
	select {
	case <-c.stop:
	default:
		close(c.stop)
		if started {
			select {
			case <-c.done:
			case <-ctx.Done():
			}
		}
	}
	c.mu.Lock()
	var rooms []string
	for r := range c.held {
		rooms = append(rooms, r)
	}
	c.mu.Unlock()
	for _, r := range rooms {
		c.rdb.Eval(ctx, dropIfScript, []string{c.roomKey(r)}, c.cfg.NodeID)
	}
	c.rdb.Del(ctx, c.nodeKey(c.cfg.NodeID))
	_ = c.rdb.Close()
}
