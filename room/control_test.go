package room

import (
	"errors"
	"reflect"
	"sync"
	"testing"
)

// watcher records what the observer is told, in order.
type watcher struct {
	mu     sync.Mutex
	events []string
	rows   map[int]Row
	chat   []ChatMessage
}

func (w *watcher) RowChanged(_ *Room, a RowAction, row Row) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.rows == nil {
		w.rows = map[int]Row{}
	}
	switch a {
	case RowDel:
		delete(w.rows, row.ID)
	default:
		w.rows[row.ID] = row
	}
	w.events = append(w.events, []string{"add", "modify", "del"}[a])
}

func (w *watcher) Chat(_ *Room, m ChatMessage) { w.chat = append(w.chat, m) }
func (w *watcher) RoomClosed(*Room)            {}

type nobody struct{ closed []Reason }

func (n *nobody) Notify(Event)   {}
func (n *nobody) Close(r Reason) { n.closed = append(n.closed, r) }

func testRoom(t *testing.T) (*Room, *watcher) {
	t.Helper()
	rs, err := New([]Config{{Number: "3500"}, {Number: "3600"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	w := &watcher{}
	rs.Observe(w)
	r, _ := rs.Lookup("3500")
	t.Cleanup(rs.Close)
	return r, w
}

func joinAs(t *testing.T, r *Room, name string, role Role) (*Participant, *nobody) {
	t.Helper()
	m := &nobody{}
	p, err := r.Join(m, JoinInfo{Name: name, Role: role, Key: name + "-call"})
	if err != nil {
		t.Fatal(err)
	}
	return p, m
}

// TestParticipantCommandsAreRefused: a participant who sends any moderator
// command, even knowing the channel, gets an error and nothing changes.
func TestParticipantCommandsAreRefused(t *testing.T) {
	r, w := testRoom(t)
	p, _ := joinAs(t, r, "pat", RoleParticipant)
	victim, vm := joinAs(t, r, "vic", RoleParticipant)
	before := victim.Row()
	for name := range commands {
		_, err := r.Run(p, Command{Name: name, Target: victim.ID, Value: "3600"})
		if !errors.Is(err, ErrNotModerator) {
			t.Errorf("%s from a participant: %v, want ErrNotModerator", name, err)
		}
	}
	if got := victim.Row(); !reflect.DeepEqual(got, before) {
		t.Errorf("the target changed: %+v -> %+v", before, got)
	}
	if len(vm.closed) != 0 || r.Locked() {
		t.Error("a refused command had an effect")
	}
	if n := len(w.events); n != 2 {
		t.Errorf("the observer saw %d events (%v), want only the two adds", n, w.events)
	}
}

// TestModeratorCommands: each command does what FreeSWITCH's does and
// answers with its response text; the rows follow.
func TestModeratorCommands(t *testing.T) {
	r, w := testRoom(t)
	mod, _ := joinAs(t, r, "mod", RoleModerator)
	p, pm := joinAs(t, r, "pat", RoleParticipant)
	run := func(name, value, want string) {
		t.Helper()
		got, err := r.Run(mod, Command{Name: name, Target: p.ID, Value: value})
		if err != nil || got != want {
			t.Fatalf("%s %q = %q, %v; want %q", name, value, got, err, want)
		}
	}
	id := func(s string) string { return s + " 2\n" }
	run("mute", "", id("+OK mute"))
	if !w.rows[p.ID].Muted || !w.rows[p.ID].ModMuted {
		t.Fatal("the row does not show the moderator's mute")
	}
	if err := r.SelfMute(p, false); !errors.Is(err, ErrMuteLocked) {
		t.Fatalf("self-unmute after a moderator's mute: %v, want ErrMuteLocked", err)
	}
	run("tmute", "", id("+OK unmute"))
	if err := r.SelfMute(p, true); err != nil || !p.Muted() {
		t.Fatal("a member cannot mute itself")
	}
	run("deaf", "", id("+OK deaf"))
	run("undeaf", "", id("+OK undeaf"))
	run("vmute", "", id("+OK vmute"))
	run("tvmute", "", id("+OK unvmute"))
	run("volume_in", "up", "+OK Volume IN 2 = 1\n")
	run("volume_out", "-9", "+OK Volume OUT 2 = -4\n")
	run("vid-floor", "force", id("+OK floor"))
	if !w.rows[p.ID].FloorLocked {
		t.Fatal("the row does not show the locked floor")
	}
	run("vid-floor", "force", "+OK floor none\n")
	run("vid-banner", "Hello%20world", "+OK\n")
	if w.rows[p.ID].Banner != "Hello world" {
		t.Fatalf("banner %q", w.rows[p.ID].Banner)
	}
	run("vid-res-id", "presenter", "+OK reservation_id presenter\n")
	run("vid-res-id", "presenter", "+OK reservation_id cleared\n")
	r.RaiseHand(p, true)
	if _, err := r.Run(mod, Command{Name: "lowerhands"}); err != nil || p.HandRaised() {
		t.Fatal("lowerhands did not lower the hand")
	}
	if _, err := r.Run(mod, Command{Name: "lock"}); err != nil || !r.Locked() {
		t.Fatal("lock did not lock")
	}
	if _, err := r.Join(&nobody{}, JoinInfo{Name: "late"}); !errors.Is(err, ErrRoomLocked) {
		t.Fatalf("a participant joined a locked room: %v", err)
	}
	if _, err := r.Join(&nobody{}, JoinInfo{Name: "boss", Role: RoleModerator}); err != nil {
		t.Fatalf("a moderator could not join a locked room: %v", err)
	}
	if _, err := r.Run(mod, Command{Name: "muteall"}); err != nil || !p.Muted() || mod.Muted() {
		t.Fatal("muteall must mute participants and spare moderators")
	}
	run("kick", "", "+OK kicked 2\n")
	if len(pm.closed) != 1 || pm.closed[0] != ReasonKicked {
		t.Fatalf("kick closed the call with %v", pm.closed)
	}
	if _, err := r.Run(mod, Command{Name: "energy", Target: p.ID}); !errors.Is(err, ErrBadCommand) {
		t.Fatalf("energy: %v, want ErrBadCommand (as FreeSWITCH)", err)
	}
}

// TestRowsAddModifyDel: the observer sees an add on join, modifies when a
// member's state changes, and a del on leave; a snapshot equals its view.
func TestRowsAddModifyDel(t *testing.T) {
	r, w := testRoom(t)
	a, _ := joinAs(t, r, "a", RoleParticipant)
	b, _ := joinAs(t, r, "b", RoleParticipant)
	r.RaiseHand(b, true)
	r.Leave(a)
	if got := w.events; !reflect.DeepEqual(got, []string{"add", "add", "modify", "del"}) {
		t.Fatalf("events %v", got)
	}
	r.Snapshot(func(rows []Row) {
		if len(rows) != 1 || !reflect.DeepEqual(rows[0], w.rows[b.ID]) {
			t.Fatalf("snapshot %+v differs from the observer's %+v", rows, w.rows)
		}
	})
}

func TestChat(t *testing.T) {
	r, w := testRoom(t)
	a, _ := joinAs(t, r, "a", RoleParticipant)
	if err := r.Say(a, ChatMessage{From: "a", Message: "hello"}); err != nil {
		t.Fatal(err)
	}
	big := make([]byte, MaxChatBytes+1)
	for i := range big {
		big[i] = 'x'
	}
	if err := r.Say(a, ChatMessage{Message: string(big)}); !errors.Is(err, ErrChatTooLong) {
		t.Fatalf("oversized chat: %v", err)
	}
	for i := range ChatHistoryLen + 5 {
		_ = r.Say(a, ChatMessage{Message: string(rune('a' + i%26))})
	}
	r.ChatHistory(func(h []ChatMessage) {
		if len(h) != ChatHistoryLen || h[0].Type != "message" {
			t.Fatalf("history of %d, want the last %d", len(h), ChatHistoryLen)
		}
	})
	if len(w.chat) != ChatHistoryLen+6 {
		t.Fatalf("observer saw %d messages", len(w.chat))
	}
}

// TestLobby: in a room with a lobby, a guest waits, seen and heard by no
// one, until a moderator admits it; moderators go straight in.
func TestLobby(t *testing.T) {
	rs, err := New([]Config{{Number: "3500", Lobby: true}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(rs.Close)
	r, _ := rs.Lookup("3500")
	mod, _ := joinAs(t, r, "mod", RoleModerator)
	guest, _ := joinAs(t, r, "guest", RoleParticipant)
	if mod.Row().Waiting || !guest.Row().Waiting {
		t.Fatal("the moderator must go in and the guest wait")
	}
	if _, err := r.Run(guest, Command{Name: "admit", Target: guest.ID}); !errors.Is(err, ErrNotModerator) {
		t.Fatal("a guest admitted itself")
	}
	if _, err := r.Run(mod, Command{Name: "admit", Target: guest.ID}); err != nil || guest.Row().Waiting {
		t.Fatalf("admit: %v", err)
	}
}
