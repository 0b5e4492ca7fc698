package control

import (
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/go-chi/chi/v5"
	"go.uber.org/zap"

	"github.com/confd/confd/events"
	"github.com/confd/confd/room"
)

// Prefix is where the API is mounted on the web listeners.
const Prefix = "/api/v1"

// Limits, with their defaults.
const (
	DefaultMaxBodyBytes = 64 << 10
	DefaultMaxRooms     = 100
	DefaultTokenTTL     = time.Hour
	MaxTokenTTL         = 24 * time.Hour
)

// Key is an API key: requests carry it as "Authorization: Bearer <key>";
// the audit log names it by Name, never by the key.
type Key struct {
	Name string
	Key  string
}

// MinKeyBytes is the shortest key accepted: long enough that guessing is
// hopeless.
const MinKeyBytes = 16

// Recorder records rooms; the API's recording endpoints call it. Start and
// Stop are called only when the room is not, or is, being recorded (the
// API answers 409 otherwise); the recorder marks the room with
// room.Room.SetRecording once it records and when it stops, which is what
// the API reports as "recording" and what sends recording_started and
// recording_finished. An error from Start or Stop is answered 500 with its
// text, and must mean that nothing changed.
type Recorder interface {
	Start(r *room.Room) error
	Stop(r *room.Room) error
}

// Streams opens event streams (an *events.Bus).
type Streams interface {
	Open(room string, f events.Filter) (*events.Stream, error)
}

// TokenSigner signs a join token for room under name and role, valid
// until exp (token.Sign with the configured secret).
type TokenSigner func(room, name string, role room.Role, exp time.Time) string

// Config is what the API serves and with what.
type Config struct {
	Keys  []Key
	Rooms *room.Rooms
	// Streams serves GET /events; nil answers 501.
	Streams Streams
	// Recorder records rooms; nil: the recording endpoints answer 501.
	Recorder Recorder
	// SignToken mints join tokens; nil (no token secret): POST /tokens
	// answers 501.
	SignToken TokenSigner
	// MaxBodyBytes bounds a request body (default 64 KiB).
	MaxBodyBytes int64
	// MaxRooms bounds the dynamic rooms at once (default 100).
	MaxRooms int
	Log      *zap.Logger
}

// API is the operators' control API: JSON over HTTP under Prefix.
type API struct {
	cfg     Config
	log     *zap.Logger
	keys    keyring
	openapi []byte

	createMu sync.Mutex // one create at a time, so MaxRooms holds
}

// New checks the keys and makes the API.
func New(cfg Config) (*API, error) {
	if cfg.Log == nil {
		cfg.Log = zap.NewNop()
	}
	if cfg.MaxBodyBytes <= 0 {
		cfg.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if cfg.MaxRooms <= 0 {
		cfg.MaxRooms = DefaultMaxRooms
	}
	keys, err := newKeyring(cfg.Keys)
	if err != nil {
		return nil, err
	}
	doc, err := openAPIJSON()
	if err != nil {
		return nil, fmt.Errorf("the OpenAPI document: %w", err)
	}
	return &API{cfg: cfg, log: cfg.Log, keys: keys, openapi: doc}, nil
}

// CheckKeys reports what New would refuse in keys.
func CheckKeys(keys []Key) error {
	_, err := newKeyring(keys)
	return err
}

// Off answers every request under Prefix with 404: the API is off while
// no key is configured.
func Off() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		writeError(w, http.StatusNotFound, "the API is off: no api.keys are configured")
	})
}

// Handler is the API's router, to be mounted at Prefix.
func (a *API) Handler() http.Handler {
	r := chi.NewRouter()
	r.NotFound(func(w http.ResponseWriter, _ *http.Request) {
		writeError(w, http.StatusNotFound, "no such endpoint")
	})
	r.MethodNotAllowed(func(w http.ResponseWriter, _ *http.Request) {
		writeError(w, http.StatusMethodNotAllowed, "method not allowed on this endpoint")
	})
	r.Use(a.limitBody)
	r.Get("/openapi.json", a.serveOpenAPI)
	r.Group(func(r chi.Router) {
		r.Use(a.authenticate)
		a.routes(r)
	})
	return r
}

// routes lists every endpoint; openapi.yaml documents each (a test holds
// the two together).
func (a *API) routes(r chi.Router) {
	r.Get("/rooms", a.listRooms)
	r.Post("/rooms", a.createRoom)
	r.Get("/rooms/{room}", a.inRoom(a.getRoom))
	r.Delete("/rooms/{room}", a.inRoom(a.closeRoom))
	r.Post("/rooms/{room}/lock", a.inRoom(a.roomCommand("lock")))
	r.Post("/rooms/{room}/unlock", a.inRoom(a.roomCommand("unlock")))
	r.Post("/rooms/{room}/mute-all", a.inRoom(a.roomCommand("muteall")))
	r.Post("/rooms/{room}/chat", a.inRoom(a.chat))
	r.Post("/rooms/{room}/recording", a.inRoom(a.startRecording))
	r.Delete("/rooms/{room}/recording", a.inRoom(a.stopRecording))
	r.Get("/rooms/{room}/members/{member}", a.onMember(a.getMember))
	r.Post("/rooms/{room}/members/{member}/mute", a.onMember(a.memberCommand("mute")))
	r.Post("/rooms/{room}/members/{member}/unmute", a.onMember(a.memberCommand("unmute")))
	r.Post("/rooms/{room}/members/{member}/deaf", a.onMember(a.memberCommand("deaf")))
	r.Post("/rooms/{room}/members/{member}/undeaf", a.onMember(a.memberCommand("undeaf")))
	r.Post("/rooms/{room}/members/{member}/kick", a.onMember(a.kick))
	r.Post("/rooms/{room}/members/{member}/move", a.onMember(a.move))
	r.Post("/rooms/{room}/members/{member}/floor", a.onMember(a.setFloor(true)))
	r.Delete("/rooms/{room}/members/{member}/floor", a.onMember(a.setFloor(false)))
	r.Put("/rooms/{room}/members/{member}/banner", a.onMember(a.setBanner))
	r.Delete("/rooms/{room}/members/{member}/banner", a.onMember(a.clearBanner))
	r.Post("/tokens", a.mintToken)
	r.Get("/events", a.streamEvents)
}

func (a *API) serveOpenAPI(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(a.openapi)
}

// limitBody bounds what a request may send.
func (a *API) limitBody(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.Body = http.MaxBytesReader(w, r.Body, a.cfg.MaxBodyBytes)
		next.ServeHTTP(w, r)
	})
}

// audit writes the log line of an operator's action that is not a room's
// moderator command (those audit themselves in the room).
func (a *API) audit(r *http.Request, action, roomNumber string, fields ...zap.Field) {
	a.log.Info("operator action", append([]zap.Field{zap.String("key", keyName(r)), zap.String("action", action), zap.String("room", roomNumber)}, fields...)...)
}

// errStatus maps the room's errors onto answers.
func errStatus(err error) int {
	switch {
	case errors.Is(err, room.ErrNoSuchRoom), errors.Is(err, room.ErrNoSuchMember),
		errors.Is(err, room.ErrRoomClosed), errors.Is(err, room.ErrNotInRoom):
		return http.StatusNotFound
	case errors.Is(err, room.ErrRoomExists), errors.Is(err, room.ErrConfiguredRoom):
		return http.StatusConflict
	case errors.Is(err, room.ErrBadCommand), errors.Is(err, room.ErrBadRoom),
		errors.Is(err, room.ErrChatTooLong), errors.Is(err, room.ErrChatEmpty):
		return http.StatusBadRequest
	}
	return http.StatusInternalServerError
}
