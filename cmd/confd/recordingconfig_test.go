package main

import (
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestRecordingConfig: the recording keys, rooms[].record and echo.number
// load; the echo test is on at 9196 by default and "off" turns it off.
func TestRecordingConfig(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c.yaml")
	writeFile(t, path, `
recording:
  dir: /var/lib/confd/recordings
  max_duration: 2h
  max_bytes: 1073741824
  min_free_bytes: 1048576
  queue: 512
  max_recordings: 2
rooms:
  - {number: "4000", record: true}
echo:
  number: "9999"
`)
	c, err := loadConfig(path)
	if err != nil {
		t.Fatal(err)
	}
	r := c.Recording
	if r.Dir != "/var/lib/confd/recordings" || r.MaxDuration != 2*time.Hour || r.MaxBytes != 1<<30 ||
		r.MinFreeBytes != 1<<20 || r.Queue != 512 || r.MaxRecords != 2 {
		t.Errorf("recording = %+v", r)
	}
	rc := c.roomConfigs()
	if len(rc) != 2 || !rc[0].Record || rc[1].Number != "9999" || !rc[1].Echo {
		t.Errorf("rooms = %+v", rc)
	}
	var d Config
	d.defaults()
	if d.echoNumber() != "9196" || d.Recording.Dir != "" {
		t.Errorf("defaults: echo %q, recording %+v", d.echoNumber(), d.Recording)
	}
	d.Echo.Number = "off"
	if len(d.echoRoom()) != 0 {
		t.Error("echo.number off still makes the echo test")
	}
}

// TestRecordingConfigErrors: recording every meeting needs a directory,
// and a room cannot take the echo test's number.
func TestRecordingConfigErrors(t *testing.T) {
	for name, tc := range map[string]struct{ body, want string }{
		"record without a dir":  {"rooms:\n  - {number: \"4000\", record: true}\n", "recording.dir"},
		"room on the echo test": {"rooms:\n  - {number: \"9196\"}\n", "echo.number"},
		"negative limit":        {"recording:\n  dir: x\n  queue: -1\n", "negative"},
	} {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "c.yaml")
			writeFile(t, path, tc.body)
			if _, err := loadConfig(path); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one naming %s", err, tc.want)
			}
		})
	}
}
