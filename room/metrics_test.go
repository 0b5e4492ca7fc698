package room

import "testing"

// TestMetrics: the members by kind, the lobby and the lock as a moderator
// changes them.
func TestMetrics(t *testing.T) {
	rs, err := New([]Config{{Number: "3500", Lobby: true}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(rs.Close)
	r, _ := rs.Lookup("3500")
	mod, _ := joinAs(t, r, "mod", RoleModerator)
	guest, _ := joinAs(t, r, "guest", RoleParticipant)
	if _, err := r.Join(&nobody{}, JoinInfo{Name: "phone", Kind: KindPhone, Key: "sip-1"}); err != nil {
		t.Fatal(err)
	}
	m := r.Metrics()
	if m.Number != "3500" || m.Members != [4]int{2, 1, 0, 0} || m.Waiting != 2 || m.Locked {
		t.Fatalf("after three joins: %+v", m)
	}
	if _, err := r.Run(mod, Command{Name: "admit", Target: guest.ID}); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Run(mod, Command{Name: "lock"}); err != nil {
		t.Fatal(err)
	}
	if m = r.Metrics(); m.Waiting != 1 || !m.Locked {
		t.Fatalf("after admit and lock: %+v", m)
	}
	r.Leave(guest)
	if m = r.Metrics(); m.Members != [4]int{1, 1, 0, 0} {
		t.Fatalf("after a leave: %+v", m)
	}
	if KindBrowser.String() != "browser" || KindPhone.String() != "phone" || KindScreen.String() != "screen" {
		t.Error("kind names")
	}
}
