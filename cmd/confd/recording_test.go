package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pion/webrtc/v4/pkg/media/oggreader"

	"github.com/confd/confd/dialin/dialintest"
	"github.com/confd/confd/mixer"
	"github.com/confd/confd/room"
	"github.com/confd/confd/signalling/vertotest"
)

// testIVF is the VP8 test pattern: 320x180 at 15 fps, a key frame a second.
var testIVF = filepath.Join("..", "..", "testdata", "media", "testsrc-320x180-15fps.ivf")

// ffprobeBinary finds ffprobe (Debian's ffmpeg), as sippBinary finds sipp.
func ffprobeBinary(t *testing.T) string {
	t.Helper()
	bin, err := exec.LookPath("ffprobe")
	if err == nil {
		return bin
	}
	if os.Getenv("CI") != "" {
		t.Fatal("ffprobe is missing: `make deps` installs it (package ffmpeg)")
	}
	t.Skip("ffprobe is missing: run `make deps`")
	return ""
}

// recordedTimeline is what the test reads of timeline.json.
type recordedTimeline struct {
	Duration float64 `json:"duration"`
	Dropped  uint64  `json:"dropped_packets"`
	Files    []struct {
		File          string  `json:"file"`
		Kind          string  `json:"kind"`
		Member        int     `json:"member"`
		Start         float64 `json:"start"`
		Duration      float64 `json:"duration"`
		Width, Height int
	} `json:"files"`
	Events []struct {
		T       float64 `json:"t"`
		Type    string  `json:"type"`
		Member  int     `json:"member"`
		Name    string  `json:"name"`
		Kind    string  `json:"kind"`
		Talking *bool   `json:"talking"`
	} `json:"events"`
}

// TestRecordingAMeeting: two pion members (440 and 880 Hz, the VP8 test
// pattern) and a sipgo phone (660 Hz) are recorded for 5 s, started and
// stopped through the API. The mix holds all three tones, each member's
// own file only its own; each WebM has 320x180 VP8 frames over the 5 s;
// ffprobe reads every file without an error; the timeline lists the
// three members and their talking. The directory and files are private.
func TestRecordingAMeeting(t *testing.T) {
	ffprobe := ffprobeBinary(t)
	dir := t.TempDir()
	a := startSIPApp(t, func(c *Config) { withAPI(c); c.Recording.Dir = dir })
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	cameras := map[string]*vertotest.Call{}
	for _, m := range []struct {
		name string
		hz   float64
	}{{"ann", 440}, {"bob", 880}} {
		c, call, err := vertotest.Join(ctx, a.vertoURL(), m.name, "guest", vertotest.CallOptions{Dest: "3500", Name: m.name, Slots: 1, Publish: true, IVF: testIVF, ToneHz: m.hz})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { call.Close(); _ = c.Close() })
		cameras[m.name] = call
	}
	phone, err := dialintest.Dial(ctx, a.sipAddr(t, "udp"), dialintest.Options{Dest: "3500", ToneHz: 660})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(phone.Close)
	rm, _ := a.rooms.Lookup("3500")
	waitTalking(ctx, t, rm, 3)

	api := newAPIClient(t, a)
	var view apiRoom
	sentBefore := map[int]time.Duration{}
	for name, call := range cameras {
		sentBefore[memberIDOf(t, a, name)] = call.CameraSent()
	}
	api.expect(http.StatusOK, http.MethodPost, "/rooms/3500/recording", nil, &view)
	if !view.Recording {
		t.Fatal("the room is not marked recorded")
	}
	api.expect(http.StatusConflict, http.MethodPost, "/rooms/3500/recording", nil, nil)
	// 5 s on the mixer's clock: its ticks, run or skipped by a late mixer.
	mixed := func() uint64 { s := rm.Mixer().Stats(); return s.Ticks + s.Skipped }
	start := mixed()
	if err := vertotest.WaitFor(ctx, func() bool { return mixed() >= start+250 }); err != nil {
		t.Fatal("the mixer did not run 5 s")
	}
	api.expect(http.StatusOK, http.MethodDelete, "/rooms/3500/recording", nil, &view)
	if view.Recording {
		t.Fatal("still marked recorded")
	}
	sent := map[int]float64{} // seconds of camera each publisher sent while recorded
	for name, call := range cameras {
		id := memberIDOf(t, a, name)
		sent[id] = (call.CameraSent() - sentBefore[id]).Seconds()
	}

	rec := onlyRecording(t, filepath.Join(dir, "3500"))
	tl := readTimeline(t, rec)
	checkRecordedAudio(t, rec, tl)
	checkRecordedVideo(t, ffprobe, rec, tl, sent)
	for _, f := range tl.Files {
		probe(t, ffprobe, filepath.Join(rec, f.File))
	}
	checkPrivate(t, dir, rec)
}

// waitTalking waits until n members of r talk.
func waitTalking(ctx context.Context, t *testing.T, r *room.Room, n int) {
	t.Helper()
	err := vertotest.WaitFor(ctx, func() bool {
		talking := 0
		for _, m := range r.Members() {
			if p := r.Participant(m.ID); p != nil && p.Talking() {
				talking++
			}
		}
		return talking >= n
	})
	if err != nil {
		t.Fatalf("fewer than %d members talk", n)
	}
}

// onlyRecording is the one recording directory under roomDir.
func onlyRecording(t *testing.T, roomDir string) string {
	t.Helper()
	entries, err := os.ReadDir(roomDir)
	if err != nil || len(entries) != 1 {
		t.Fatalf("recordings in %s: %v %v", roomDir, entries, err)
	}
	return filepath.Join(roomDir, entries[0].Name())
}

func readTimeline(t *testing.T, dir string) recordedTimeline {
	t.Helper()
	body, err := os.ReadFile(filepath.Join(dir, "timeline.json"))
	if err != nil {
		t.Fatal(err)
	}
	var tl recordedTimeline
	if err := json.Unmarshal(body, &tl); err != nil {
		t.Fatal(err)
	}
	joins, talkers := map[string]int{}, map[int]bool{}
	for _, e := range tl.Events {
		switch {
		case e.Type == "join":
			joins[e.Kind]++
		case e.Type == "talking" && e.Talking != nil && *e.Talking:
			talkers[e.Member] = true
		}
	}
	if joins["browser"] != 2 || joins["phone"] != 1 || len(talkers) != 3 {
		t.Errorf("timeline: joins %v, talkers %v:\n%s", joins, talkers, body)
	}
	if tl.Duration < 4.9 {
		t.Errorf("timeline: duration %.2f s for 5 s recorded", tl.Duration)
	}
	t.Logf("timeline: %.2f s, %d events, %d files, %d packets dropped", tl.Duration, len(tl.Events), len(tl.Files), tl.Dropped)
	return tl
}

// checkRecordedAudio: the mix has every tone; each member's file its own.
func checkRecordedAudio(t *testing.T, dir string, tl recordedTimeline) {
	t.Helper()
	tones := map[string]float64{"ann": 440, "bob": 880}
	names := map[int]string{}
	for _, e := range tl.Events {
		if e.Type == "join" {
			names[e.Member] = e.Name
		}
	}
	all := []float64{440, 660, 880}
	members := 0
	for _, f := range tl.Files {
		switch f.Kind {
		case "mix":
			pcm := decodeOgg(t, filepath.Join(dir, f.File))
			for _, hz := range all {
				judgeTone(t, "the mix", hz, vertotest.ToneLevelBlocks(pcm, hz), true)
			}
		case "audio":
			members++
			own, ok := tones[names[f.Member]]
			if !ok {
				own = 660 // the phone, whose name the endpoint chose
			}
			pcm := decodeOgg(t, filepath.Join(dir, f.File))
			for _, hz := range all {
				judgeTone(t, f.File, hz, vertotest.ToneLevelBlocks(pcm, hz), hz == own)
			}
		}
	}
	if members != 3 {
		t.Errorf("%d members' audio files, want 3", members)
	}
}

// decodeOgg decodes an Ogg/Opus file into 48 kHz PCM, its second second
// on (the first may hold the jitter buffers' start).
func decodeOgg(t *testing.T, path string) []int16 {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r, hdr, err := oggreader.NewWith(f)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	if hdr.Channels != 1 || hdr.SampleRate != mixer.SampleRate {
		t.Errorf("%s: %d channels at %d Hz", path, hdr.Channels, hdr.SampleRate)
	}
	dec, err := mixer.NewDecoder(mixer.CodecOpus)
	if err != nil {
		t.Fatal(err)
	}
	var pcm []int16
	frame := make([]int16, mixer.FrameSamples)
	for {
		payload, _, err := r.ParseNextPage()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		if len(payload) == 0 || bytes.HasPrefix(payload, []byte("OpusTags")) {
			continue
		}
		n, err := dec.Decode(payload, frame)
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		pcm = append(pcm, frame[:n]...)
	}
	if len(pcm) < 4*mixer.SampleRate {
		t.Fatalf("%s holds %.1f s", path, float64(len(pcm))/mixer.SampleRate)
	}
	return pcm[mixer.SampleRate:]
}

// checkRecordedVideo: each camera's WebM has 320x180 VP8 frames from
// about the start of the recording to its end: as much video as the
// member's camera sent while it was recorded (sent, by member; on a busy
// machine a camera sends less than the wall clock's worth), from the first
// key frame on.
func checkRecordedVideo(t *testing.T, ffprobe, dir string, tl recordedTimeline, sent map[int]float64) {
	t.Helper()
	cameras := 0
	for _, f := range tl.Files {
		if f.Kind != "camera" {
			continue
		}
		cameras++
		out, err := exec.Command(ffprobe, "-v", "error", "-select_streams", "v:0", "-show_entries", "stream=codec_name:frame=width,height,pts_time",
			"-of", "compact=p=0", filepath.Join(dir, f.File)).Output()
		if err != nil {
			t.Fatalf("%s: ffprobe: %v", f.File, err)
		}
		var first, last float64
		frames := 0
		for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
			kv := map[string]string{}
			for _, p := range strings.Split(l, "|") {
				k, v, _ := strings.Cut(p, "=")
				kv[k] = v
			}
			if c, ok := kv["codec_name"]; ok {
				if c != "vp8" {
					t.Errorf("%s: codec %q", f.File, c)
				}
				continue
			}
			if kv["width"] != "320" || kv["height"] != "180" {
				t.Fatalf("%s: a frame %q", f.File, l)
			}
			ts, _ := strconv.ParseFloat(kv["pts_time"], 64)
			if frames == 0 {
				first = ts
			}
			last = ts
			frames++
		}
		// The camera's frames cover the recording from about its start (a
		// key frame was asked for) to its end. The request may wait out the
		// forwarder's PLI throttle (ReceiverConfig.KeyframeInterval, 500 ms)
		// when a slot's own request for the camera has just gone out.
		const maxStart = 0.5 + 0.5
		span := last - first + 1.0/15
		want := min(tl.Duration, sent[f.Member]) - f.Start
		t.Logf("%s: %d frames over %.2f s, starting %.2f s into the %.2f s recording; its camera sent %.2f s meanwhile", f.File, frames, span, f.Start, tl.Duration, sent[f.Member])
		if span < want-0.5 || span > want+0.5 || f.Start > maxStart {
			t.Errorf("%s: %d frames over %.2f s from %.2f s, want %.2f s ± 0.5 from within %.1f s of the start", f.File, frames, span, f.Start, want, maxStart)
		}
	}
	if cameras != 2 {
		t.Errorf("%d camera files, want 2", cameras)
	}
}

// probe runs ffprobe over a file: it must read it without a word.
func probe(t *testing.T, ffprobe, path string) {
	t.Helper()
	var stderr bytes.Buffer
	cmd := exec.Command(ffprobe, "-v", "error", "-show_format", "-show_streams", path)
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil || stderr.Len() > 0 {
		t.Errorf("ffprobe %s: %v %s", filepath.Base(path), err, stderr.String())
	}
}

// checkPrivate: only confd's user may read the recordings, and no file
// name holds a member's name.
func checkPrivate(t *testing.T, root, rec string) {
	t.Helper()
	for _, d := range []string{filepath.Join(root, "3500"), rec} {
		if st, err := os.Stat(d); err != nil || st.Mode().Perm() != 0o700 {
			t.Errorf("%s: %v %v", d, st.Mode(), err)
		}
	}
	entries, _ := os.ReadDir(rec)
	for _, e := range entries {
		st, _ := e.Info()
		if st.Mode().Perm() != 0o600 || slices.ContainsFunc([]string{"ann", "bob"}, func(n string) bool { return strings.Contains(e.Name(), n) }) {
			t.Errorf("%s: %v", e.Name(), st.Mode())
		}
	}
}

// TestModeratorRecordsOverVerto: a moderator's "recording start" and
// "recording stop all" (FreeSWITCH's conf-control) record the room; the
// file name FreeSWITCH would take is ignored; every row of the live array
// shows the room recorded while it is.
func TestModeratorRecordsOverVerto(t *testing.T) {
	dir := t.TempDir()
	a := startTestApp(t, func(c *Config) {
		c.Recording.Dir = dir
		c.Users = []UserConfig{{Login: "1000", Password: "1234", Name: "Mod", Role: "moderator"}}
	})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	c, call, err := vertotest.Join(ctx, a.vertoURL(), "1000", "1234", vertotest.CallOptions{Dest: "3500", Name: "mod", ToneHz: 440})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { call.Close(); _ = c.Close() })
	at := "3500@localhost"
	if r, err := c.Request(ctx, "verto.subscribe", map[string]any{"eventChannel": []string{"conference-mod." + at, "conference-liveArray." + at}}); err != nil || r.Error != nil {
		t.Fatalf("subscribe: %v %v", err, r.Error)
	}
	rm, _ := a.rooms.Lookup("3500")
	command := func(value []string) string {
		t.Helper()
		if _, err := c.Request(ctx, "verto.broadcast", map[string]any{"eventChannel": "conference-mod." + at,
			"data": map[string]any{"application": "conf-control", "command": "recording", "value": value}}); err != nil {
			t.Fatal(err)
		}
		return waitEvent(ctx, t, c, `"action":"response"`)
	}
	if resp := command([]string{"start", "/etc/passwd"}); !strings.Contains(resp, "+OK") || !rm.Recording() {
		t.Fatalf("start: %s", resp)
	}
	waitEvent(ctx, t, c, `\"recording\":true`)
	if resp := command([]string{"stop", "all"}); !strings.Contains(resp, "+OK") || rm.Recording() {
		t.Fatalf("stop: %s", resp)
	}
	rec := onlyRecording(t, filepath.Join(dir, "3500"))
	if _, err := os.Stat(filepath.Join(rec, "mix.ogg")); err != nil {
		t.Fatal(err)
	}
	if st, err := os.Stat("/etc/passwd"); err == nil && time.Since(st.ModTime()) < time.Minute {
		t.Fatal("the moderator's file name was written to")
	}
}

// waitEvent waits for a verto.event whose params hold want.
func waitEvent(ctx context.Context, t *testing.T, c *vertotest.Client, want string) string {
	t.Helper()
	for {
		select {
		case ev := <-c.Events():
			if strings.Contains(string(ev), want) {
				return string(ev)
			}
		case <-ctx.Done():
			t.Fatalf("no event with %s", want)
		}
	}
}

// TestRecordEveryMeeting: a room with record: true is recorded from its
// first member's join to its last member's leave, one directory a meeting.
func TestRecordEveryMeeting(t *testing.T) {
	dir := t.TempDir()
	a := startTestApp(t, func(c *Config) {
		c.Recording.Dir = dir
		c.Rooms = []RoomConfig{{Number: "3500", Record: true}}
	})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	rm, _ := a.rooms.Lookup("3500")
	for range 2 {
		c, call, err := vertotest.Join(ctx, a.vertoURL(), "guest", "guest", vertotest.CallOptions{Dest: "3500", Name: "ann", ToneHz: 440})
		if err != nil {
			t.Fatal(err)
		}
		if err := vertotest.WaitFor(ctx, rm.Recording); err != nil {
			t.Fatal("the meeting is not recorded")
		}
		if err := call.Hangup(ctx); err != nil {
			t.Fatal(err)
		}
		_ = c.Close()
		if err := vertotest.WaitFor(ctx, func() bool { return !rm.Recording() }); err != nil {
			t.Fatal("the recording went on after the meeting")
		}
	}
	entries, err := os.ReadDir(filepath.Join(dir, "3500"))
	if err != nil || len(entries) != 2 {
		t.Fatalf("recordings %v %v, want one per meeting", entries, err)
	}
	tl := filepath.Join(dir, "3500", entries[0].Name(), "timeline.json")
	body, err := os.ReadFile(tl)
	if err != nil || !strings.Contains(string(body), `"type": "join"`) || !strings.Contains(string(body), `"type": "leave"`) {
		t.Fatalf("timeline %s %v", body, err)
	}
}
