package control

import (
	"fmt"
	"net/http"
	"net/url"
	"strconv"

	"github.com/go-chi/chi/v5"

	"github.com/confd/confd/room"
)

// memberView is a member as the API shows it.
type memberView struct {
	ID         int    `json:"id"`
	Name       string `json:"name"`
	Kind       string `json:"kind"` // browser, phone, screen
	Role       string `json:"role"` // moderator, participant
	Muted      bool   `json:"muted"`
	MuteLocked bool   `json:"mute_locked"` // a moderator's mute: the member cannot undo it
	Deaf       bool   `json:"deaf"`
	Talking    bool   `json:"talking"`
	Video      bool   `json:"video"` // sends video that is forwarded
	VideoMuted bool   `json:"video_muted"`
	Hand       bool   `json:"hand"`
	Held       bool   `json:"held"`
	Lobby      bool   `json:"lobby"`
	Floor      bool   `json:"floor"`       // the audio floor: the loudest speaker
	VideoFloor bool   `json:"video_floor"` // shown large to everyone
	FloorLock  bool   `json:"floor_locked"`
	Banner     string `json:"banner"`
}

func memberOf(row room.Row) memberView {
	return memberView{
		ID: row.ID, Name: row.Name, Kind: row.Kind.String(), Role: row.Role.String(),
		Muted: row.Muted, MuteLocked: row.ModMuted, Deaf: row.Deaf, Talking: row.Talking,
		Video: row.HasVideo && !row.VideoMuted, VideoMuted: row.VideoMuted, Hand: row.Hand, Held: row.Held,
		Lobby: row.Waiting, Floor: row.Floor, VideoFloor: row.VideoFloor, FloorLock: row.FloorLocked, Banner: row.Banner,
	}
}

type memberHandler func(w http.ResponseWriter, r *http.Request, rm *room.Room, p *room.Participant)

// onMember finds the {room} and {member} of the path, or answers 404.
func (a *API) onMember(h memberHandler) http.HandlerFunc {
	return a.inRoom(func(w http.ResponseWriter, r *http.Request, rm *room.Room) {
		id, err := strconv.Atoi(chi.URLParam(r, "member"))
		var p *room.Participant
		if err == nil && id > 0 {
			p = rm.Participant(id)
		}
		if p == nil {
			writeError(w, http.StatusNotFound, fmt.Sprintf("no member %q in room %s", chi.URLParam(r, "member"), rm.Number()))
			return
		}
		h(w, r, rm, p)
	})
}

func (a *API) getMember(w http.ResponseWriter, _ *http.Request, _ *room.Room, p *room.Participant) {
	writeJSON(w, http.StatusOK, memberOf(p.Row()))
}

// operate runs a moderator command on the member for the request's key
// and answers status with the member; on an error, the error.
func (a *API) operate(w http.ResponseWriter, r *http.Request, rm *room.Room, p *room.Participant, c room.Command, status int) {
	c.Target = p.ID
	if _, err := rm.Operate(keyName(r), c); err != nil {
		writeError(w, errStatus(err), err.Error())
		return
	}
	writeJSON(w, status, memberOf(p.Row()))
}

func (a *API) memberCommand(name string) memberHandler {
	return func(w http.ResponseWriter, r *http.Request, rm *room.Room, p *room.Participant) {
		if decode(w, r, &struct{}{}) {
			a.operate(w, r, rm, p, room.Command{Name: name}, http.StatusOK)
		}
	}
}

// kick is answered 202: the member's call ends, and it leaves, shortly.
func (a *API) kick(w http.ResponseWriter, r *http.Request, rm *room.Room, p *room.Participant) {
	if decode(w, r, &struct{}{}) {
		a.operate(w, r, rm, p, room.Command{Name: "kick"}, http.StatusAccepted)
	}
}

// moveBody is the body of POST …/move.
type moveBody struct {
	To string `json:"to"` // the room's number or name
}

// move is answered 202: the member's endpoint moves it shortly. What
// would make the move fail is refused first (409), so that it does not
// fail unseen.
func (a *API) move(w http.ResponseWriter, r *http.Request, rm *room.Room, p *room.Participant) {
	var m moveBody
	if !decode(w, r, &m) {
		return
	}
	if m.To == "" {
		writeError(w, http.StatusBadRequest, "to: the room to move the member to is required")
		return
	}
	to, err := a.cfg.Rooms.Lookup(m.To)
	if err != nil {
		writeError(w, http.StatusNotFound, fmt.Sprintf("no such room: %q", m.To))
		return
	}
	tm := to.Metrics()
	n := 0
	for _, k := range tm.Members {
		n += k
	}
	switch {
	case to == rm:
		writeError(w, http.StatusConflict, "the member is in that room already")
		return
	case tm.Locked && p.Role() != room.RoleModerator:
		writeError(w, http.StatusConflict, fmt.Sprintf("room %s is locked", to.Number()))
		return
	case n >= to.Config().MaxMembers:
		writeError(w, http.StatusConflict, fmt.Sprintf("room %s is full", to.Number()))
		return
	}
	a.operate(w, r, rm, p, room.Command{Name: "transfer", Value: to.Number()}, http.StatusAccepted)
}

// setFloor puts the member on the video floor, locked there, or takes it
// off if it is there; either is answered with the member, and asking for
// what already holds changes nothing.
func (a *API) setFloor(on bool) memberHandler {
	return func(w http.ResponseWriter, r *http.Request, rm *room.Room, p *room.Participant) {
		if !decode(w, r, &struct{}{}) {
			return
		}
		if p.Row().FloorLocked == on {
			writeJSON(w, http.StatusOK, memberOf(p.Row()))
			return
		}
		// vid-floor toggles: it locks the floor onto a member that does
		// not hold it locked, and releases it from one that does.
		a.operate(w, r, rm, p, room.Command{Name: "vid-floor", Value: "force"}, http.StatusOK)
	}
}

// bannerBody is the body of PUT …/banner.
type bannerBody struct {
	Text string `json:"text"`
}

// maxBannerBytes is the room's limit on a tile's caption.
const maxBannerBytes = 200

func (a *API) setBanner(w http.ResponseWriter, r *http.Request, rm *room.Room, p *room.Participant) {
	var b bannerBody
	if !decode(w, r, &b) {
		return
	}
	if b.Text == "" || !printable(b.Text, maxBannerBytes) {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("text: 1 to %d bytes of printable UTF-8 (DELETE removes the banner)", maxBannerBytes))
		return
	}
	a.operate(w, r, rm, p, room.Command{Name: "vid-banner", Value: bannerValue(b.Text)}, http.StatusOK)
}

func (a *API) clearBanner(w http.ResponseWriter, r *http.Request, rm *room.Room, p *room.Participant) {
	if decode(w, r, &struct{}{}) {
		a.operate(w, r, rm, p, room.Command{Name: "vid-banner", Value: "clear"}, http.StatusOK)
	}
}

// bannerValue escapes text as vid-banner takes it (URL-escaped, as Verto
// clients send it); a banner that reads "clear" or "reset" is escaped
// further so that it is shown, not taken as the command to remove it.
func bannerValue(text string) string {
	v := url.PathEscape(text)
	if v == "clear" || v == "reset" {
		v = fmt.Sprintf("%%%02X%s", v[0], v[1:])
	}
	return v
}
