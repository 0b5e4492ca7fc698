package room

import (
	"errors"
	"fmt"
	"reflect"
	"sync"
	"testing"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/confd/confd/forwarder"
)

// activities records what a room reports.
type activities struct {
	mu  sync.Mutex
	got []Activity
}

func (s *activities) Activity(a Activity) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.got = append(s.got, a)
}

func (s *activities) kinds() []ActivityKind {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []ActivityKind
	for _, a := range s.got {
		out = append(out, a.Kind)
	}
	return out
}

func (s *activities) reset() []Activity {
	s.mu.Lock()
	defer s.mu.Unlock()
	got := s.got
	s.got = nil
	return got
}

func activityRoom(t *testing.T) (*Room, *activities) {
	t.Helper()
	r, _ := testRoom(t)
	sink := &activities{}
	r.rooms.ReportTo(sink)
	return r, sink
}

func expectKinds(t *testing.T, step string, got []Activity, want ...ActivityKind) {
	t.Helper()
	kinds := make([]ActivityKind, len(got))
	for i, a := range got {
		kinds[i] = a.Kind
	}
	if !reflect.DeepEqual(kinds, want) && !(len(kinds) == 0 && len(want) == 0) {
		t.Fatalf("%s: reported %v, want %v", step, kinds, want)
	}
	for _, a := range got {
		if a.Room != "3500" || a.Time.IsZero() {
			t.Fatalf("%s: %+v is not stamped with the room and time", step, a)
		}
	}
}

// TestActivities: a meeting from the first join to the last leave reports
// each change once, in order, with whom it concerns.
func TestActivities(t *testing.T) {
	r, sink := activityRoom(t)
	ann, _ := joinAs(t, r, "ann", RoleParticipant)
	got := sink.reset()
	expectKinds(t, "first join", got, RoomStarted, MemberJoined)
	if got[1].Member != (MemberRef{ID: ann.ID, Name: "ann"}) {
		t.Errorf("joined %+v", got[1].Member)
	}
	bob, _ := joinAs(t, r, "bob", RoleModerator)
	expectKinds(t, "second join", sink.reset(), MemberJoined)

	if err := r.SelfMute(ann, true); err != nil {
		t.Fatal(err)
	}
	got = sink.reset()
	expectKinds(t, "self mute", got, MemberMuted)
	if a := got[0]; !a.Muted || a.ByModerator || a.Member.ID != ann.ID {
		t.Errorf("self mute reported %+v", a)
	}
	_ = r.SelfMute(ann, true)
	expectKinds(t, "muting the muted", sink.reset())

	r.RaiseHand(bob, true)
	got = sink.reset()
	expectKinds(t, "hand", got, HandRaised)
	if !got[0].Raised || got[0].Member.ID != bob.ID {
		t.Errorf("hand reported %+v", got[0])
	}
	r.RaiseHand(bob, true)
	expectKinds(t, "raising a raised hand", sink.reset())

	ev := mixEvents{r}
	ev.Floor(ann.ID)
	got = sink.reset()
	expectKinds(t, "audio floor", got, FloorChanged)
	if got[0].Floor.ID != ann.ID || got[0].VideoFloor.ID != 0 {
		t.Errorf("floor reported %+v", got[0])
	}
	r.Publish(bob, forwarder.NewReceiver(forwarder.ReceiverConfig{}, nil))
	got = sink.reset()
	expectKinds(t, "video floor", got, FloorChanged)
	if got[0].Floor.ID != ann.ID || got[0].VideoFloor.ID != bob.ID {
		t.Errorf("floor reported %+v", got[0])
	}

	if err := r.Say(bob, ChatMessage{From: "bob@x", FromDisplay: "bob", Message: "hi"}); err != nil {
		t.Fatal(err)
	}
	got = sink.reset()
	expectKinds(t, "chat", got, ChatPosted)
	if got[0].Chat.Message != "hi" || got[0].Member.ID != bob.ID {
		t.Errorf("chat reported %+v", got[0])
	}
	if err := r.Post(ChatMessage{From: "system", FromDisplay: "System", Message: "closing soon"}); err != nil {
		t.Fatal(err)
	}
	got = sink.reset()
	expectKinds(t, "system chat", got, ChatPosted)
	if got[0].Member.ID != 0 || got[0].Chat.Type != "message" {
		t.Errorf("system chat reported %+v", got[0])
	}

	r.SetRecording(true)
	r.SetRecording(true)
	r.SetRecording(false)
	expectKinds(t, "recording", sink.reset(), RecordingStarted, RecordingFinished)

	r.Leave(bob)
	got = sink.reset()
	expectKinds(t, "a leave that takes the video floor", got, MemberLeft, FloorChanged)
	r.Leave(ann)
	got = sink.reset()
	expectKinds(t, "the last leave", got, MemberLeft, FloorChanged, RoomFinished)
	if got[0].Member.ID != ann.ID {
		t.Errorf("left %+v", got[0].Member)
	}
}

// TestModeratorActionsAreReported: a moderator's command and an operator's
// both report what they did and to whom after their effect; a refused or
// failed command reports nothing and changes nothing.
func TestModeratorActionsAreReported(t *testing.T) {
	r, sink := activityRoom(t)
	mod, _ := joinAs(t, r, "mod", RoleModerator)
	pat, _ := joinAs(t, r, "pat", RoleParticipant)
	sink.reset()

	if _, err := r.Run(mod, Command{Name: "mute", Target: pat.ID}); err != nil {
		t.Fatal(err)
	}
	got := sink.reset()
	expectKinds(t, "a moderator's mute", got, MemberMuted, ModeratorAction)
	if a := got[1]; a.By.ID != mod.ID || a.ByKey != "" || a.Action != "mute" || a.Member.Name != "pat" {
		t.Errorf("action reported %+v", a)
	}
	if !got[0].ByModerator {
		t.Error("a moderator's mute is reported as the member's own")
	}

	if _, err := r.Operate("ops", Command{Name: "unmute", Target: pat.ID}); err != nil {
		t.Fatal(err)
	}
	got = sink.reset()
	expectKinds(t, "an operator's unmute", got, MemberMuted, ModeratorAction)
	if a := got[1]; a.By.ID != 0 || a.ByKey != "ops" || a.Action != "unmute" || a.Member.ID != pat.ID {
		t.Errorf("action reported %+v", a)
	}

	if _, err := r.Operate("ops", Command{Name: "kick", Target: pat.ID}); err != nil {
		t.Fatal(err)
	}
	got = sink.reset()
	expectKinds(t, "an operator's kick", got, ModeratorAction)
	if got[0].Member.Name != "pat" {
		t.Errorf("kick reported %+v", got[0])
	}

	before := pat.Row()
	if _, err := r.Run(pat, Command{Name: "mute", Target: mod.ID}); !errors.Is(err, ErrNotModerator) {
		t.Fatalf("a participant's command: %v", err)
	}
	if _, err := r.Operate("ops", Command{Name: "mute", Target: 99}); !errors.Is(err, ErrNoSuchMember) {
		t.Fatalf("a command for nobody: %v", err)
	}
	if _, err := r.Operate("ops", Command{Name: "vid-banner", Target: pat.ID, Value: fmt.Sprintf("%0300d", 0)}); !errors.Is(err, ErrBadCommand) {
		t.Fatalf("a banner too long: %v", err)
	}
	expectKinds(t, "refused commands", sink.reset())
	if !reflect.DeepEqual(pat.Row(), before) || mod.Muted() {
		t.Error("a refused command changed something")
	}

	r.Audit(Actor{Key: "ops"}, "chat", 0, "")
	got = sink.reset()
	expectKinds(t, "an audit", got, ModeratorAction)
	if got[0].Action != "chat" || got[0].ByKey != "ops" || got[0].Member.ID != 0 {
		t.Errorf("audit reported %+v", got[0])
	}
}

// TestMuteAllAndLowerHandsReportEach: the room-wide commands report each
// member they changed, and only those.
func TestMuteAllAndLowerHandsReportEach(t *testing.T) {
	r, sink := activityRoom(t)
	mod, _ := joinAs(t, r, "mod", RoleModerator)
	a, _ := joinAs(t, r, "a", RoleParticipant)
	b, _ := joinAs(t, r, "b", RoleParticipant)
	_ = r.SelfMute(b, true)
	r.RaiseHand(a, true)
	sink.reset()
	if _, err := r.Operate("ops", Command{Name: "muteall"}); err != nil {
		t.Fatal(err)
	}
	got := sink.reset()
	expectKinds(t, "muteall", got, MemberMuted, ModeratorAction)
	if got[0].Member.ID != a.ID || !got[0].ByModerator {
		t.Errorf("muteall reported %+v", got[0])
	}
	if _, err := r.Run(mod, Command{Name: "lowerhands"}); err != nil {
		t.Fatal(err)
	}
	got = sink.reset()
	expectKinds(t, "lowerhands", got, HandRaised, ModeratorAction)
	if got[0].Member.ID != a.ID || got[0].Raised {
		t.Errorf("lowerhands reported %+v", got[0])
	}
}

// TestAuditLine: an operator's command writes one audit line naming the
// key, the command, the room and the member; a moderator's names the
// moderator instead.
func TestAuditLine(t *testing.T) {
	core, logs := observer.New(zap.InfoLevel)
	rs, err := New([]Config{{Number: "3500"}}, zap.New(core))
	if err != nil {
		t.Fatal(err)
	}
	defer rs.Close()
	r, _ := rs.Lookup("3500")
	mod, _ := joinAs(t, r, "mod", RoleModerator)
	pat, _ := joinAs(t, r, "pat", RoleParticipant)
	if _, err := r.Operate("ops", Command{Name: "mute", Target: pat.ID}); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Run(mod, Command{Name: "unmute", Target: pat.ID}); err != nil {
		t.Fatal(err)
	}
	lines := logs.FilterMessage("moderator action").All()
	if len(lines) != 2 {
		t.Fatalf("%d audit lines, want 2", len(lines))
	}
	want := []map[string]any{
		{"room": "3500", "command": "mute", "key": "ops", "target": int64(pat.ID)},
		{"room": "3500", "command": "unmute", "by": int64(mod.ID), "target": int64(pat.ID)},
	}
	for i, l := range lines {
		got := l.ContextMap()
		for k, v := range want[i] {
			if got[k] != v {
				t.Errorf("audit line %d: %s = %v, want %v (%v)", i, k, got[k], v, got)
			}
		}
	}
}
