package signalling

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/confd/confd/room"
	"github.com/confd/confd/signalling/verto"
)

// conference is the Verto face of one room: its channel names and its live
// array's wire serial number (verto-spec §9). The serial is advanced only
// under the room's lock (the room calls its observer with it held), so every
// subscriber sees strictly consecutive numbers.
//
// The server keeps a room's conference (Server.confs) from its first row
// on, for the serial; once the room is closed and its last row deleted it
// is forgotten, so removed dynamic rooms leave nothing behind. Without rows
// no one follows the serial, and a conference made for its names alone
// (conferenceOf) is not kept.
type conference struct {
	room                    *room.Room
	name                    string // laName: the room number
	la, chat, mod, info, id string
	serno                   int  // guarded by the room's lock
	rows                    int  // guarded by the room's lock: rows in the live array
	closed                  bool // guarded by the room's lock: the room closed
}

// conferenceOf is r's conference: the kept one, or else one made for its
// channel names, kept only if keep (when its first row is added).
func (s *Server) conferenceOf(r *room.Room, keep bool) *conference {
	s.confMu.Lock()
	defer s.confMu.Unlock()
	if c := s.confs[r]; c != nil {
		return c
	}
	at := r.Number() + "@" + s.cfg.Domain
	c := &conference{
		room: r, name: r.Number(),
		la: chanLiveArray + "." + at, chat: chanChat + "." + at, mod: chanMod + "." + at, info: chanInfo + "." + at,
		id: "conf+" + at,
	}
	if keep {
		s.confs[r] = c
	}
	return c
}

// forgetIfDone drops a closed room's conference once its last row is gone.
func (s *Server) forgetIfDone(c *conference) {
	if !c.closed || c.rows > 0 {
		return
	}
	s.confMu.Lock()
	defer s.confMu.Unlock()
	if s.confs[c.room] == c {
		delete(s.confs, c.room)
	}
}

// RowChanged implements room.Observer: add, modify and del go to every
// subscriber of the live array, numbered consecutively.
func (s *Server) RowChanged(r *room.Room, action room.RowAction, row room.Row) {
	c := s.conferenceOf(r, action == room.RowAdd)
	c.serno++
	data := liveArrayEvent{Name: c.name, HashKey: row.Key, WireSerno: c.serno, Data: rowJSON(row)}
	switch action {
	case room.RowAdd:
		data.Action = "add"
		n := c.rows // the new row goes last (verto-spec §9.3: the safe index)
		data.ArrIndex = &n
		c.rows++
	case room.RowModify:
		data.Action = "modify"
	case room.RowDel:
		data.Action = "del"
		c.rows--
	}
	s.hub.publish(c.la, data)
	if action == room.RowDel {
		s.forgetIfDone(c)
	}
}

// Chat implements room.Observer: messages go to every chat subscriber, the
// sender included.
func (s *Server) Chat(r *room.Room, m room.ChatMessage) {
	c := s.conferenceOf(r, false)
	s.hub.publish(c.chat, chatEvent{Direction: "outbound", Message: m.Message, FromDisplay: m.FromDisplay, From: m.From, Type: m.Type})
}

// RoomClosed implements room.Observer: the live array is cleared. The
// members' rows are deleted after, as their calls end; the last one's
// deletion forgets the conference.
func (s *Server) RoomClosed(r *room.Room) {
	c := s.conferenceOf(r, false)
	c.closed = true
	s.hub.publish(c.la, liveArrayEvent{Action: "clear", Name: c.name, WireSerno: -1, Data: struct{}{}})
	s.forgetIfDone(c)
}

type liveArrayEvent struct {
	Action    string `json:"action"`
	ArrIndex  *int   `json:"arrIndex,omitempty"`
	Name      string `json:"name"`
	HashKey   string `json:"hashKey,omitempty"`
	WireSerno int    `json:"wireSerno"`
	Data      any    `json:"data"`
}

type chatEvent struct {
	Direction   string `json:"direction"`
	Message     string `json:"message"`
	FromDisplay string `json:"fromDisplay,omitempty"`
	From        string `json:"from"`
	Type        string `json:"type"`
}

// rowJSON lays a row out as verto-spec §9.4: [id, number, name, codec,
// status JSON as a string, user data object, null].
func rowJSON(r room.Row) []any {
	status, _ := json.Marshal(rowStatus(r))
	codec := "opus@48000"
	if r.Kind == room.KindPhone {
		codec = "PCMU@8000"
	}
	ud := r.UserData
	if ud == nil {
		ud = map[string]any{}
	}
	return []any{fmt.Sprintf("%04d", r.ID), r.Number, r.Name, codec, string(status), ud, nil}
}

type audioStatus struct {
	Muted       bool `json:"muted"`
	Deaf        bool `json:"deaf"`
	OnHold      bool `json:"onHold"`
	Talking     bool `json:"talking"`
	Floor       bool `json:"floor"`
	EnergyScore int  `json:"energyScore"`
}

type videoStatus struct {
	Visible          bool    `json:"visible"`
	NoRecover        bool    `json:"noRecover"`
	ScreenShare      bool    `json:"screenShare,omitempty"`
	AvatarPresented  bool    `json:"avatarPresented"`
	MediaFlow        string  `json:"mediaFlow"`
	Muted            bool    `json:"muted"`
	Floor            bool    `json:"floor"`
	FloorLocked      bool    `json:"floorLocked,omitempty"`
	ReservationID    *string `json:"reservationID"`
	RoleID           *string `json:"roleID"`
	VideoLayerID     int     `json:"videoLayerID"`
	CanvasID         int     `json:"canvasID"`
	WatchingCanvasID int     `json:"watchingCanvasID"`
}

// confdStatus is confd's addition to the status (docs/protocol.md): what
// Verto's rows have no place for.
type confdStatus struct {
	Kind     string `json:"kind"`
	Role     string `json:"role"`
	Hand     bool   `json:"handRaised"`
	ModMuted bool   `json:"muteLocked"`
	Banner   string `json:"banner,omitempty"`
	Lobby    bool   `json:"lobby,omitempty"`
	// Recording: the room is being recorded (every row says so, for every
	// member to see; FreeSWITCH's Verto carries no such flag).
	Recording bool `json:"recording,omitempty"`
}

type rowStatusJSON struct {
	Audio     audioStatus `json:"audio"`
	Video     any         `json:"video"`
	OldStatus string      `json:"oldStatus"`
	Confd     confdStatus `json:"confd"`
}

func rowStatus(r room.Row) rowStatusJSON {
	st := rowStatusJSON{
		Audio: audioStatus{Muted: r.Muted, Deaf: r.Deaf, OnHold: r.Held, Talking: r.Talking, Floor: r.Floor, EnergyScore: r.Energy},
		Video: false,
		Confd: confdStatus{Kind: kindName(r.Kind), Role: r.Role.String(), Hand: r.Hand, ModMuted: r.ModMuted, Banner: r.Banner, Lobby: r.Waiting,
			Recording: r.Recording},
	}
	if r.HasVideo {
		v := videoStatus{Visible: !r.VideoMuted, ScreenShare: r.ScreenShare, MediaFlow: "sendRecv", Muted: r.VideoMuted,
			Floor: r.VideoFloor, FloorLocked: r.FloorLocked, VideoLayerID: -1}
		if r.ScreenShare {
			v.MediaFlow = "sendOnly"
		}
		if r.Reservation != "" {
			v.ReservationID = &r.Reservation
		}
		st.Video = v
	}
	st.OldStatus = oldStatus(r)
	return st
}

func kindName(k room.Kind) string {
	return k.String()
}

// oldStatus is the text status FreeSWITCH kept for old clients.
func oldStatus(r room.Row) string {
	audio := "ACTIVE"
	switch {
	case r.Held:
		audio = "HOLD"
	case r.Muted:
		audio = "MUTE"
	case r.Talking && r.Floor:
		audio = "TALKING (FLOOR)"
	case r.Floor:
		audio = "FLOOR"
	case r.Talking:
		audio = "TALKING"
	}
	switch {
	case !r.HasVideo:
		return audio
	case r.VideoMuted:
		return audio + " VIDEO (BLIND)"
	case r.VideoFloor:
		return audio + " VIDEO (FLOOR)"
	}
	return audio + " VIDEO"
}

// sendPvtData tells the member's connection the conference's channels
// (verto-spec §9.2), directly by sessid. Moderators alone get modChannel
// and the lock state;
// a screen share leg is marked so that clients do not reset their view.
func (c *Call) sendPvtData(s *Session, action string) {
	conf := s.srv.conferenceOf(c.room(), false)
	p := verto.PvtData{
		CallID: c.id, Action: action, LaChannel: conf.la, LaName: conf.name, Role: c.part().Role().String(),
		ChatID: conf.id, ConferenceMemberID: fmt.Sprint(c.part().ID), CanvasCount: 1,
		ChatChannel: conf.chat, InfoChannel: conf.info,
	}
	if c.part().Role() == room.RoleModerator {
		// A moderator joining a locked room learns it here: lock and
		// unlock are announced only as they happen.
		p.ModChannel, p.Confd = conf.mod, &verto.PvtConfd{Locked: c.room().Locked()}
	}
	if c.part().Info.Kind == room.KindScreen {
		p.ScreenShare, p.VideoOnly = true, true
	}
	s.request(verto.MethodEvent, verto.Event{EventChannel: s.sessid, EventType: verto.EventTypePvtData, PvtData: p})
}

// channelRoom finds which of the session's rooms a conference channel names.
func (s *Session) channelRoom(channel string) (*Call, *conference, string) {
	prefix, _, _ := strings.Cut(channel, ".")
	for _, c := range s.calls {
		if c.part() == nil {
			continue
		}
		conf := s.srv.conferenceOf(c.room(), false)
		switch channel {
		case conf.la, conf.chat, conf.mod, conf.info:
			return c, conf, prefix
		}
	}
	return nil, nil, ""
}

// leaveChannels drops the session's subscriptions to r's conference
// channels once it has no call left there: the list and chat of a room
// are for its members.
func (s *Session) leaveChannels(r *room.Room) {
	for _, c := range s.calls {
		if c.room() == r {
			return
		}
	}
	conf := s.srv.conferenceOf(r, false)
	s.srv.hub.unsubscribe(s, []string{conf.la, conf.chat, conf.mod, conf.info})
}
