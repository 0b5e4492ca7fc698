package signalling

import (
	"context"
	"net/http"
	"net/url"
	"runtime"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
	"go.uber.org/zap"

	"github.com/confd/confd/peer"
	"github.com/confd/confd/room"
	"github.com/confd/confd/signalling/verto"
)

// Server is the Verto endpoint. It is an http.Handler: any request that asks
// for a websocket upgrade becomes a session, whatever its path.
type Server struct {
	cfg   Config
	log   *zap.Logger
	rooms *room.Rooms
	media *peer.Media
	hub   *hub
	relay relayState // cluster relaying (relay.go)

	upgrader websocket.Upgrader
	nextID   atomic.Uint64 // server-originated request ids, process-wide

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	confMu sync.Mutex
	confs  map[*room.Room]*conference

	mu       sync.Mutex
	sessions map[string]*Session // by sessid, logged-in sessions only
	detached map[string][]*Call  // by sessid: answered calls waiting for a reconnect
	stopping bool                // Shutdown has begun: a lost session's calls end at once
	calls    map[*Call]struct{}  // every live call, for shutdown
	idle     chan struct{}       // closed when calls becomes empty during shutdown

	// Giving memory back after load (releaseMemory), under mu. The load
	// is the live calls plus the open websockets.
	conns     int         // websockets being served
	memPeak   int         // the most load at once since the last release
	memTimer  *time.Timer // armed while the load stays at half memPeak or less; counted in wg
	releasing bool        // a release is collecting
	releases  atomic.Uint64
}

// NewServer makes the endpoint.
func NewServer(cfg Config, rooms *room.Rooms, media *peer.Media, log *zap.Logger) *Server {
	cfg.defaults()
	if log == nil {
		log = zap.NewNop()
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &Server{
		cfg: cfg, log: log, rooms: rooms, media: media, hub: newHub(),
		ctx: ctx, cancel: cancel,
		sessions: map[string]*Session{}, detached: map[string][]*Call{}, calls: map[*Call]struct{}{},
		confs: map[*room.Room]*conference{},
	}
	rooms.Observe(s)
	s.upgrader = websocket.Upgrader{
		ReadBufferSize:  4096,
		WriteBufferSize: 4096,
		CheckOrigin:     s.CheckOrigin,
	}
	return s
}

// ServeHTTP upgrades to a websocket and runs a session until it ends.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !websocket.IsWebSocketUpgrade(r) {
		http.Error(w, "this endpoint speaks Verto over a websocket", http.StatusUpgradeRequired)
		return
	}
	relayed, ok := s.relayedRequest(r)
	if !ok {
		http.Error(w, "wrong cluster secret", http.StatusForbidden)
		return
	}
	if !s.enter() {
		http.Error(w, "shutting down", http.StatusServiceUnavailable)
		return
	}
	defer s.exit()
	conn, err := s.upgrader.Upgrade(w, r, nil)
	if err != nil {
		s.log.Debug("websocket upgrade failed", zap.Error(err))
		return
	}
	sess := newSession(s, conn, r.RemoteAddr)
	sess.host = r.Host
	sess.relayed = relayed
	sess.run()
}

// enter counts a connection in, unless the server is shutting down. The
// check and the count are one step under mu, so Shutdown's wg.Wait never
// races with an Add (sync.WaitGroup forbids that).
func (s *Server) enter() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ctx.Err() != nil {
		return false
	}
	s.wg.Add(1)
	s.conns++
	s.loadRoseLocked()
	return true
}

// exit counts a connection out.
func (s *Server) exit() {
	s.mu.Lock()
	s.conns--
	s.loadFellLocked()
	s.mu.Unlock()
	s.wg.Done()
}

// CheckOrigin admits browsers from the configured origins; with none
// configured, only pages served by this same host (or under one of its
// public origins). Non-browser clients send no Origin and are admitted.
// SIP over WebSocket applies the same rule.
func (s *Server) CheckOrigin(r *http.Request) bool {
	origin := r.Header.Get("Origin")
	if origin == "" {
		return true
	}
	if len(s.cfg.AllowedOrigins) == 0 {
		u, err := url.Parse(origin)
		return err == nil && strings.EqualFold(u.Host, r.Host) || slices.ContainsFunc(s.cfg.PublicOrigins, func(o string) bool {
			return strings.EqualFold(strings.TrimSuffix(o, "/"), origin)
		})
	}
	return slices.Contains(s.cfg.AllowedOrigins, "*") || slices.ContainsFunc(s.cfg.AllowedOrigins, func(o string) bool {
		return strings.EqualFold(strings.TrimSuffix(o, "/"), origin)
	})
}

func (s *Server) requestID() uint64 { return s.nextID.Add(1) }

// claim registers sess as the holder of sessid. It runs on sess's loop. An
// older session of the same user (or one not logged in) is punted and
// returned: its calls are detached for sess once it has stopped (its gone
// channel). One of another user makes claim fail.
func (s *Server) claim(sess *Session, sessid string, user *User) (old *Session, ok bool) {
	s.mu.Lock()
	old = s.sessions[sessid]
	if old != nil && old != sess && old.userLogin() != "" && old.userLogin() != user.Login {
		s.mu.Unlock()
		return nil, false
	}
	s.sessions[sessid] = sess
	// A socket that logs in again under another sessid gives up the old one.
	if sess.authed && sess.sessid != sessid && s.sessions[sess.sessid] == sess {
		delete(s.sessions, sess.sessid)
	}
	s.mu.Unlock()
	if old == nil || old == sess {
		return nil, true
	}
	old.post(old.punt)
	return old, true
}

// release forgets sess as the holder of its sessid.
func (s *Server) release(sess *Session) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.sessions[sess.sessid] == sess {
		delete(s.sessions, sess.sessid)
	}
}

func (s *Server) addCall(c *Call) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls[c] = struct{}{}
	s.loadRoseLocked()
}

func (s *Server) removeCall(c *Call) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.calls, c)
	if len(s.calls) == 0 && s.idle != nil {
		close(s.idle)
		s.idle = nil
	}
	s.loadFellLocked()
}

func (s *Server) loadLocked() int { return len(s.calls) + s.conns }

func (s *Server) loadRoseLocked() {
	n := s.loadLocked()
	s.memPeak = max(s.memPeak, n)
	// The load is back: no release. A timer that has fired already finds
	// that out itself (releaseMemory) and stays set until then, so that
	// no second one starts.
	if s.memTimer != nil && n > s.memPeak/2 && s.memTimer.Stop() {
		s.memTimer = nil
		s.wg.Done()
	}
}

// loadFellLocked arms the release once the load is at half its peak or
// less. The timer is counted in wg, so Shutdown stops it or waits for it.
func (s *Server) loadFellLocked() {
	if s.memTimer == nil && !s.releasing && s.loadLocked() <= s.memPeak/2 && s.cfg.MemoryRelease > 0 && s.ctx.Err() == nil {
		s.wg.Add(1)
		s.memTimer = time.AfterFunc(s.cfg.MemoryRelease, s.releaseMemory)
	}
}

// releaseMemory gives the memory a load left behind back to the system.
// It runs when the load (calls and websockets) has stayed at half its
// peak or less (none included) for MemoryRelease, so at most once per
// halving of the load and once per return to idle.
//
// The load leaves no live objects behind, but without this the memory
// they took would stay with the process: an idle server allocates too
// little to start a collection (the runtime forces one only every 2
// minutes), the heap goal the peak set stays high until one runs, and the
// runtime's background scavenger returns free pages only down to that
// goal, and slowly.
func (s *Server) releaseMemory() {
	defer s.wg.Done()
	s.mu.Lock()
	s.memTimer = nil
	n := s.loadLocked()
	if n > s.memPeak/2 || s.ctx.Err() != nil {
		s.mu.Unlock() // the load came back, or the server stops
		return
	}
	s.memPeak, s.releasing = n, true
	s.mu.Unlock()

	freeMemory()
	s.releases.Add(1)
	if ce := s.log.Check(zap.DebugLevel, "memory returned to the system"); ce != nil {
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		ce.Write(zap.Uint64("heap_bytes", m.HeapAlloc), zap.Uint64("heap_retained_bytes", m.HeapSys-m.HeapReleased))
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	s.releasing = false
	if s.loadLocked() < n { // it fell meanwhile: what that left gets a release of its own
		s.loadFellLocked()
	}
}

// freeMemory collects and returns every free page to the system. Two
// collections empty the sync.Pools too (the first only moves them to their
// victim caches); FreeOSMemory's collection is the second. On an idle heap
// this takes milliseconds, most of it outside stop-the-world pauses.
func freeMemory() {
	runtime.GC()
	debug.FreeOSMemory()
}

// detach parks an answered call of a lost session; it is ended if no
// session with the same sessid takes it back within the attach window.
func (s *Server) detach(sessid string, c *Call) {
	s.mu.Lock()
	if s.stopping { // no session will come back for it
		s.mu.Unlock()
		c.end(verto.CauseSystemShutdown)
		return
	}
	defer s.mu.Unlock()
	s.detached[sessid] = append(s.detached[sessid], c)
	// Set under the lock: takeDetached stops it, possibly at once.
	c.detachTimer = time.AfterFunc(s.cfg.AttachWindow, func() {
		if s.undetach(sessid, c) {
			c.end(verto.CauseRecoveryOnTimerExpire)
		}
	})
}

// undetach removes c from the detached calls; false if it was not there.
func (s *Server) undetach(sessid string, c *Call) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	list := s.detached[sessid]
	i := slices.Index(list, c)
	if i < 0 {
		return false
	}
	s.detached[sessid] = slices.Delete(list, i, i+1)
	if len(s.detached[sessid]) == 0 {
		delete(s.detached, sessid)
	}
	return true
}

// takeDetached hands the detached calls of sessid to a new session.
func (s *Server) takeDetached(sessid string) []*Call {
	s.mu.Lock()
	defer s.mu.Unlock()
	list := s.detached[sessid]
	delete(s.detached, sessid)
	for _, c := range list {
		c.detachTimer.Stop()
	}
	return list
}

// Shutdown ends the endpoint: the caller has already closed the rooms, so
// every call is being hung up with verto.bye; Shutdown waits for that (or
// ctx), then closes every session, flushing what is queued, and waits for
// its goroutines.
func (s *Server) Shutdown(ctx context.Context) {
	// Calls waiting in their attach window end now: no session will take
	// them back, and their timers must not outlive the server.
	s.mu.Lock()
	s.stopping = true
	var parked []*Call
	for sessid, list := range s.detached {
		for _, c := range list {
			c.detachTimer.Stop() // one that fired already finds nothing to undetach
			parked = append(parked, c)
		}
		delete(s.detached, sessid)
	}
	s.mu.Unlock()
	for _, c := range parked {
		c.end(verto.CauseSystemShutdown)
	}
	s.mu.Lock()
	idle := make(chan struct{})
	if len(s.calls) == 0 {
		close(idle)
	} else {
		s.idle = idle
	}
	s.mu.Unlock()
	select {
	case <-idle:
	case <-ctx.Done():
	}
	s.mu.Lock()
	s.cancel()
	if s.memTimer != nil && s.memTimer.Stop() { // else it is running, and wg waits for it
		s.memTimer = nil
		s.wg.Done()
	}
	s.mu.Unlock()
	done := make(chan struct{})
	go func() {
		s.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-ctx.Done():
	}
}
