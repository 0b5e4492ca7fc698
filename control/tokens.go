package control

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/confd/confd/events"
	"github.com/confd/confd/room"
)

// tokenRequest is the body of POST /tokens.
type tokenRequest struct {
	Room       string `json:"room"`
	Name       string `json:"name"`
	Role       string `json:"role"`        // participant (default) or moderator
	TTLSeconds int    `json:"ttl_seconds"` // default 3600, at most 86400
}

type tokenResponse struct {
	Token     string    `json:"token"`
	Room      string    `json:"room"`
	Name      string    `json:"name"`
	Role      string    `json:"role"`
	ExpiresAt time.Time `json:"expires_at"`
}

// mintToken signs a join token, as an embedding site's backend would.
func (a *API) mintToken(w http.ResponseWriter, r *http.Request) {
	var t tokenRequest
	if !decode(w, r, &t) {
		return
	}
	if a.cfg.SignToken == nil {
		writeError(w, http.StatusNotImplemented, "this server has no token secret (verto.token_secret)")
		return
	}
	role, err := checkToken(&t)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	rm, err := a.cfg.Rooms.Lookup(t.Room)
	if err != nil {
		writeError(w, http.StatusNotFound, fmt.Sprintf("no such room: %q", t.Room))
		return
	}
	exp := time.Now().Add(time.Duration(t.TTLSeconds) * time.Second).Truncate(time.Second)
	tok := a.cfg.SignToken(rm.Number(), t.Name, role, exp)
	a.audit(r, "token", rm.Number(), zap.Stringer("role", role), zap.Int("ttl_seconds", t.TTLSeconds))
	writeJSON(w, http.StatusCreated, tokenResponse{Token: tok, Room: rm.Number(), Name: t.Name, Role: role.String(), ExpiresAt: exp.UTC()})
}

func checkToken(t *tokenRequest) (room.Role, error) {
	if t.TTLSeconds == 0 {
		t.TTLSeconds = int(DefaultTokenTTL / time.Second)
	}
	role := room.RoleParticipant
	switch {
	case t.Room == "":
		return role, errors.New("room: required")
	case !printable(t.Name, maxNameBytes):
		return role, fmt.Errorf("name: at most %d bytes of printable UTF-8", maxNameBytes)
	case t.TTLSeconds < 0 || t.TTLSeconds > int(MaxTokenTTL/time.Second):
		return role, fmt.Errorf("ttl_seconds: 1 to %d", int(MaxTokenTTL/time.Second))
	}
	switch t.Role {
	case "", "participant":
	case "moderator":
		role = room.RoleModerator
	default:
		return role, errors.New("role: participant or moderator")
	}
	return role, nil
}

// streamEvents serves the event stream: every room's events, or ?room=
// one room's; ?events= names the types (default: all but chat).
func (a *API) streamEvents(w http.ResponseWriter, r *http.Request) {
	if a.cfg.Streams == nil {
		writeError(w, http.StatusNotImplemented, "the event stream is not available on this server")
		return
	}
	q := r.URL.Query()
	number := ""
	if key := q.Get("room"); key != "" {
		rm, err := a.cfg.Rooms.Lookup(key)
		if err != nil {
			writeError(w, http.StatusNotFound, fmt.Sprintf("no such room: %q", key))
			return
		}
		number = rm.Number()
	}
	var names []string
	if v := q.Get("events"); v != "" {
		names = strings.Split(v, ",")
	}
	filter, err := events.NewFilter(names)
	if err != nil {
		writeError(w, http.StatusBadRequest, "events: "+err.Error())
		return
	}
	s, err := a.cfg.Streams.Open(number, filter)
	if err != nil {
		writeError(w, http.StatusServiceUnavailable, err.Error())
		return
	}
	defer s.Close()
	a.log.Debug("event stream opened", zap.String("key", keyName(r)), zap.String("room", number))
	s.ServeHTTP(w, r)
}
