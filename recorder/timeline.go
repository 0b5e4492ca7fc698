package recorder

import (
	"encoding/json"
	"os"
	"path/filepath"
	"time"

	"github.com/confd/confd/room"
)

// maxEvents bounds a timeline; later events are counted, not kept.
const maxEvents = 100000

// timeline is timeline.json: what the recording holds and what happened,
// every time in seconds on the recording's clock.
type timeline struct {
	Room          roomInfo   `json:"room"`
	Started       time.Time  `json:"started"` // the wall time of the recording's 0
	Ended         time.Time  `json:"ended,omitzero"`
	Duration      float64    `json:"duration"`
	StoppedBy     string     `json:"stopped_because,omitempty"` // an error or a limit; empty when asked to stop
	Dropped       uint64     `json:"dropped_packets"`           // taps found the queue full
	EventsDropped int        `json:"events_dropped,omitempty"`
	Files         []fileInfo `json:"files"`
	Events        []event    `json:"events"`
}

type roomInfo struct {
	Number string `json:"number"`
	Name   string `json:"name"`
}

// fileInfo is one file: where its time 0 is on the recording's clock,
// and how long it is.
type fileInfo struct {
	File     string  `json:"file"`
	Kind     string  `json:"kind"` // mix, audio, camera, screen
	Member   int     `json:"member,omitempty"`
	Start    float64 `json:"start"`
	Duration float64 `json:"duration"`
	Width    int     `json:"width,omitempty"`
	Height   int     `json:"height,omitempty"`
	Frames   int     `json:"frames,omitempty"`
}

// event is one thing that happened. Joins name the member; the others
// give its ID.
type event struct {
	T           float64 `json:"t"`
	Type        string  `json:"type"` // join, leave, talking, mute, hand, floor
	Member      int     `json:"member,omitempty"`
	Name        string  `json:"name,omitempty"`
	Kind        string  `json:"kind,omitempty"`
	Role        string  `json:"role,omitempty"`
	Talking     *bool   `json:"talking,omitempty"`
	Muted       *bool   `json:"muted,omitempty"`
	ByModerator bool    `json:"by_moderator,omitempty"`
	Raised      *bool   `json:"raised,omitempty"`
	Floor       *int    `json:"floor,omitempty"`       // the audio floor's member, 0 for nobody
	VideoFloor  *int    `json:"video_floor,omitempty"` // the video floor's member
}

func seconds(nanos int64) float64 { return float64(nanos/1e6) / 1000 }

// add keeps ev, while the timeline has room.
func (tl *timeline) add(ev event) {
	if len(tl.Events) >= maxEvents {
		tl.EventsDropped++
		return
	}
	tl.Events = append(tl.Events, ev)
}

func joined(t float64, m room.MemberRef) event {
	return event{T: t, Type: "join", Member: m.ID, Name: m.Name, Kind: m.Kind.String(), Role: m.Role.String()}
}

// eventOf is the timeline's entry for an activity; false for those it
// does not keep (chat, moderator actions, the recording's own).
func eventOf(t float64, a *room.Activity) (event, bool) {
	switch a.Kind {
	case room.MemberJoined:
		return joined(t, a.Member), true
	case room.MemberLeft:
		return event{T: t, Type: "leave", Member: a.Member.ID}, true
	case room.MemberMuted:
		return event{T: t, Type: "mute", Member: a.Member.ID, Muted: &a.Muted, ByModerator: a.ByModerator}, true
	case room.HandRaised:
		return event{T: t, Type: "hand", Member: a.Member.ID, Raised: &a.Raised}, true
	case room.FloorChanged:
		floor, video := a.Floor.ID, a.VideoFloor.ID
		return event{T: t, Type: "floor", Floor: &floor, VideoFloor: &video}, true
	}
	return event{}, false
}

// write replaces dir/timeline.json whole (a new file renamed over the
// old), so that a reader never sees half of one.
func (tl *timeline) write(dir string) error {
	body, err := json.MarshalIndent(tl, "", " ")
	if err != nil {
		return err
	}
	tmp := filepath.Join(dir, ".timeline.json.tmp")
	if err := os.WriteFile(tmp, append(body, '\n'), fileMode); err != nil {
		_ = os.Remove(tmp)
		return err
	}
	return os.Rename(tmp, filepath.Join(dir, "timeline.json"))
}
