package room

import (
	"fmt"
	"strings"
	"sync"

	"go.uber.org/zap"
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
}

// DefaultMaxMembers is the member limit of a room whose config sets none.
const DefaultMaxMembers = 100

// Rooms is the registry of configured rooms.
type Rooms struct {
	log    *zap.Logger
	sounds *tones // the join and leave tones, shared by every room
	mu     sync.RWMutex
	byKey  map[string]*Room
	list   []*Room
}

// New makes the registry; numbers and names must be unique.
func New(cfgs []Config, log *zap.Logger) (*Rooms, error) {
	if log == nil {
		log = zap.NewNop()
	}
	rs := &Rooms{log: log, sounds: makeTones(), byKey: map[string]*Room{}}
	for _, c := range cfgs {
		if err := rs.add(c); err != nil {
			return nil, err
		}
	}
	return rs, nil
}

func (rs *Rooms) add(c Config) error {
	if c.Number == "" {
		return fmt.Errorf("room %q: number is required", c.Name)
	}
	if !c.Tones.Valid() {
		return fmt.Errorf("room %q: tones must be phones, always or never, not %q", c.Number, c.Tones)
	}
	if c.MaxMembers <= 0 {
		c.MaxMembers = DefaultMaxMembers
	}
	r := newRoom(c, rs.log.With(zap.String("room", c.Number)), rs.sounds)
	r.rooms = rs
	for _, k := range []string{c.Number, strings.ToLower(c.Name)} {
		if k == "" {
			continue
		}
		if _, dup := rs.byKey[k]; dup {
			return fmt.Errorf("room %q: number or name %q used twice", c.Number, k)
		}
		rs.byKey[k] = r
	}
	rs.list = append(rs.list, r)
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

// All lists the rooms in configuration order.
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
