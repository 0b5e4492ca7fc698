package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/confd/confd/room"
	"github.com/confd/confd/signalling/vertotest"
)

// confRow is one participant as testdata/browser/conference.mjs reads it
// from the SDK's conferenceUpdate notifications.
type confRow struct {
	ID          int    `json:"id"`
	CallID      string `json:"callId"`
	Name        string `json:"name"`
	Number      string `json:"number"`
	AudioMuted  bool   `json:"audioMuted"`
	Video       bool   `json:"video"`
	VideoFloor  bool   `json:"videoFloor"`
	FloorLocked bool   `json:"floorLocked"`
}

type confChat struct {
	From string `json:"from"`
	Name string `json:"name"`
	Text string `json:"text"`
	Type string `json:"type"`
}

type confClient struct {
	Login        string         `json:"login"`
	Sessid       string         `json:"sessid"`
	CallID       string         `json:"callID"`
	MemberID     int            `json:"memberID"`
	Role         string         `json:"role"`
	Conference   string         `json:"conference"`
	CallStates   []string       `json:"callStates"`
	Cause        string         `json:"cause"`
	HasChat      bool           `json:"hasChat"`
	HasMod       bool           `json:"hasMod"`
	Chats        []confChat     `json:"chats"`
	Actions      map[string]int `json:"actions"`
	ModResponses []struct {
		Command  string `json:"command"`
		Response string `json:"response"`
	} `json:"modResponses"`
}

// confResult is the JSON line conference.mjs prints.
type confResult struct {
	OK      bool                  `json:"ok"`
	Error   string                `json:"error"`
	Step    string                `json:"step"`
	Chat    string                `json:"chat"`
	Clients map[string]confClient `json:"clients"`
	// Lists are the participant lists per client ("A", "B") at each stage:
	// joined, muted, floorA (A only), floor, kicked.
	Lists  map[string]map[string][]confRow `json:"lists"`
	Events []string                        `json:"events"`
}

// The tone Chromium's fake microphone plays (both clients; the moderator
// disables its track, so only the participant's reaches the room), and the
// level above which the listener hears it: lower than the tone's own level
// because a browser under load drops packets, and each gap breaks the
// tone's phase in the measured second. Once muted the tone is gone entirely
// (far below absentDB), so the margin stays wide.
const (
	browserToneHz      = 660
	browserToneHeardDB = -30.0
)

// TestSignalWireConference: two @signalwire/js 1.5.0 clients in headless
// Chromium meet in 3500, a moderator (A) and a participant (B). Both
// participant lists show both; B's chat message reaches both; A mutes B,
// forces the video floor onto B and kicks B with the SDK's moderator
// methods, and each shows in the lists and in the room. A pion member
// listens: it hears B's microphone until A mutes B, and not after.
func TestSignalWireConference(t *testing.T) {
	dir, chromium := browserHarness(t)
	const (
		nameA = "Alice (moderator)"
		nameB = "Bob (participant)"
	)
	a := startTestApp(t, func(c *Config) {
		c.Users = []UserConfig{
			{Login: "1000", Password: "1234", Name: "Alice", Role: "moderator"},
			{Login: "1001", Password: "5678", Name: "Bob", Role: "participant"},
		}
		c.Verto.AllowedOrigins = []string{"*"}
	})
	r, err := a.rooms.Lookup("3500")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Second)
	defer cancel()

	// The listener joins first: it is in both lists, sends silence and
	// decodes the room's mix.
	lc, listener, err := vertotest.Join(ctx, a.vertoURL(), "listener", "guest", vertotest.CallOptions{Dest: "3500", Name: "listener"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { listener.Close(); _ = lc.Close() })

	tmp := t.TempDir()
	wav := filepath.Join(tmp, "tone.wav")
	if err := writeToneWAV(wav, browserToneHz, 2); err != nil {
		t.Fatal(err)
	}
	cmd := exec.CommandContext(ctx, "node", "conference.mjs",
		"--ws", a.vertoURL(),
		"--mod-login", "1000@localhost", "--mod-passwd", "1234", "--mod-name", nameA,
		"--part-login", "1001@localhost", "--part-passwd", "5678", "--part-name", nameB,
		"--dest", "3500", "--timeout-ms", "120000", "--chromium", chromium,
		"--audio-file", wav, "--sync")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "TMPDIR="+tmp)
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = 15 * time.Second
	var stdout bytes.Buffer
	cmd.Stdout = &stdout
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stderrPipe, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}

	// The script stops at each sync point until the test has looked at the
	// room and answers with the step's name on stdin. stderr is drained to
	// its end whatever happens, so the script never blocks writing to it.
	var (
		stderrMu sync.Mutex
		stderr   bytes.Buffer
	)
	syncs := make(chan string)
	stopped := make(chan struct{})
	go func() {
		defer close(syncs)
		sc := bufio.NewScanner(stderrPipe)
		sc.Buffer(make([]byte, 64*1024), 4<<20)
		for sc.Scan() {
			line := sc.Text()
			stderrMu.Lock()
			stderr.WriteString(line + "\n")
			stderrMu.Unlock()
			if rest, ok := strings.CutPrefix(line, "[conference] sync "); ok {
				step, _, _ := strings.Cut(rest, " ")
				select {
				case syncs <- step:
				case <-stopped:
				}
			}
		}
		_, _ = io.Copy(io.Discard, stderrPipe)
	}()
	var synced []string
answer:
	for {
		select {
		case step, ok := <-syncs:
			if !ok {
				break answer
			}
			syncCheck(ctx, t, r, listener, step, nameA, nameB)
			synced = append(synced, step)
			if _, err := io.WriteString(stdin, step+"\n"); err != nil {
				t.Errorf("sync %s: answering the script: %v", step, err)
			}
		case <-ctx.Done():
			// exec sends SIGTERM: the script prints its JSON and exits.
			break answer
		}
	}
	close(stopped)
	runErr := cmd.Wait()
	stderrMu.Lock()
	log := stderr.String()
	stderrMu.Unlock()

	var res confResult
	if err := json.Unmarshal(bytes.TrimSpace(stdout.Bytes()), &res); err != nil {
		t.Fatalf("harness output %q (run: %v): %v\nstderr:\n%s", stdout.String(), runErr, err, log)
	}
	if !res.OK || runErr != nil {
		t.Fatalf("conference scenario failed in step %q: %s (run: %v)\nevents: %s\nstderr:\n%s",
			res.Step, res.Error, runErr, strings.Join(res.Events, "\n  "), log)
	}
	if got, want := strings.Join(synced, ","), "unmuted,muted,floor,kicked"; got != want {
		t.Errorf("sync points %s, want %s", got, want)
	}
	checkConference(t, &res, nameA, nameB)
	if t.Failed() {
		t.Logf("stderr:\n%s", log)
	}
}

// syncCheck looks at the room, and listens to it, while the browsers wait
// at a sync point. It reports with Errorf: the script must be answered
// whatever happens.
func syncCheck(ctx context.Context, t *testing.T, r *room.Room, listener *vertotest.Call, step, nameA, nameB string) {
	t.Helper()
	rowA, okA := roomRow(r, nameA)
	rowB, okB := roomRow(r, nameB)
	switch step {
	case "unmuted":
		if !okA || !okB {
			t.Errorf("sync %s: the room lacks A (%v) or B (%v)", step, okA, okB)
			return
		}
		if rowA.Role != room.RoleModerator || rowB.Role != room.RoleParticipant {
			t.Errorf("sync %s: roles A=%v B=%v, want moderator and participant", step, rowA.Role, rowB.Role)
		}
		if rowB.Muted {
			t.Errorf("sync %s: B is muted already", step)
		}
		level, err := waitTone(ctx, listener, func(db float64) bool { return db > browserToneHeardDB })
		t.Logf("sync %s: the listener hears %d Hz at %.1f dB", step, browserToneHz, level)
		if err != nil {
			t.Errorf("sync %s: the listener never heard B's microphone (%d Hz at %.1f dB, want > %.0f dB): %v",
				step, browserToneHz, level, browserToneHeardDB, err)
		}
	case "muted":
		if !okB || !rowB.Muted || !rowB.ModMuted {
			t.Errorf("sync %s: B's room row %+v (found %v), want muted by a moderator", step, rowB, okB)
		}
		if !okA || rowA.Muted {
			t.Errorf("sync %s: A's room row %+v (found %v), want A unmuted", step, rowA, okA)
		}
		level, err := waitTone(ctx, listener, func(db float64) bool { return db < absentDB })
		t.Logf("sync %s: the listener hears %d Hz at %.1f dB", step, browserToneHz, level)
		if err != nil {
			t.Errorf("sync %s: B's microphone is still mixed (%d Hz at %.1f dB, want < %.0f dB): %v",
				step, browserToneHz, level, absentDB, err)
		}
	case "floor":
		if !okB || !rowB.VideoFloor || !rowB.FloorLocked {
			t.Errorf("sync %s: B's room row %+v (found %v), want the locked video floor", step, rowB, okB)
		}
		if !okA || rowA.VideoFloor || rowA.FloorLocked {
			t.Errorf("sync %s: A's room row %+v (found %v), want no video floor", step, rowA, okA)
		}
	case "kicked":
		if okB {
			t.Errorf("sync %s: B is still in the room: %+v", step, rowB)
		}
		if !okA {
			t.Errorf("sync %s: A left the room too", step)
		}
	default:
		t.Errorf("unknown sync point %q", step)
	}
}

// roomRow finds a member's row by display name.
func roomRow(r *room.Room, name string) (room.Row, bool) {
	var found room.Row
	ok := false
	r.Snapshot(func(rows []room.Row) {
		for _, row := range rows {
			if row.Name == name {
				found, ok = row, true
			}
		}
	})
	return found, ok
}

// waitTone waits until a whole second heard by the listener, all of it
// received after the call, has the browser tone at a level cond accepts.
// It returns the last level measured.
func waitTone(ctx context.Context, listener *vertotest.Call, cond func(db float64) bool) (float64, error) {
	ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	listener.ResetHeard()
	level := math.Inf(-1)
	err := vertotest.WaitFor(ctx, func() bool {
		pcm, _ := listener.Heard()
		if len(pcm) < 48000 {
			return false
		}
		level = vertotest.ToneLevel(pcm, browserToneHz)
		return cond(level)
	})
	return level, err
}

func checkConference(t *testing.T, res *confResult, nameA, nameB string) {
	t.Helper()
	A, B := res.Clients["A"], res.Clients["B"]
	if A.Sessid == "" || A.Sessid == B.Sessid {
		t.Errorf("sessids %q and %q, want two distinct", A.Sessid, B.Sessid)
	}
	if A.Role != "moderator" || B.Role != "participant" {
		t.Errorf("roles from pvtData: A %q, B %q, want moderator and participant", A.Role, B.Role)
	}
	if A.Conference != "3500" || B.Conference != "3500" {
		t.Errorf("conference names %q, %q, want 3500", A.Conference, B.Conference)
	}
	if !A.HasMod || B.HasMod {
		t.Errorf("moderator methods on the call: A %v, B %v, want only A", A.HasMod, B.HasMod)
	}
	if !A.HasChat || !B.HasChat {
		t.Errorf("chat: A %v, B %v, want both subscribed", A.HasChat, B.HasChat)
	}
	for _, k := range []string{"A", "B"} {
		if n := res.Clients[k].Actions["bootstrap"]; n != 1 {
			t.Errorf("%s got %d bootstraps, want 1 (a second one means the SDK rejected a live-array event)", k, n)
		}
	}

	// Both lists, once B joined: A, B and the listener, with their names,
	// member ids and numbers.
	for _, k := range []string{"A", "B"} {
		rows := res.Lists[k]["joined"]
		a, okA := findRow(rows, A.CallID)
		b, okB := findRow(rows, B.CallID)
		if !okA || !okB || len(rows) != 3 {
			t.Errorf("%s's list after joining: %+v, want A, B and the listener", k, rows)
			continue
		}
		// Whether a row shows video yet depends on the camera's first
		// packet having arrived: a loaded machine may be later than the
		// snapshot, so video is not part of this check.
		if a.Name != nameA || a.ID != A.MemberID || a.Number != "1000" {
			t.Errorf("%s's row for A: %+v, want %q, member %d, number 1000", k, a, nameA, A.MemberID)
		}
		if b.Name != nameB || b.ID != B.MemberID || b.Number != "1001" {
			t.Errorf("%s's row for B: %+v, want %q, member %d, number 1001", k, b, nameB, B.MemberID)
		}
		if a.AudioMuted || b.AudioMuted {
			t.Errorf("%s's list after joining shows a mute: %+v", k, rows)
		}
	}

	// B's chat message reached both, sent as B.
	for _, k := range []string{"A", "B"} {
		got := false
		for _, m := range res.Clients[k].Chats {
			if m.Text == res.Chat {
				got = true
				if m.Name != nameB || m.From != "1001@localhost" || m.Type != "message" {
					t.Errorf("%s got the chat message as %+v, want from %q (1001@localhost), type message", k, m, nameB)
				}
			}
		}
		if !got {
			t.Errorf("%s never got the chat message %q: %+v", k, res.Chat, res.Clients[k].Chats)
		}
	}

	// The moderator's mute shows on B's row in both lists, A stays unmuted.
	for _, k := range []string{"A", "B"} {
		rows := res.Lists[k]["muted"]
		a, _ := findRow(rows, A.CallID)
		b, ok := findRow(rows, B.CallID)
		if !ok || !b.AudioMuted || a.AudioMuted {
			t.Errorf("%s's list after the mute: %+v, want B muted and A not", k, rows)
		}
	}
	wantResponses := []string{
		fmt.Sprintf("3500 tmute %d|+OK mute %d\n", B.MemberID, B.MemberID),
		fmt.Sprintf("3500 vid-floor %d|+OK floor %d\n", A.MemberID, A.MemberID),
		fmt.Sprintf("3500 vid-floor %d|+OK floor %d\n", B.MemberID, B.MemberID),
		fmt.Sprintf("3500 kick %d|+OK kicked %d\n", B.MemberID, B.MemberID),
	}
	var gotResponses []string
	for _, m := range A.ModResponses {
		gotResponses = append(gotResponses, m.Command+"|"+m.Response)
	}
	if strings.Join(gotResponses, "") != strings.Join(wantResponses, "") {
		t.Errorf("A's moderator responses %q, want %q", gotResponses, wantResponses)
	}

	// The video floor: locked onto A, then forced onto B.
	if a, ok := findRow(res.Lists["A"]["floorA"], A.CallID); !ok || !a.VideoFloor || !a.FloorLocked {
		t.Errorf("A's list after locking the floor onto A: %+v", res.Lists["A"]["floorA"])
	}
	floor := res.Lists["A"]["floor"]
	a, _ := findRow(floor, A.CallID)
	if b, ok := findRow(floor, B.CallID); !ok || !b.VideoFloor || !b.FloorLocked || a.VideoFloor || a.FloorLocked {
		t.Errorf("A's list after forcing the floor onto B: %+v, want B on the locked floor and A off it", floor)
	}

	// The kick ends B's call with MANAGER_REQUEST and takes B off A's list.
	if states := strings.Join(B.CallStates, ","); !strings.Contains(states, "active,hangup,destroy") || B.Cause != "MANAGER_REQUEST" {
		t.Errorf("B's call states %s, cause %q, want active → hangup → destroy, MANAGER_REQUEST", states, B.Cause)
	}
	kicked := res.Lists["A"]["kicked"]
	if _, ok := findRow(kicked, B.CallID); ok {
		t.Errorf("A's list after the kick still has B: %+v", kicked)
	}
	if _, ok := findRow(kicked, A.CallID); !ok || len(kicked) != 2 {
		t.Errorf("A's list after the kick: %+v, want A and the listener", kicked)
	}
}

func findRow(rows []confRow, callID string) (confRow, bool) {
	for _, r := range rows {
		if r.CallID == callID {
			return r, true
		}
	}
	return confRow{}, false
}

// writeToneWAV writes seconds of a sine at hz (-12 dBFS), 48 kHz mono
// 16-bit, for Chromium's --use-file-for-fake-audio-capture. Whole seconds
// of a whole-hertz tone loop without a click.
func writeToneWAV(path string, hz float64, seconds int) error {
	const rate = 48000
	n := rate * seconds
	var b bytes.Buffer
	b.WriteString("RIFF")
	_ = binary.Write(&b, binary.LittleEndian, uint32(36+2*n))
	b.WriteString("WAVEfmt ")
	_ = binary.Write(&b, binary.LittleEndian, struct {
		Size                      uint32
		Format, Channels          uint16
		Rate, ByteRate            uint32
		BlockAlign, BitsPerSample uint16
	}{16, 1, 1, rate, 2 * rate, 2, 16})
	b.WriteString("data")
	_ = binary.Write(&b, binary.LittleEndian, uint32(2*n))
	for i := range n {
		_ = binary.Write(&b, binary.LittleEndian, int16(8000*math.Sin(2*math.Pi*hz*float64(i)/rate)))
	}
	return os.WriteFile(path, b.Bytes(), 0o644)
}
