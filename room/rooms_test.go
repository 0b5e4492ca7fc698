package room

import (
	"errors"
	"fmt"
	"sync"
	"testing"
)

func testRooms(t *testing.T) *Rooms {
	t.Helper()
	rs, err := New([]Config{{Number: "3500", Name: "Lobby"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(rs.Close)
	return rs
}

// TestCreateDynamicRoom: a created room is found by number and by name,
// listed after the configured ones, has its defaults, and has the
// registry's observer and sink.
func TestCreateDynamicRoom(t *testing.T) {
	rs := testRooms(t)
	w, sink := &watcher{}, &activities{}
	rs.Observe(w)
	rs.ReportTo(sink)
	r, err := rs.Create(Config{Number: "4000", Name: "Board Meeting", PIN: "1234"})
	if err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{"4000", "board meeting", "BOARD MEETING"} {
		if got, err := rs.Lookup(key); err != nil || got != r {
			t.Errorf("Lookup(%q) = %v, %v", key, got, err)
		}
	}
	if all := rs.All(); len(all) != 2 || all[1] != r || all[0].Dynamic() || !r.Dynamic() {
		t.Fatalf("All() = %v", all)
	}
	if r.Config().MaxMembers != DefaultMaxMembers || r.Config().PIN != "1234" {
		t.Errorf("config %+v", r.Config())
	}
	joinAs(t, r, "ann", RoleParticipant)
	if len(w.events) != 1 || w.events[0] != "add" {
		t.Errorf("the observer saw %v, want the add", w.events)
	}
	if got := sink.kinds(); fmt.Sprint(got) != fmt.Sprint([]ActivityKind{RoomStarted, MemberJoined}) {
		t.Errorf("the sink saw %v", got)
	}
}

// TestCreateRefusesTakenNames: a number or name taken by any room, in any
// case, is refused with ErrRoomExists and nothing is registered; a bad
// config gets ErrBadRoom.
func TestCreateRefusesTakenNames(t *testing.T) {
	rs := testRooms(t)
	if _, err := rs.Create(Config{Number: "4000", Name: "Sales"}); err != nil {
		t.Fatal(err)
	}
	for _, c := range []Config{
		{Number: "3500"},                  // a configured number
		{Number: "4100", Name: "lobby"},   // a configured name
		{Number: "4000", Name: "Other"},   // a dynamic number
		{Number: "4200", Name: "SALES"},   // a dynamic name
		{Number: "sales", Name: "Unused"}, // a number that is another's name
	} {
		if _, err := rs.Create(c); !errors.Is(err, ErrRoomExists) {
			t.Errorf("Create(%+v) = %v, want ErrRoomExists", c, err)
		}
	}
	for _, c := range []Config{{Name: "no number"}, {Number: "4300", Tones: "sometimes"}} {
		if _, err := rs.Create(c); !errors.Is(err, ErrBadRoom) {
			t.Errorf("Create(%+v) = %v, want ErrBadRoom", c, err)
		}
	}
	if n := len(rs.All()); n != 2 {
		t.Errorf("%d rooms after the refusals, want 2", n)
	}
	for _, key := range []string{"4100", "4200", "other", "unused", "4300"} {
		if _, err := rs.Lookup(key); err == nil {
			t.Errorf("a refused room is registered as %q", key)
		}
	}
	// A room may be named by its own number.
	if _, err := rs.Create(Config{Number: "4400", Name: "4400"}); err != nil {
		t.Errorf("a room named by its number: %v", err)
	}
}

// TestRemoveDynamicRoom: removing a dynamic room ends its members' calls
// with ReasonRoomClosed, the room is gone and its number and name are free;
// a configured room and an unknown one cannot be removed.
func TestRemoveDynamicRoom(t *testing.T) {
	rs := testRooms(t)
	r, err := rs.Create(Config{Number: "4000", Name: "Sales"})
	if err != nil {
		t.Fatal(err)
	}
	_, m := joinAs(t, r, "ann", RoleParticipant)
	if err := rs.Remove(r); err != nil {
		t.Fatal(err)
	}
	if len(m.closed) != 1 || m.closed[0] != ReasonRoomClosed {
		t.Errorf("the member's call was closed with %v, want room closed", m.closed)
	}
	if _, err := r.Join(&nobody{}, JoinInfo{Name: "late"}); !errors.Is(err, ErrRoomClosed) {
		t.Errorf("joined a removed room: %v", err)
	}
	if _, err := rs.Lookup("4000"); !errors.Is(err, ErrNoSuchRoom) {
		t.Errorf("Lookup after Remove: %v", err)
	}
	if err := rs.Remove(r); !errors.Is(err, ErrNoSuchRoom) {
		t.Errorf("removing twice: %v, want ErrNoSuchRoom", err)
	}
	lobby, _ := rs.Lookup("3500")
	if err := rs.Remove(lobby); !errors.Is(err, ErrConfiguredRoom) {
		t.Errorf("removing a configured room: %v, want ErrConfiguredRoom", err)
	}
	if _, err := rs.Lookup("3500"); err != nil {
		t.Error("the configured room is gone after a refused Remove")
	}
	again, err := rs.Create(Config{Number: "4000", Name: "sales"})
	if err != nil || again == r {
		t.Fatalf("re-creating a removed room: %v", err)
	}
}

// TestDynamicRoomsConcurrently: creates, removes, lookups and listings from
// many goroutines leave a consistent registry (run with -race).
func TestDynamicRoomsConcurrently(t *testing.T) {
	rs := testRooms(t)
	var wg sync.WaitGroup
	created := make([]int, 8)
	for g := range 8 {
		wg.Go(func() {
			for i := range 10 {
				num := fmt.Sprintf("%d", 5000+i) // every goroutine races for the same numbers
				r, err := rs.Create(Config{Number: num})
				if err != nil {
					if !errors.Is(err, ErrRoomExists) {
						t.Errorf("Create: %v", err)
					}
					continue
				}
				created[g]++
				_, _ = rs.Lookup(num)
				_ = rs.All()
				if i%2 == 0 {
					if err := rs.Remove(r); err != nil {
						t.Errorf("Remove: %v", err)
					}
				}
			}
		})
	}
	wg.Wait()
	total := 0
	for _, n := range created {
		total += n
	}
	if total < 10 {
		t.Errorf("only %d rooms were created", total)
	}
	// Rooms with an odd index stayed, one each; the even ones were removed.
	if n := len(rs.All()); n != 1+5 {
		t.Errorf("%d rooms in the end, want the configured one and 5 dynamic", n)
	}
}
