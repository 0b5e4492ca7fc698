package main

import (
	"bytes"
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"go.uber.org/zap"

	"github.com/confd/confd/cluster"
	"github.com/confd/confd/control"
	"github.com/confd/confd/dialin"
	"github.com/confd/confd/signalling"
)

// ClusterConfig makes this node one of several that share the rooms
// through one Redis (or Valkey). Without redis the node runs alone.
type ClusterConfig struct {
	// Redis is the registry's address ("host:port"); Password and DB as
	// Redis has them.
	Redis    string `yaml:"redis"`
	Password string `yaml:"password"`
	DB       int    `yaml:"db"`
	// NodeID names this node, unique in the cluster.
	NodeID string `yaml:"node_id"`
	// Advertise is the base URL at which the other nodes reach this one's
	// HTTP listener (http://10.0.0.2:8080); default: the HTTP listener's
	// own address when it names an IP. AdvertiseSIP is its SIP address
	// over UDP (10.0.0.2:5060); default: the SIP UDP listener's, likewise.
	Advertise    string `yaml:"advertise"`
	AdvertiseSIP string `yaml:"advertise_sip"`
	// Secret authenticates the nodes to each other (relayed signalling);
	// the same on every node, at least 16 characters, never logged.
	Secret string `yaml:"secret"`
	// TTL is how long a node that stopped refreshing (it died) keeps its
	// rooms (default 10s).
	TTL time.Duration `yaml:"ttl"`
	// Prefix starts the keys in Redis (default "confd").
	Prefix string `yaml:"prefix"`
}

func (c ClusterConfig) enabled() bool { return c.Redis != "" }

func (c ClusterConfig) validate() error {
	if !c.enabled() {
		return nil
	}
	switch {
	case c.NodeID == "":
		return errors.New("cluster: node_id is required")
	case len(c.Secret) < 16:
		return errors.New("cluster: secret is required, at least 16 characters, the same on every node")
	case c.TTL < 0:
		return errors.New("cluster: ttl must not be negative")
	}
	if c.Advertise != "" {
		u, err := url.Parse(c.Advertise)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fmt.Errorf("cluster: advertise %q is not a base URL like http://10.0.0.2:8080", c.Advertise)
		}
	}
	if c.AdvertiseSIP != "" {
		if _, _, err := net.SplitHostPort(c.AdvertiseSIP); err != nil {
			return fmt.Errorf("cluster: advertise_sip %q is not host:port", c.AdvertiseSIP)
		}
	}
	return nil
}

// clusterNode is this node's part in the cluster: its registration, and
// the relays of signalling for rooms that live on other nodes.
type clusterNode struct {
	a    *app
	cfg  ClusterConfig
	c    atomic.Pointer[cluster.Cluster] // nil until start has registered
	http *http.Client                    // to the other nodes

	killed bool // the tests' crash: shutdown has run already

	cpuMu   sync.Mutex
	cpuLast time.Time
	cpuUsed time.Duration
}

// newCluster makes the node's cluster part; it registers when the
// listeners are bound (joinCluster).
func (a *app) newCluster() {
	if !a.cfg.Cluster.enabled() {
		return
	}
	a.cluster = &clusterNode{a: a, cfg: a.cfg.Cluster, http: &http.Client{Timeout: 10 * time.Second}}
	a.verto.SetRelay(signalling.Relay{Route: a.cluster.routeVerto, Secret: a.cfg.Cluster.Secret})
	if a.sip != nil {
		a.sip.SetRelay(dialin.Relay{Route: a.cluster.routeSIP, RouteWS: a.cluster.routeSIPWS, Secret: a.cfg.Cluster.Secret})
	}
}

// joinCluster registers the node. A Redis that cannot be reached is an
// error: confd does not start.
func (a *app) joinCluster() error {
	cn := a.cluster
	if cn == nil {
		return nil
	}
	adv := cn.cfg.Advertise
	if adv == "" {
		addr, ok := a.addrs["http"]
		if !ok || !namesIP(addr.String()) {
			return errors.New("cluster: advertise is required when the HTTP listener names no IP")
		}
		adv = "http://" + addr.String()
	}
	sipAdv := cn.cfg.AdvertiseSIP
	if sipAdv == "" && a.sip != nil {
		if ap, ok := a.sip.Addr("udp"); ok && namesIP(ap.String()) {
			sipAdv = ap.String()
		}
	}
	cn.cpuSample()
	c, err := cluster.New(context.Background(), cluster.Config{
		Redis: cn.cfg.Redis, Password: cn.cfg.Password, DB: cn.cfg.DB, NodeID: cn.cfg.NodeID,
		Advertise: strings.TrimSuffix(adv, "/"), AdvertiseSIP: sipAdv, TTL: cn.cfg.TTL, Prefix: cn.cfg.Prefix,
		Log: a.log.Named("cluster"),
	}, cn.load)
	if err != nil {
		return err
	}
	c.Start()
	cn.c.Store(c)
	a.log.Info("joined the cluster", zap.String("node", cn.cfg.NodeID), zap.String("advertise", adv), zap.String("sip", sipAdv))
	return nil
}

func namesIP(hostport string) bool {
	host, _, err := net.SplitHostPort(hostport)
	if err != nil {
		return false
	}
	ip := net.ParseIP(host)
	return ip != nil && !ip.IsUnspecified()
}

// drainCluster, first of shutdown: the node takes no new rooms, and says
// so in Redis.
func (a *app) drainCluster(ctx context.Context) {
	if c := a.clusterReg(); c != nil {
		c.Drain(ctx)
	}
}

// leaveCluster, last of shutdown: the node and its rooms leave Redis.
func (a *app) leaveCluster(ctx context.Context) {
	if c := a.clusterReg(); c != nil {
		c.Close(ctx)
	}
}

func (a *app) clusterReg() *cluster.Cluster {
	if a.cluster == nil {
		return nil
	}
	return a.cluster.c.Load()
}

// load is what the node reports at each refresh: its members, the CPU it
// used since the last one, and the rooms it holds.
func (cn *clusterNode) load() cluster.Load {
	var l cluster.Load
	for _, r := range cn.a.rooms.All() {
		m := r.Metrics()
		n := m.Viewers
		for _, k := range m.Members {
			n += k
		}
		if n > 0 {
			l.Members += n
			l.Rooms = append(l.Rooms, r.Number())
		}
	}
	l.CPU = cn.cpuSample()
	return l
}

// cpuSample is the cores this process kept busy since the last sample.
func (cn *clusterNode) cpuSample() float64 {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	used := time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	now := time.Now()
	cn.cpuMu.Lock()
	defer cn.cpuMu.Unlock()
	var cores float64
	if wall := now.Sub(cn.cpuLast); !cn.cpuLast.IsZero() && wall > 0 {
		cores = float64(used-cn.cpuUsed) / float64(wall)
	}
	cn.cpuLast, cn.cpuUsed = now, used
	return cores
}

var errNotRegistered = fmt.Errorf("%w: this node has not registered yet", cluster.ErrUnavailable)

// place finds (or makes) the node of a join: nil when it is this one.
func (cn *clusterNode) place(ctx context.Context, number string) (*cluster.Node, error) {
	c := cn.c.Load()
	if c == nil {
		return nil, errNotRegistered
	}
	n, err := c.Place(ctx, number)
	if err != nil {
		return nil, cn.refusal(number, err)
	}
	if n.ID == c.Self() {
		return nil, nil
	}
	return &n, nil
}

// where finds the node of a room without placing it: nil when here, or
// nowhere.
func (cn *clusterNode) where(ctx context.Context, number string) (*cluster.Node, error) {
	c := cn.c.Load()
	if c == nil {
		return nil, errNotRegistered
	}
	n, ok, err := c.Where(ctx, number)
	if err != nil {
		return nil, cn.refusal(number, err)
	}
	if !ok || n.ID == c.Self() {
		return nil, nil
	}
	return &n, nil
}

// errNotPlaced is what a client is told when its room cannot be placed
// for another reason than the registry.
var errNotPlaced = errors.New("cluster: the room cannot be placed now")

// refusal is the cause a client is given for a join the cluster cannot
// route: what kind of failure, never the registry's own error (its
// address and Redis's words), which goes to the log.
func (cn *clusterNode) refusal(number string, err error) error {
	cn.a.log.Warn("a join cannot be routed", zap.String("room", number), zap.Error(err))
	if errors.Is(err, cluster.ErrUnavailable) {
		return cluster.ErrUnavailable
	}
	return errNotPlaced
}

// routeVerto is the Verto endpoint's router: the websocket URL of the
// room's node, "" when it is this one.
func (cn *clusterNode) routeVerto(ctx context.Context, number string) (string, error) {
	return cn.routeWebSocket(ctx, number, "/verto")
}

// routeSIPWS is the router of SIP over WebSocket: the URL of the room's
// node's web listener, which takes SIP websockets on any path; "" when it
// is this one.
func (cn *clusterNode) routeSIPWS(ctx context.Context, number string) (string, error) {
	return cn.routeWebSocket(ctx, number, "/")
}

// routeWebSocket places a room and names the websocket URL of its node at
// path (ws:// or wss:// as the node advertises http:// or https://).
func (cn *clusterNode) routeWebSocket(ctx context.Context, number, path string) (string, error) {
	n, err := cn.place(ctx, number)
	if err != nil || n == nil {
		return "", err
	}
	u, err := url.Parse(n.Advertise)
	if err != nil {
		return "", cn.refusal(number, fmt.Errorf("node %s advertises %q: %w", n.ID, n.Advertise, err))
	}
	u.Scheme = map[string]string{"https": "wss"}[u.Scheme]
	if u.Scheme == "" {
		u.Scheme = "ws"
	}
	u.Path = strings.TrimSuffix(u.Path, "/") + path
	return u.String(), nil
}

// routeSIP is the SIP endpoint's router: the SIP address of the room's
// node, "" when it is this one.
func (cn *clusterNode) routeSIP(ctx context.Context, number string) (string, error) {
	n, err := cn.place(ctx, number)
	if err != nil || n == nil {
		return "", err
	}
	if n.SIP == "" {
		return "", cn.refusal(number, fmt.Errorf("room %s lives on node %s, which takes no SIP", number, n.ID))
	}
	return n.SIP, nil
}

// relayedHTTP says whether req comes from another node of the cluster
// (the secret in signalling.RelayHeader); ok is false for a wrong secret.
func (cn *clusterNode) relayedHTTP(req *http.Request) (relayed, ok bool) {
	got := req.Header.Get(signalling.RelayHeader)
	if got == "" {
		return false, true
	}
	if subtle.ConstantTimeCompare([]byte(got), []byte(cn.cfg.Secret)) != 1 {
		cn.a.log.Warn("relayed request refused: wrong cluster secret", zap.String("remote", req.RemoteAddr))
		return false, false
	}
	return true, true
}

// clusterHandler relays the HTTP requests for rooms that live on another
// node there: WHIP and WHEP, and the control API's room endpoints; the
// API's room list spans the cluster. Websocket upgrades (Verto) pass
// through: the Verto endpoint relays them itself.
func (a *app) clusterHandler(next http.Handler) http.Handler {
	cn := a.cluster
	if cn == nil {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if isUpgrade(req) {
			next.ServeHTTP(w, req)
			return
		}
		relayed, ok := cn.relayedHTTP(req)
		switch {
		case !ok:
			clusterError(w, http.StatusForbidden, "wrong cluster secret")
			return
		case relayed:
			req.Header.Del(signalling.RelayHeader)
			// The client's address, for the per-address limits.
			if xff := req.Header.Get("X-Forwarded-For"); xff != "" {
				parts := strings.Split(xff, ",")
				if ip := net.ParseIP(strings.TrimSpace(parts[len(parts)-1])); ip != nil {
					req.RemoteAddr = net.JoinHostPort(ip.String(), "0")
				}
			}
			next.ServeHTTP(w, req)
			return
		}
		number, join, ok := a.roomOfRequest(req)
		if !ok {
			if req.Method == http.MethodGet && strings.TrimSuffix(req.URL.Path, "/") == control.Prefix+"/rooms" {
				cn.listRooms(w, req, next)
				return
			}
			next.ServeHTTP(w, req)
			return
		}
		ctx, cancel := context.WithTimeout(req.Context(), 3*time.Second)
		var n *cluster.Node
		var err error
		if join {
			n, err = cn.place(ctx, number)
		} else {
			n, err = cn.where(ctx, number)
		}
		cancel()
		switch {
		case err != nil:
			a.log.Info("request refused: the room cannot be placed", zap.String("room", number), zap.Error(err))
			clusterError(w, http.StatusServiceUnavailable, err.Error())
		case n == nil:
			next.ServeHTTP(w, req)
		default:
			cn.proxy(w, req, n)
		}
	})
}

// roomOfRequest finds the room a WHIP, WHEP or API request is about, by
// its number; join says whether the request joins it (and so places it).
func (a *app) roomOfRequest(req *http.Request) (number string, join, ok bool) {
	p := strings.Split(strings.Trim(req.URL.Path, "/"), "/")
	var seg string
	switch {
	case len(p) >= 2 && (p[0] == "whip" || p[0] == "whep"):
		if req.Method == http.MethodOptions {
			return "", false, false
		}
		seg, join = p[1], len(p) == 2 && req.Method == http.MethodPost
	case "/"+strings.Join(p[:min(2, len(p))], "/") == control.Prefix && len(p) >= 4 && p[2] == "rooms":
		seg = p[3]
	default:
		return "", false, false
	}
	seg, err := url.PathUnescape(seg)
	if err != nil {
		return "", false, false
	}
	r, err := a.rooms.Lookup(seg)
	if err != nil || r.Echo() {
		return "", false, false // the local handler says 404; every node has its own echo test
	}
	return r.Number(), join, true
}

// proxy relays req to node n (signalling only: the media of a WHIP or WHEP
// session goes to the candidates of n's answer).
func (cn *clusterNode) proxy(w http.ResponseWriter, req *http.Request, n *cluster.Node) {
	target, err := url.Parse(n.Advertise)
	if err != nil {
		clusterError(w, http.StatusBadGateway, "node "+n.ID+" advertises no usable URL")
		return
	}
	rp := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(target)
			pr.SetXForwarded()
			pr.Out.Header.Set(signalling.RelayHeader, cn.cfg.Secret)
		},
		ErrorHandler: func(w http.ResponseWriter, _ *http.Request, err error) {
			cn.a.log.Warn("the room's node cannot be reached", zap.String("node", n.ID), zap.Error(err))
			clusterError(w, http.StatusBadGateway, "the room's node ("+n.ID+") cannot be reached")
		},
	}
	rp.ServeHTTP(w, req)
}

// listRooms is GET /api/v1/rooms across the cluster: each room as the
// node that holds it has it (with "node" naming it), the others as here.
func (cn *clusterNode) listRooms(w http.ResponseWriter, req *http.Request, local http.Handler) {
	rec := httptest.NewRecorder()
	local.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK {
		copyRecorded(w, rec)
		return
	}
	var mine struct {
		Rooms []map[string]any `json:"rooms"`
	}
	if json.Unmarshal(rec.Body.Bytes(), &mine) != nil {
		copyRecorded(w, rec)
		return
	}
	c := cn.c.Load()
	var nodes []cluster.Node
	if c != nil {
		ctx, cancel := context.WithTimeout(req.Context(), 3*time.Second)
		nodes, _ = c.Nodes(ctx) // Redis out of reach: this node's rooms only
		cancel()
	}
	byNumber := map[string]int{}
	for i, r := range mine.Rooms {
		byNumber[fmt.Sprint(r["number"])] = i
		if members, _ := r["member_count"].(float64); members > 0 {
			r["node"] = cn.cfg.NodeID
		}
	}
	for _, n := range nodes {
		if n.ID == cn.cfg.NodeID {
			continue
		}
		for _, r := range cn.remoteRooms(req, n) {
			num := fmt.Sprint(r["number"])
			members, _ := r["member_count"].(float64)
			i, known := byNumber[num]
			switch {
			case !known:
				byNumber[num] = len(mine.Rooms)
				if members > 0 {
					r["node"] = n.ID
				}
				mine.Rooms = append(mine.Rooms, r)
			case members > 0:
				r["node"] = n.ID
				mine.Rooms[i] = r
			}
		}
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	_ = json.NewEncoder(w).Encode(mine)
}

// remoteRooms is node n's own room list, asked with the client's key.
func (cn *clusterNode) remoteRooms(req *http.Request, n cluster.Node) []map[string]any {
	out, err := http.NewRequestWithContext(req.Context(), http.MethodGet, n.Advertise+control.Prefix+"/rooms", nil)
	if err != nil {
		return nil
	}
	out.Header.Set("Authorization", req.Header.Get("Authorization"))
	out.Header.Set(signalling.RelayHeader, cn.cfg.Secret)
	res, err := cn.http.Do(out)
	if err != nil {
		cn.a.log.Info("a node's rooms are not listed: it cannot be reached", zap.String("node", n.ID), zap.Error(err))
		return nil
	}
	defer res.Body.Close()
	var list struct {
		Rooms []map[string]any `json:"rooms"`
	}
	body, _ := io.ReadAll(io.LimitReader(res.Body, 8<<20))
	if res.StatusCode != http.StatusOK || json.Unmarshal(body, &list) != nil {
		return nil
	}
	return list.Rooms
}

func copyRecorded(w http.ResponseWriter, rec *httptest.ResponseRecorder) {
	for k, v := range rec.Header() {
		w.Header()[k] = v
	}
	w.WriteHeader(rec.Code)
	_, _ = io.Copy(w, bytes.NewReader(rec.Body.Bytes()))
}

// clusterError is the API's JSON error shape.
func clusterError(w http.ResponseWriter, status int, msg string) {
	code := "unavailable" // 502, 503
	if status == http.StatusForbidden {
		code = "unauthorized"
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"error": code, "message": msg})
}

// writeClusterMetrics: this node's part in the cluster (each node's
// /metrics is its own).
func (a *app) writeClusterMetrics(e *expo) {
	c := a.clusterReg()
	if c == nil {
		return
	}
	e.family("confd_cluster_registry_up", "gauge", "1 while this node's last refresh reached Redis.")
	e.sample("confd_cluster_registry_up", b2f(c.Healthy()), "node", c.Self())
	e.family("confd_cluster_draining", "gauge", "1 once this node is stopping and takes no new rooms.")
	e.sample("confd_cluster_draining", b2f(c.Draining()), "node", c.Self())
	rooms := 0
	for _, r := range a.rooms.All() {
		if len(r.Members()) > 0 {
			rooms++
		}
	}
	e.family("confd_cluster_rooms_held", "gauge", "Rooms with members on this node.")
	e.sample("confd_cluster_rooms_held", float64(rooms), "node", c.Self())
}
