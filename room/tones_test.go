package room

import (
	"context"
	"reflect"
	"testing"
	"time"

	"github.com/confd/confd/mixer"
)

// TestWantTone: the policy on its own. Nobody else in the mix: no tone;
// "phones" needs a phone among those who hear it.
func TestWantTone(t *testing.T) {
	for _, c := range []struct {
		policy        TonePolicy
		others, phone int
		want          bool
	}{
		{"", 0, 1, false},
		{"", 2, 0, false},
		{"", 1, 1, true},
		{TonesPhones, 3, 2, true},
		{TonesPhones, 3, 0, false},
		{TonesAlways, 0, 0, false},
		{TonesAlways, 1, 0, true},
		{TonesNever, 4, 4, false},
	} {
		if got := wantTone(c.policy, c.others, c.phone); got != c.want {
			t.Errorf("wantTone(%q, others %d, phones %d) = %v, want %v", c.policy, c.others, c.phone, got, c.want)
		}
	}
	for _, p := range []TonePolicy{"", TonesPhones, TonesAlways, TonesNever} {
		if !p.Valid() {
			t.Errorf("%q is not valid", p)
		}
	}
	if TonePolicy("sometimes").Valid() {
		t.Error(`"sometimes" is valid`)
	}
	if _, err := New([]Config{{Number: "3500", Tones: "loud"}}, nil); err == nil {
		t.Error("a room with tones: loud was made")
	}
}

// toneRooms makes rooms whose tones are recorded, one string per tone:
// "<room> join" or "<room> leave".
func toneRooms(t *testing.T, cfgs ...Config) (*Rooms, *[]string) {
	t.Helper()
	rs, err := New(cfgs, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(rs.Close)
	var got []string
	for _, r := range rs.All() {
		r.tones.played = func(name string) { got = append(got, r.Number()+" "+name) }
	}
	return rs, &got
}

func lookup(t *testing.T, rs *Rooms, n string) *Room {
	t.Helper()
	r, err := rs.Lookup(n)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// enter joins a member of kind and puts it in the mix, as an endpoint does
// once its media is agreed (a mixer member that neither sends nor hears).
func enter(t *testing.T, r *Room, name string, kind Kind, role Role) *Participant {
	t.Helper()
	p, err := r.Join(&nobody{}, JoinInfo{Name: name, Kind: kind, Role: role, Key: name})
	if err != nil {
		t.Fatal(err)
	}
	joinAudio(t, r, p)
	return p
}

func joinAudio(t *testing.T, r *Room, p *Participant) {
	t.Helper()
	if _, err := r.JoinAudio(p, mixer.MemberOptions{}); err != nil {
		t.Fatal(err)
	}
}

// expectTones checks the tones played since the last check.
func expectTones(t *testing.T, step string, got *[]string, want ...string) {
	t.Helper()
	if len(*got) != 0 || len(want) != 0 {
		if !reflect.DeepEqual(*got, want) {
			t.Errorf("%s: tones %q, want %q", step, *got, want)
		}
	}
	*got = nil
}

// TestTonesPhonesPolicy: by default a join or leave is marked only while
// a phone hears it, once per member: rebuilding its audio (a re-INVITE, a
// reattach after a drop) or a hold does not beep again.
func TestTonesPhonesPolicy(t *testing.T) {
	rs, got := toneRooms(t, Config{Number: "3500"})
	r := lookup(t, rs, "3500")
	a := enter(t, r, "a", KindBrowser, RoleParticipant)
	expectTones(t, "a browser alone", got)
	b := enter(t, r, "b", KindBrowser, RoleParticipant)
	expectTones(t, "a second browser", got)
	phone := enter(t, r, "phone", KindPhone, RoleParticipant)
	expectTones(t, "a phone joins browsers", got, "3500 join")
	d := enter(t, r, "d", KindBrowser, RoleParticipant)
	expectTones(t, "a browser joins a phone", got, "3500 join")

	joinAudio(t, r, d)
	r.LeaveAudio(d)
	joinAudio(t, r, d)
	r.SetHold(phone, true)
	r.SetHold(phone, false)
	expectTones(t, "audio rebuilt, detach and reattach, hold and unhold", got)

	screen := enter(t, r, "a-screen", KindScreen, RoleParticipant)
	r.Leave(screen)
	expectTones(t, "a screen share comes and goes", got)

	r.Leave(d)
	expectTones(t, "a browser leaves a phone", got, "3500 leave")
	r.Leave(phone)
	expectTones(t, "the only phone leaves", got)
	r.Leave(b)
	r.Leave(a)
	expectTones(t, "the browsers leave", got)

	// A phone alone hears no tone (it is told it is alone); a browser
	// coming then going is marked for it.
	phone = enter(t, r, "phone", KindPhone, RoleParticipant)
	expectTones(t, "a phone alone", got)
	b = enter(t, r, "b", KindBrowser, RoleParticipant)
	r.Leave(b)
	expectTones(t, "a browser visits the phone", got, "3500 join", "3500 leave")
	r.Leave(phone)
	expectTones(t, "the last one leaves", got)

	// A member that never reached the mix is neither welcomed nor missed.
	phone = enter(t, r, "phone", KindPhone, RoleParticipant)
	never, err := r.Join(&nobody{}, JoinInfo{Name: "never", Key: "never"})
	if err != nil {
		t.Fatal(err)
	}
	r.Leave(never)
	expectTones(t, "a member without audio", got)
	r.Leave(phone)
}

// TestTonesAlwaysAndNever: "always" marks browsers among themselves too,
// still not a lone arrival nor a departure into an empty room; "never"
// marks nothing.
func TestTonesAlwaysAndNever(t *testing.T) {
	rs, got := toneRooms(t, Config{Number: "3500", Tones: TonesAlways}, Config{Number: "3600", Tones: TonesNever})
	r := lookup(t, rs, "3500")
	a := enter(t, r, "a", KindBrowser, RoleParticipant)
	b := enter(t, r, "b", KindBrowser, RoleParticipant)
	r.Leave(b)
	r.Leave(a)
	expectTones(t, "always", got, "3500 join", "3500 leave")

	quiet := lookup(t, rs, "3600")
	p1 := enter(t, quiet, "p1", KindPhone, RoleParticipant)
	p2 := enter(t, quiet, "p2", KindPhone, RoleParticipant)
	quiet.Leave(p2)
	quiet.Leave(p1)
	expectTones(t, "never", got)
}

// TestTonesLobby: a member waiting in the lobby is not in the mix: it is
// marked when admitted, whether its audio came before or after, and not at
// all if it leaves unadmitted.
func TestTonesLobby(t *testing.T) {
	rs, got := toneRooms(t, Config{Number: "3500", Lobby: true})
	r := lookup(t, rs, "3500")
	mod := enter(t, r, "mod", KindPhone, RoleModerator)
	waiting := enter(t, r, "waiting", KindBrowser, RoleParticipant)
	expectTones(t, "a member in the lobby", got)
	if _, err := r.Run(mod, Command{Name: "admit", Target: waiting.ID}); err != nil {
		t.Fatal(err)
	}
	expectTones(t, "admitted with its audio", got, "3500 join")

	early, err := r.Join(&nobody{}, JoinInfo{Name: "early", Key: "early"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Run(mod, Command{Name: "admit", Target: early.ID}); err != nil {
		t.Fatal(err)
	}
	expectTones(t, "admitted before its audio", got)
	joinAudio(t, r, early)
	expectTones(t, "its audio after admission", got, "3500 join")

	gone := enter(t, r, "gone", KindPhone, RoleParticipant)
	r.Leave(gone)
	expectTones(t, "a member leaves the lobby unadmitted", got)
	r.Leave(waiting)
	expectTones(t, "an admitted member leaves", got, "3500 leave")
}

// TestTonesMove: a member moved to another room, as its endpoint does it
// (join there, leave here, then its audio there), is missed in the old
// room and welcomed in the new one.
func TestTonesMove(t *testing.T) {
	rs, got := toneRooms(t, Config{Number: "3500"}, Config{Number: "3600"})
	from, to := lookup(t, rs, "3500"), lookup(t, rs, "3600")
	enter(t, from, "stays", KindPhone, RoleParticipant)
	enter(t, to, "there", KindPhone, RoleParticipant)
	mover := enter(t, from, "mover", KindBrowser, RoleParticipant)
	expectTones(t, "before the move", got, "3500 join")

	moved, err := to.Join(&nobody{}, mover.Info)
	if err != nil {
		t.Fatal(err)
	}
	from.Leave(mover)
	joinAudio(t, to, moved)
	expectTones(t, "the move", got, "3500 leave", "3600 join")
}

// pcmuListener hears a member's mix as PCMU and hands each decoded frame
// to the test; it drops frames the test is not reading.
type pcmuListener struct{ frames chan []int16 }

func (l *pcmuListener) WriteFrame(payload []byte) error {
	pcm := make([]int16, len(payload))
	mixer.DecodeULaw(pcm, payload)
	select {
	case l.frames <- pcm:
	default:
	}
	return nil
}

// hearBeeps reads the mix until it has heard first then second (Hz) over
// 100 ms windows.
func hearBeeps(ctx context.Context, t *testing.T, what string, l *pcmuListener, first, second float64) {
	t.Helper()
	const window = 800
	var heard []int16
	want := first
	for {
		select {
		case <-ctx.Done():
			t.Fatalf("%s: never heard %v Hz", what, want)
		case f := <-l.frames:
			heard = append(heard, f...)
		}
		if len(heard) < window {
			continue
		}
		heard = heard[len(heard)-window:]
		if mixer.ToneLevel(heard, mixer.NarrowRate, want) < -30 {
			continue
		}
		if want == second {
			return
		}
		want = second
	}
}

// TestTonesHeard: the room's tones go through its mixer: a member in the
// room hears the rising beeps when another enters the mix and the falling
// ones when it leaves. Close waits for a tone still playing.
func TestTonesHeard(t *testing.T) {
	rs, err := New([]Config{{Number: "3500", Tones: TonesAlways}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(rs.Close)
	r := lookup(t, rs, "3500")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	l := &pcmuListener{frames: make(chan []int16, 16)}
	a, err := r.Join(&nobody{}, JoinInfo{Name: "a", Kind: KindPhone, Key: "a"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.JoinAudio(a, mixer.MemberOptions{Out: mixer.CodecPCMU, Writer: l}); err != nil {
		t.Fatal(err)
	}
	b := enter(t, r, "b", KindBrowser, RoleParticipant)
	hearBeeps(ctx, t, "the join tone", l, toneLow, toneHigh)
	r.Leave(b)
	hearBeeps(ctx, t, "the leave tone", l, toneHigh, toneLow)

	// A leave tone still playing when the room closes: Close returns with
	// its input gone from the mixer.
	b = enter(t, r, "b", KindBrowser, RoleParticipant)
	r.Leave(b)
	r.Leave(a)
	if n := r.Mixer().Members(); n == 0 {
		t.Fatal("no tone in the mix")
	}
	rs.Close()
	if n := r.Mixer().Members(); n != 0 {
		t.Errorf("%d mixer inputs after Close, want none", n)
	}
}
