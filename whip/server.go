package whip

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/go-chi/chi/v5"
	"go.uber.org/zap"

	"github.com/confd/confd/peer"
	"github.com/confd/confd/room"
	"github.com/confd/confd/token"
)

// Limits, with their defaults.
const (
	DefaultMaxSessions           = 500
	DefaultMaxSessionsPerAddress = 10
	DefaultMaxBodyBytes          = 64 << 10
	DefaultAnswerTimeout         = 10 * time.Second
)

// ICEServer is a STUN or TURN server handed to clients in Link headers.
type ICEServer struct {
	URLs       []string
	Username   string
	Credential string
}

// Config is what the endpoints serve and with what.
type Config struct {
	Rooms *room.Rooms
	Media *peer.Media
	// TokenSecret verifies join tokens; empty accepts none (stream keys and
	// open rooms still work).
	TokenSecret string
	// ICEServers lists the servers announced in Link headers to a client
	// that reached confd at host (the request's Host); it is asked afresh
	// for each answer, so that short-lived credentials stay fresh.
	ICEServers func(host string) []ICEServer
	// AllowedOrigins are the browser origins CORS lets in ("*": any);
	// empty lets no browser page in (tools such as OBS send no Origin).
	AllowedOrigins []string
	// MaxSessions bounds the sessions at once (publishers and viewers),
	// MaxSessionsPerAddress those from one client address (429 past it).
	MaxSessions, MaxSessionsPerAddress int
	// MaxBodyBytes bounds an offer or a PATCH body (413 past it).
	MaxBodyBytes int64
	// AnswerTimeout bounds building an answer, ICE gathering included.
	AnswerTimeout time.Duration
	Log           *zap.Logger
}

func (c *Config) defaults() {
	if c.MaxSessions <= 0 {
		c.MaxSessions = DefaultMaxSessions
	}
	if c.MaxSessionsPerAddress <= 0 {
		c.MaxSessionsPerAddress = DefaultMaxSessionsPerAddress
	}
	if c.MaxBodyBytes <= 0 {
		c.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if c.AnswerTimeout <= 0 {
		c.AnswerTimeout = DefaultAnswerTimeout
	}
	if c.ICEServers == nil {
		c.ICEServers = func(string) []ICEServer { return nil }
	}
	if c.Log == nil {
		c.Log = zap.NewNop()
	}
}

// Server serves WHIP (RFC 9725) publishers and WHEP viewers: each is a
// session resource around a peer.Peer.
type Server struct {
	cfg Config
	log *zap.Logger

	mu       sync.Mutex
	closed   bool
	sessions map[string]*session
	perAddr  map[string]int
	running  int           // goroutines of spawn still running
	idle     chan struct{} // closed when running falls to 0 during Shutdown
}

// New makes the endpoints.
func New(cfg Config) *Server {
	cfg.defaults()
	return &Server{cfg: cfg, log: cfg.Log, sessions: map[string]*session{}, perAddr: map[string]int{}}
}

// Kind of session.
const (
	kindWHIP = "whip"
	kindWHEP = "whep"
)

// Mount adds the endpoints to r: POST /whip/{room} and /whep/{room}
// create sessions at /whip/{room}/{id} and /whep/{room}/{id}, which take
// PATCH and DELETE; OPTIONS answers CORS preflights and lists the ICE
// servers.
func (s *Server) Mount(r chi.Router) {
	for _, kind := range []string{kindWHIP, kindWHEP} {
		r.Route("/"+kind, func(r chi.Router) {
			r.Use(s.cors)
			r.Post("/{room}", func(w http.ResponseWriter, req *http.Request) { s.create(w, req, kind) })
			r.Options("/{room}", s.options)
			r.Patch("/{room}/{id}", func(w http.ResponseWriter, req *http.Request) { s.patch(w, req, kind) })
			r.Delete("/{room}/{id}", func(w http.ResponseWriter, req *http.Request) { s.delete(w, req, kind) })
			r.Options("/{room}/{id}", s.options)
		})
	}
}

// Sessions counts the sessions of each kind, for the metrics.
func (s *Server) Sessions() (publishers, viewers int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, ss := range s.sessions {
		if ss.kind == kindWHIP {
			publishers++
		} else {
			viewers++
		}
	}
	return publishers, viewers
}

// Shutdown ends every session and waits for their peers (or ctx).
func (s *Server) Shutdown(ctx context.Context) {
	s.mu.Lock()
	s.closed = true
	var all []*session
	for _, ss := range s.sessions {
		all = append(all, ss)
	}
	s.mu.Unlock()
	for _, ss := range all {
		s.end(ss, "shutdown")
	}
	s.mu.Lock()
	if s.running == 0 {
		s.mu.Unlock()
		return
	}
	idle := make(chan struct{})
	s.idle = idle
	s.mu.Unlock()
	select {
	case <-idle:
	case <-ctx.Done():
	}
}

// spawn runs f on a goroutine of the Server's; Shutdown waits for them.
func (s *Server) spawn(f func()) {
	s.mu.Lock()
	s.running++
	s.mu.Unlock()
	go func() {
		defer func() {
			s.mu.Lock()
			if s.running--; s.running == 0 && s.idle != nil {
				close(s.idle)
				s.idle = nil
			}
			s.mu.Unlock()
		}()
		f()
	}()
}

// create answers POST /whip/{room} and /whep/{room}.
func (s *Server) create(w http.ResponseWriter, req *http.Request, kind string) {
	r, err := s.cfg.Rooms.Lookup(chi.URLParam(req, "room"))
	if err != nil {
		fail(w, http.StatusNotFound, "no such room")
		return
	}
	grant, status, why := s.authorize(req, r, kind)
	if status != 0 {
		fail(w, status, why)
		return
	}
	if ct := mediaType(req.Header.Get("Content-Type")); ct != "application/sdp" {
		fail(w, http.StatusUnsupportedMediaType, "the offer must be application/sdp")
		return
	}
	offer, ok := s.body(w, req)
	if !ok {
		return
	}
	if err := checkOffer(offer, kind == kindWHIP); err != nil {
		status := http.StatusBadRequest
		if errors.Is(err, errNoMedia) {
			status = http.StatusUnprocessableEntity
		}
		fail(w, status, err.Error())
		return
	}
	addr := clientAddr(req)
	ss, err := s.admit(kind, addr)
	if err != nil {
		fail(w, http.StatusTooManyRequests, err.Error())
		return
	}
	ss.p = peer.New(s.cfg.Media, ss, s.log.With(zap.String("session", ss.id), zap.String("kind", kind), zap.String("room", r.Number())))
	if kind == kindWHIP {
		info := room.JoinInfo{Name: grant.Name, Kind: room.KindStream, Role: grant.Role, Key: ss.id}
		if info.Name == "" {
			info.Name = "Broadcast"
		}
		if err := ss.p.Join(r, info); err != nil {
			s.drop(ss)
			fail(w, http.StatusForbidden, err.Error())
			return
		}
	} else {
		ss.p.Watch(r)
	}
	ctx, cancel := context.WithTimeout(req.Context(), s.cfg.AnswerTimeout)
	answer, err := ss.p.Answer(ctx, offer)
	cancel()
	if err != nil {
		s.drop(ss)
		fail(w, http.StatusUnprocessableEntity, "cannot answer the offer: "+err.Error())
		return
	}
	ss.mu.Lock()
	ss.remote, ss.etag = offer, newETag()
	etag := ss.etag
	ss.mu.Unlock()
	ss.p.Activate()
	s.log.Info("session started", zap.String("session", ss.id), zap.String("kind", kind), zap.String("room", r.Number()), zap.String("addr", addr))
	h := w.Header()
	h.Set("Content-Type", "application/sdp")
	h.Set("Location", "/"+kind+"/"+chi.URLParam(req, "room")+"/"+ss.id)
	h.Set("ETag", etag)
	s.links(h, req.Host)
	w.WriteHeader(http.StatusCreated)
	_, _ = io.WriteString(w, answer)
}

// authorize checks the bearer token against r's rules for kind: a join
// token for r, or r's stream key (publishers), or nothing at all for a
// room open to viewers. status 0 admits.
func (s *Server) authorize(req *http.Request, r *room.Room, kind string) (g token.Grant, status int, why string) {
	cfg := r.Config()
	bearer, hasBearer := strings.CutPrefix(req.Header.Get("Authorization"), "Bearer ")
	bearer = strings.TrimSpace(bearer)
	if kind == kindWHEP {
		switch cfg.WHEP {
		case room.WHEPOff:
			return g, http.StatusForbidden, "this room cannot be watched over WHEP"
		case room.WHEPOpen:
			if !hasBearer {
				return token.Grant{Room: r.Number(), Role: room.RoleParticipant}, 0, ""
			}
		}
	}
	if !hasBearer || bearer == "" {
		return g, http.StatusUnauthorized, "a bearer token is required"
	}
	if kind == kindWHIP && cfg.StreamKey != "" && subtle.ConstantTimeCompare([]byte(bearer), []byte(cfg.StreamKey)) == 1 {
		return token.Grant{Room: r.Number(), Role: room.RoleParticipant}, 0, ""
	}
	g, err := token.Verify(bearer, s.cfg.TokenSecret, time.Now())
	if err != nil {
		return g, http.StatusUnauthorized, "the token is not valid: " + err.Error()
	}
	if g.Room != r.Number() && !strings.EqualFold(g.Room, r.Name()) {
		return g, http.StatusForbidden, "the token is for another room"
	}
	return g, 0, ""
}

// admit registers a new session of kind from addr, within the limits.
func (s *Server) admit(kind, addr string) (*session, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.closed:
		return nil, errors.New("shutting down")
	case len(s.sessions) >= s.cfg.MaxSessions:
		return nil, fmt.Errorf("the server has %d sessions, its limit", len(s.sessions))
	case s.perAddr[addr] >= s.cfg.MaxSessionsPerAddress:
		return nil, fmt.Errorf("%d sessions from this address, its limit", s.perAddr[addr])
	}
	ss := &session{srv: s, id: newID(), kind: kind, addr: addr}
	s.sessions[ss.id] = ss
	s.perAddr[addr]++
	return ss, nil
}

// drop unregisters a session that never started and shuts its peer
// before the refusal is answered: nothing of it is left.
func (s *Server) drop(ss *session) {
	s.unregister(ss)
	if ss.p != nil {
		ss.p.Shut()
	}
}

func (s *Server) unregister(ss *session) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.sessions[ss.id] != ss {
		return false
	}
	delete(s.sessions, ss.id)
	if s.perAddr[ss.addr]--; s.perAddr[ss.addr] <= 0 {
		delete(s.perAddr, ss.addr)
	}
	return true
}

// end ends a session: it leaves the room at once, and its peer shuts on
// a goroutine of the Server's (Shutdown waits for it).
func (s *Server) end(ss *session, why string) {
	if !s.unregister(ss) {
		return
	}
	ss.p.Leave()
	s.log.Info("session ended", zap.String("session", ss.id), zap.String("kind", ss.kind), zap.String("why", why))
	s.spawn(ss.p.Shut)
}

// lookup finds the session of the request's path.
func (s *Server) lookup(w http.ResponseWriter, req *http.Request, kind string) *session {
	s.mu.Lock()
	ss := s.sessions[chi.URLParam(req, "id")]
	s.mu.Unlock()
	if ss == nil || ss.kind != kind {
		fail(w, http.StatusNotFound, "no such session")
		return nil
	}
	return ss
}

// delete answers DELETE on a session: it ends, and its member has left
// the room before the answer is written.
func (s *Server) delete(w http.ResponseWriter, req *http.Request, kind string) {
	if ss := s.lookup(w, req, kind); ss != nil {
		s.end(ss, "deleted")
		w.WriteHeader(http.StatusOK)
	}
}

// patch answers PATCH on a session (RFC 9725 §4.3): trickled candidates
// (204), or an ICE restart, new credentials in the fragment (200 with the
// answer's fragment and a new ETag).
func (s *Server) patch(w http.ResponseWriter, req *http.Request, kind string) {
	ss := s.lookup(w, req, kind)
	if ss == nil {
		return
	}
	if ct := mediaType(req.Header.Get("Content-Type")); ct != "application/trickle-ice-sdpfrag" {
		fail(w, http.StatusUnsupportedMediaType, "PATCH takes application/trickle-ice-sdpfrag")
		return
	}
	body, ok := s.body(w, req)
	if !ok {
		return
	}
	frag, err := parseFrag(body)
	if err != nil {
		fail(w, http.StatusBadRequest, err.Error())
		return
	}
	match := req.Header.Get("If-Match")
	ss.mu.Lock()
	etag := ss.etag
	ss.mu.Unlock()
	if match != "" && match != "*" && match != etag {
		fail(w, http.StatusPreconditionFailed, "the ICE session has changed")
		return
	}
	if frag.ufrag == "" {
		if err := ss.trickle(frag); err != nil {
			fail(w, http.StatusBadRequest, err.Error())
			return
		}
		w.WriteHeader(http.StatusNoContent)
		return
	}
	ctx, cancel := context.WithTimeout(req.Context(), s.cfg.AnswerTimeout)
	answer, etag, err := ss.restart(ctx, frag)
	cancel()
	if err != nil {
		fail(w, http.StatusUnprocessableEntity, "cannot restart ICE: "+err.Error())
		return
	}
	w.Header().Set("Content-Type", "application/trickle-ice-sdpfrag")
	w.Header().Set("ETag", etag)
	w.WriteHeader(http.StatusOK)
	_, _ = io.WriteString(w, answer)
}

// options answers a CORS preflight and lists the ICE servers (RFC 9725
// §4.4).
func (s *Server) options(w http.ResponseWriter, req *http.Request) {
	h := w.Header()
	h.Set("Allow", "OPTIONS, POST, PATCH, DELETE")
	h.Set("Accept-Post", "application/sdp")
	h.Set("Accept-Patch", "application/trickle-ice-sdpfrag")
	s.links(h, req.Host)
	w.WriteHeader(http.StatusNoContent)
}

// links adds one Link header per ICE server URL (RFC 9725 §4.6) for a
// client that reached confd at host.
func (s *Server) links(h http.Header, host string) {
	for _, ice := range s.cfg.ICEServers(host) {
		for _, u := range ice.URLs {
			v := "<" + u + `>; rel="ice-server"`
			if ice.Username != "" || ice.Credential != "" {
				v += `; username="` + quoted.Replace(ice.Username) + `"; credential="` + quoted.Replace(ice.Credential) + `"; credential-type="password"`
			}
			h.Add("Link", v)
		}
	}
}

// quoted escapes a quoted-string's value (RFC 9110 §5.6.4).
var quoted = strings.NewReplacer(`\`, `\\`, `"`, `\"`)

// cors lets the configured browser origins call the endpoints.
func (s *Server) cors(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if o := req.Header.Get("Origin"); o != "" && s.originAllowed(o) {
			h := w.Header()
			h.Set("Access-Control-Allow-Origin", o)
			h.Set("Vary", "Origin")
			h.Set("Access-Control-Allow-Methods", "OPTIONS, POST, PATCH, DELETE")
			h.Set("Access-Control-Allow-Headers", "Authorization, Content-Type, If-Match")
			h.Set("Access-Control-Expose-Headers", "Location, ETag, Link, Accept-Patch, Accept-Post")
		}
		next.ServeHTTP(w, req)
	})
}

func (s *Server) originAllowed(o string) bool {
	for _, a := range s.cfg.AllowedOrigins {
		if a == "*" || strings.EqualFold(strings.TrimSuffix(a, "/"), o) {
			return true
		}
	}
	return false
}

// body reads a request body within the limit, answering 413 past it.
func (s *Server) body(w http.ResponseWriter, req *http.Request) (string, bool) {
	b, err := io.ReadAll(http.MaxBytesReader(w, req.Body, s.cfg.MaxBodyBytes))
	var tooLarge *http.MaxBytesError
	switch {
	case errors.As(err, &tooLarge):
		fail(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("the body is over %d bytes", s.cfg.MaxBodyBytes))
		return "", false
	case err != nil:
		fail(w, http.StatusBadRequest, "cannot read the body")
		return "", false
	}
	return string(b), true
}

// fail answers an error as JSON: {"error": code, "message": reason}.
func fail(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"error": strings.ReplaceAll(strings.ToLower(http.StatusText(status)), " ", "_"), "message": msg})
}

func mediaType(ct string) string {
	t, _, _ := strings.Cut(ct, ";")
	return strings.ToLower(strings.TrimSpace(t))
}

// clientAddr is the client's IP, the key of the per-address limit.
func clientAddr(req *http.Request) string {
	host, _, err := net.SplitHostPort(req.RemoteAddr)
	if err != nil {
		return req.RemoteAddr
	}
	return host
}

func newID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func newETag() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return `"` + hex.EncodeToString(b[:]) + `"`
}
