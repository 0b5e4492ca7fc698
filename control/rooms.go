package control

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/go-chi/chi/v5"

	"github.com/confd/confd/room"
)

// roomView is a room in the list.
type roomView struct {
	Number        string         `json:"number"`
	Name          string         `json:"name"`
	Dynamic       bool           `json:"dynamic"`
	Locked        bool           `json:"locked"`
	Recording     bool           `json:"recording"`
	MemberCount   int            `json:"member_count"`
	MembersByKind map[string]int `json:"members_by_kind"` // browser, phone, screen
	MaxMembers    int            `json:"max_members"`
	PIN           bool           `json:"pin"` // whether it has one; PINs are never shown
	ModeratorPIN  bool           `json:"moderator_pin"`
	Lobby         bool           `json:"lobby"`
	RequireToken  bool           `json:"require_token"`
}

// roomDetail is one room with its members.
type roomDetail struct {
	roomView
	Members []memberView `json:"members"`
}

func viewOf(r *room.Room) roomView {
	m := r.Metrics()
	c := r.Config()
	v := roomView{
		Number: r.Number(), Name: r.Name(), Dynamic: r.Dynamic(), Locked: m.Locked, Recording: r.Recording(),
		MembersByKind: map[string]int{}, MaxMembers: c.MaxMembers, PIN: c.PIN != "", ModeratorPIN: c.ModeratorPIN != "",
		Lobby: c.Lobby, RequireToken: c.RequireToken,
	}
	for k, n := range m.Members {
		v.MembersByKind[room.Kind(k).String()] = n
		v.MemberCount += n
	}
	return v
}

func detailOf(r *room.Room) roomDetail {
	d := roomDetail{roomView: viewOf(r), Members: []memberView{}}
	r.Snapshot(func(rows []room.Row) {
		for _, row := range rows {
			d.Members = append(d.Members, memberOf(row))
		}
	})
	return d
}

// inRoom finds the {room} of the path (number or name), or answers 404.
func (a *API) inRoom(h func(w http.ResponseWriter, r *http.Request, rm *room.Room)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		key, err := url.PathUnescape(chi.URLParam(r, "room"))
		if err != nil {
			key = chi.URLParam(r, "room")
		}
		rm, err := a.cfg.Rooms.Lookup(key)
		if err != nil {
			writeError(w, http.StatusNotFound, fmt.Sprintf("no such room: %q", key))
			return
		}
		h(w, r, rm)
	}
}

func (a *API) listRooms(w http.ResponseWriter, _ *http.Request) {
	out := struct {
		Rooms []roomView `json:"rooms"`
	}{Rooms: []roomView{}}
	for _, r := range a.cfg.Rooms.All() {
		out.Rooms = append(out.Rooms, viewOf(r))
	}
	writeJSON(w, http.StatusOK, out)
}

func (a *API) getRoom(w http.ResponseWriter, _ *http.Request, rm *room.Room) {
	writeJSON(w, http.StatusOK, detailOf(rm))
}

// newRoom is the body of POST /rooms.
type newRoom struct {
	Number       string `json:"number"`
	Name         string `json:"name"`
	PIN          string `json:"pin"`
	ModeratorPIN string `json:"moderator_pin"`
	MaxMembers   int    `json:"max_members"`
	Speakers     int    `json:"speakers"`
	Lobby        bool   `json:"lobby"`
	RequireToken bool   `json:"require_token"`
	Present      string `json:"present"`
	Tones        string `json:"tones"`
}

// Room limits for dynamic rooms.
const (
	maxRoomMembers = 1000
	maxSpeakers    = 10
	maxNameBytes   = 100
	maxPINDigits   = 16
)

// A room number is what phones dial and Verto channels are named after:
// letters, digits, - and _.
var numberRE = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

var pinRE = regexp.MustCompile(`^[0-9]{1,16}$`)

func (n *newRoom) check(tokens bool) error {
	switch {
	case !numberRE.MatchString(n.Number):
		return errors.New("number: 1 to 64 letters, digits, - or _")
	case strings.HasSuffix(strings.ToLower(n.Number), "-screen"):
		return errors.New("number: NUMBER-screen is how a screen share dials NUMBER")
	case !printable(n.Name, maxNameBytes):
		return fmt.Errorf("name: at most %d bytes of printable UTF-8", maxNameBytes)
	case n.PIN != "" && !pinRE.MatchString(n.PIN), n.ModeratorPIN != "" && !pinRE.MatchString(n.ModeratorPIN):
		return fmt.Errorf("pin, moderator_pin: 1 to %d digits (phones type them)", maxPINDigits)
	case n.PIN != "" && n.PIN == n.ModeratorPIN:
		return errors.New("moderator_pin: must differ from pin")
	case n.MaxMembers < 0 || n.MaxMembers > maxRoomMembers:
		return fmt.Errorf("max_members: 0 (the default, %d) to %d", room.DefaultMaxMembers, maxRoomMembers)
	case n.Speakers < 0 || n.Speakers > maxSpeakers:
		return fmt.Errorf("speakers: 0 (the default, 3) to %d", maxSpeakers)
	case n.Present != "" && n.Present != "everyone" && n.Present != "moderators":
		return errors.New("present: everyone or moderators")
	case !room.TonePolicy(n.Tones).Valid():
		return errors.New("tones: phones, always or never")
	case n.RequireToken && !tokens:
		return errors.New("require_token: this server has no token secret (verto.token_secret)")
	}
	return nil
}

// printable: valid UTF-8 of at most max bytes, no control characters.
func printable(s string, max int) bool {
	if len(s) > max || !utf8.ValidString(s) {
		return false
	}
	return !strings.ContainsFunc(s, unicode.IsControl)
}

func (a *API) createRoom(w http.ResponseWriter, r *http.Request) {
	var n newRoom
	if !decode(w, r, &n) {
		return
	}
	if err := n.check(a.cfg.SignToken != nil); err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	a.createMu.Lock()
	defer a.createMu.Unlock()
	dynamic := 0
	for _, rm := range a.cfg.Rooms.All() {
		if rm.Dynamic() {
			dynamic++
		}
	}
	if dynamic >= a.cfg.MaxRooms {
		writeError(w, http.StatusConflict, fmt.Sprintf("there are %d dynamic rooms already, the most api.max_rooms allows", dynamic))
		return
	}
	rm, err := a.cfg.Rooms.Create(room.Config{
		Number: n.Number, Name: n.Name, PIN: n.PIN, ModeratorPIN: n.ModeratorPIN, MaxMembers: n.MaxMembers,
		Speakers: n.Speakers, RequireToken: n.RequireToken, PresentModerators: n.Present == "moderators",
		Lobby: n.Lobby, Tones: room.TonePolicy(n.Tones),
	})
	if err != nil {
		writeError(w, errStatus(err), err.Error())
		return
	}
	rm.Audit(room.Actor{Key: keyName(r)}, "create", 0, "")
	w.Header().Set("Location", Prefix+"/rooms/"+url.PathEscape(rm.Number()))
	writeJSON(w, http.StatusCreated, detailOf(rm))
}

func (a *API) closeRoom(w http.ResponseWriter, r *http.Request, rm *room.Room) {
	if !rm.Dynamic() {
		writeError(w, http.StatusConflict, "a configured room stays: only dynamic rooms can be closed")
		return
	}
	if err := a.cfg.Rooms.Remove(rm); err != nil {
		writeError(w, errStatus(err), err.Error())
		return
	}
	rm.Audit(room.Actor{Key: keyName(r)}, "close", 0, "")
	w.WriteHeader(http.StatusNoContent)
}

// roomCommand runs a room-wide moderator command and answers with the room.
func (a *API) roomCommand(name string) func(http.ResponseWriter, *http.Request, *room.Room) {
	return func(w http.ResponseWriter, r *http.Request, rm *room.Room) {
		if !decode(w, r, &struct{}{}) {
			return
		}
		if _, err := rm.Operate(keyName(r), room.Command{Name: name}); err != nil {
			writeError(w, errStatus(err), err.Error())
			return
		}
		writeJSON(w, http.StatusOK, detailOf(rm))
	}
}

// chatBody is the body of POST /rooms/{room}/chat.
type chatBody struct {
	Message string `json:"message"`
	Name    string `json:"name"` // shown as the sender; default "System"
}

func (a *API) chat(w http.ResponseWriter, r *http.Request, rm *room.Room) {
	var c chatBody
	if !decode(w, r, &c) {
		return
	}
	if c.Name == "" {
		c.Name = "System"
	}
	if !printable(c.Name, maxNameBytes) {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("name: at most %d bytes of printable UTF-8", maxNameBytes))
		return
	}
	if err := rm.Post(room.ChatMessage{From: "system", FromDisplay: c.Name, Message: c.Message}); err != nil {
		writeError(w, errStatus(err), "message: "+err.Error())
		return
	}
	rm.Audit(room.Actor{Key: keyName(r)}, "chat", 0, "")
	w.WriteHeader(http.StatusNoContent)
}

func (a *API) startRecording(w http.ResponseWriter, r *http.Request, rm *room.Room) {
	a.recording(w, r, rm, true)
}

func (a *API) stopRecording(w http.ResponseWriter, r *http.Request, rm *room.Room) {
	a.recording(w, r, rm, false)
}

func (a *API) recording(w http.ResponseWriter, r *http.Request, rm *room.Room, start bool) {
	if !decode(w, r, &struct{}{}) {
		return
	}
	rec := a.cfg.Recorder
	switch {
	case rec == nil:
		writeError(w, http.StatusNotImplemented, "recording is not available on this server")
		return
	case start && rm.Recording():
		writeError(w, http.StatusConflict, "the room is being recorded already")
		return
	case !start && !rm.Recording():
		writeError(w, http.StatusConflict, "the room is not being recorded")
		return
	}
	op, action := rec.Stop, "recording_stop"
	if start {
		op, action = rec.Start, "recording_start"
	}
	if err := op(rm); err != nil {
		status := http.StatusInternalServerError
		if errors.Is(err, room.ErrCannotRecord) {
			status = http.StatusConflict
		}
		writeError(w, status, err.Error())
		return
	}
	rm.Audit(room.Actor{Key: keyName(r)}, action, 0, "")
	writeJSON(w, http.StatusOK, viewOf(rm))
}
