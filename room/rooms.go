package room

import (
	"fmt"
	"slices"
	"strings"
	"sync"

	"go.uber.org/zap"

	"github.com/confd/confd/mixer"
)

// Config describes one room.
type Config struct {
	Number       string
	Name         string
	PIN          string
	ModeratorPIN string
	// MaxMembers limits the members at once (0: DefaultMaxMembers).
	MaxMembers int
	// Speakers is how many of the loudest members are mixed (0: 3).
	Speakers int
	// RequireToken admits browsers only with a signed join token for the room.
	RequireToken bool
	// PresentModerators lets only moderators share a screen.
	PresentModerators bool
	// Lobby makes members who are not moderators wait, neither seen nor
	// heard and seeing and hearing nothing, until a moderator admits them.
	Lobby bool
	// Tones says when members entering and leaving the mix are marked by a
	// join or leave tone ("": TonesPhones).
	Tones TonePolicy
	// StreamKey, when set, lets a broadcaster (WHIP) publish into the room
	// with it as its bearer token, besides join tokens.
	StreamKey string
	// WHEP says who may watch the room over WHEP: WHEPToken (""), anyone
	// with a join token for it; WHEPOpen, anyone; WHEPOff, nobody.
	WHEP string
	// Record records every meeting in the room: the recorder starts when
	// the first member joins and stops when the last one leaves.
	Record bool
	// Echo makes the room the echo test (echo.go): each member hears its
	// own voice and sees its own camera, and nobody else.
	Echo bool
}

// Who may watch a room over WHEP (Config.WHEP).
const (
	WHEPToken = "token"
	WHEPOpen  = "open"
	WHEPOff   = "off"
)

// DefaultMaxMembers is the member limit of a room whose config sets none.
const DefaultMaxMembers = 100

// Rooms is the registry of rooms: the configured ones, which live as long
// as the server, and dynamic ones an operator creates and removes while it
// runs.
type Rooms struct {
	log      *zap.Logger
	sounds   *tones // the join and leave tones, shared by every room
	mu       sync.RWMutex
	byKey    map[string]*Room
	list     []*Room
	obs      Observer      // handed to every room, dynamic ones too
	sink     ActivitySink  // likewise
	recorder Recorder      // likewise
	burst    mixer.Burster // likewise, to their mixers
}

// An Option sets up the registry.
type Option func(*Rooms)

// WithBurst has every room's mixer hold b across a tick's writes, so that
// the network sends them together.
func WithBurst(b mixer.Burster) Option { return func(rs *Rooms) { rs.burst = b } }

// New makes the registry; numbers and names must be unique.
func New(cfgs []Config, log *zap.Logger, opts ...Option) (*Rooms, error) {
	if log == nil {
		log = zap.NewNop()
	}
	rs := &Rooms{log: log, sounds: makeTones(), byKey: map[string]*Room{}}
	for _, o := range opts {
		o(rs)
	}
	for _, c := range cfgs {
		if err := rs.checkLocked(&c); err != nil {
			rs.Close()
			return nil, err
		}
		rs.addLocked(c, false)
	}
	return rs, nil
}

// checkLocked validates c, fills in its defaults and makes sure its number
// and name are free, before anything is built.
func (rs *Rooms) checkLocked(c *Config) error {
	if c.Number == "" {
		return fmt.Errorf("%w: room %q: number is required", ErrBadRoom, c.Name)
	}
	if !c.Tones.Valid() {
		return fmt.Errorf("%w: room %q: tones must be phones, always or never, not %q", ErrBadRoom, c.Number, c.Tones)
	}
	if c.MaxMembers <= 0 {
		c.MaxMembers = DefaultMaxMembers
	}
	if err := checkEcho(c); err != nil {
		return err
	}
	keys := roomKeys(*c)
	if len(keys) == 2 && keys[0] == keys[1] {
		keys = keys[:1] // a room may be named by its own number
	}
	for _, k := range keys {
		if _, dup := rs.byKey[k]; dup {
			return fmt.Errorf("%w: room %q: number or name %q used twice", ErrRoomExists, c.Number, k)
		}
	}
	return nil
}

// roomKeys are what a room is looked up by: its number and its name in
// lower case.
func roomKeys(c Config) []string {
	keys := []string{c.Number}
	if c.Name != "" {
		keys = append(keys, strings.ToLower(c.Name))
	}
	return keys
}

// addLocked builds a room checked by checkLocked and registers it.
func (rs *Rooms) addLocked(c Config, dynamic bool) *Room {
	r := newRoom(c, rs.log.With(zap.String("room", c.Number)), rs.sounds, rs.burst)
	r.rooms, r.dynamic, r.obs, r.sink, r.recorder = rs, dynamic, r.observerFor(rs.obs), rs.sink, rs.recorder
	for _, k := range roomKeys(c) {
		rs.byKey[k] = r
	}
	rs.list = append(rs.list, r)
	return r
}

// Create adds a dynamic room. Its number and name must be free among every
// room's numbers and names (ErrRoomExists); a config New would refuse gets
// ErrBadRoom. Nothing is built when it fails.
func (rs *Rooms) Create(c Config) (*Room, error) {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	if err := rs.checkLocked(&c); err != nil {
		return nil, err
	}
	r := rs.addLocked(c, true)
	rs.log.Info("room created", zap.String("number", c.Number))
	return r, nil
}

// Remove closes a dynamic room: it can no longer be found, its number and
// name are free, and every member's call ends with ReasonRoomClosed. When
// it returns the room's tones and mixer have stopped. A configured room
// cannot be removed (ErrConfiguredRoom).
func (rs *Rooms) Remove(r *Room) error {
	rs.mu.Lock()
	i := slices.Index(rs.list, r)
	switch {
	case i < 0:
		rs.mu.Unlock()
		return fmt.Errorf("%w: %q", ErrNoSuchRoom, r.Number())
	case !r.dynamic:
		rs.mu.Unlock()
		return fmt.Errorf("%w: %q", ErrConfiguredRoom, r.Number())
	}
	rs.list = slices.Delete(rs.list, i, i+1)
	for _, k := range roomKeys(r.cfg) {
		if rs.byKey[k] == r {
			delete(rs.byKey, k)
		}
	}
	rs.mu.Unlock()
	// Closing waits for the mixer, whose goroutine takes the room's lock:
	// never under the registry's.
	r.closeFor(ReasonRoomClosed)
	rs.log.Info("room removed", zap.String("number", r.Number()))
	return nil
}

// Lookup finds a room by number or (case-insensitive) name.
func (rs *Rooms) Lookup(dest string) (*Room, error) {
	rs.mu.RLock()
	defer rs.mu.RUnlock()
	if r, ok := rs.byKey[dest]; ok {
		return r, nil
	}
	if r, ok := rs.byKey[strings.ToLower(dest)]; ok {
		return r, nil
	}
	return nil, fmt.Errorf("%w: %q", ErrNoSuchRoom, dest)
}

// All lists the rooms: the configured ones in configuration order, then
// the dynamic ones in the order they were created.
func (rs *Rooms) All() []*Room {
	rs.mu.RLock()
	defer rs.mu.RUnlock()
	return append([]*Room(nil), rs.list...)
}

// Close closes every room: each member is told to end its call with
// ReasonShutdown and no one can join any more; each room's tones and mixer
// have stopped when it returns.
func (rs *Rooms) Close() {
	for _, r := range rs.All() {
		r.Close()
	}
}
