package main

import (
	"fmt"
	"path/filepath"
	"time"

	"github.com/confd/confd/recorder"
	"github.com/confd/confd/room"
)

// RecordingConfig is where and how rooms are recorded; with no dir,
// recording is off (the API answers 501, a moderator's command is
// refused).
type RecordingConfig struct {
	Dir          string        `yaml:"dir"`
	MaxDuration  time.Duration `yaml:"max_duration"`   // default 4h
	MaxBytes     int64         `yaml:"max_bytes"`      // all of one recording's files; default 4 GiB
	MinFreeBytes int64         `yaml:"min_free_bytes"` // stop when the disk has less; default 256 MiB
	Queue        int           `yaml:"queue"`          // packets waiting for the disk per recording; default 2048
	MaxRecords   int           `yaml:"max_recordings"` // at once; default 8
}

// EchoConfig is the echo test: a number anyone may dial to hear (and see)
// themselves.
type EchoConfig struct {
	// Number is what to dial (default 9196, as FreeSWITCH's demo); "off"
	// turns the echo test off.
	Number string `yaml:"number"`
}

// defaultEchoNumber is FreeSWITCH's echo test extension.
const defaultEchoNumber = "9196"

func (c *Config) recordingDefaults() {
	if c.Echo.Number == "" {
		c.Echo.Number = defaultEchoNumber
	}
}

// echoNumber is the echo test's number, "" when it is off.
func (c *Config) echoNumber() string {
	if c.Echo.Number == "off" {
		return ""
	}
	return c.Echo.Number
}

func (c *Config) validateRecording() error {
	for _, r := range c.Rooms {
		if r.Record && c.Recording.Dir == "" {
			return fmt.Errorf("room %q records every meeting but recording.dir is not set", r.Number)
		}
		if n := c.echoNumber(); n != "" && (r.Number == n || r.Name == n) {
			return fmt.Errorf("room %q: %s is the echo test's number (echo.number); choose another, or turn the echo test off", r.Number, n)
		}
	}
	switch {
	case c.Recording.MaxDuration < 0, c.Recording.MaxBytes < 0, c.Recording.MinFreeBytes < 0, c.Recording.Queue < 0, c.Recording.MaxRecords < 0:
		return fmt.Errorf("recording: limits cannot be negative")
	}
	return nil
}

// echoRoom is the echo test's room, when it is on.
func (c *Config) echoRoom() []room.Config {
	n := c.echoNumber()
	if n == "" {
		return nil
	}
	return []room.Config{{Number: n, Name: "Echo test", Echo: true, MaxMembers: room.DefaultMaxMembers}}
}

// newRecorder makes the recorder when a directory is configured and
// makes it every room's.
func (a *app) newRecorder() error {
	rc := a.cfg.Recording
	if rc.Dir == "" {
		return nil
	}
	dir, err := filepath.Abs(rc.Dir)
	if err != nil {
		return err
	}
	a.recorder, err = recorder.New(recorder.Config{
		Dir: dir, MaxDuration: rc.MaxDuration, MaxBytes: rc.MaxBytes, MinFreeBytes: rc.MinFreeBytes,
		Queue: rc.Queue, MaxRecordings: rc.MaxRecords, Log: a.log.Named("recorder"),
	})
	if err != nil {
		return err
	}
	a.rooms.RecordWith(a.recorder)
	return nil
}

// writeRecordingMetrics writes the recordings' counters.
func (a *app) writeRecordingMetrics(e *expo) {
	if a.recorder == nil {
		return
	}
	stats := a.recorder.Stats()
	e.family("confd_recordings", "gauge", "Rooms being recorded.")
	e.sample("confd_recordings", float64(len(stats)))
	e.family("confd_recording_bytes", "gauge", "Bytes a recording's files hold so far.")
	for _, s := range stats {
		e.sample("confd_recording_bytes", float64(s.Bytes), "room", s.Room)
	}
	e.family("confd_recording_dropped_total", "counter", "Packets and frames a recording dropped because its queue to the disk was full.")
	for _, s := range stats {
		e.sample("confd_recording_dropped_total", float64(s.Dropped), "room", s.Room)
	}
}
