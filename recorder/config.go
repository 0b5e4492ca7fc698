package recorder

import (
	"errors"
	"time"

	"go.uber.org/zap"
)

// Config configures a Recorder. Zero fields take the defaults below.
type Config struct {
	// Dir is where recordings go (required): Dir/<room>/<start time>/.
	Dir string
	// MaxDuration stops a recording this long after it started.
	MaxDuration time.Duration
	// MaxBytes stops a recording whose files together reach this size.
	MaxBytes int64
	// MinFreeBytes stops a recording when the disk has less free space
	// than this, before writes start failing.
	MinFreeBytes int64
	// Queue is how many packets and frames may wait for one recording's
	// goroutine; more are dropped and counted.
	Queue int
	// MaxRecordings bounds the recordings at once.
	MaxRecordings int
	Log           *zap.Logger
}

// Defaults.
const (
	// DefaultMaxDuration covers a long meeting; a recording left running
	// by mistake does not fill the disk over a weekend.
	DefaultMaxDuration = 4 * time.Hour
	// DefaultMaxBytes is 4 GiB: a four-hour meeting of a few cameras.
	DefaultMaxBytes = 4 << 30
	// DefaultMinFreeBytes leaves room for the rest of the system.
	DefaultMinFreeBytes = 256 << 20
	// DefaultQueue holds about half a second of a busy room (ten members
	// with cameras send some 3000 packets a second) while the disk is
	// slow; its entries take 1.5 KB each.
	DefaultQueue = 2048
	// DefaultMaxRecordings bounds the memory (a queue each) and the disk
	// bandwidth recordings take.
	DefaultMaxRecordings = 8
)

func (c *Config) defaults() error {
	if c.Dir == "" {
		return errors.New("recorder: a directory is required")
	}
	if c.MaxDuration <= 0 {
		c.MaxDuration = DefaultMaxDuration
	}
	if c.MaxBytes <= 0 {
		c.MaxBytes = DefaultMaxBytes
	}
	if c.MinFreeBytes <= 0 {
		c.MinFreeBytes = DefaultMinFreeBytes
	}
	if c.Queue <= 0 {
		c.Queue = DefaultQueue
	}
	if c.MaxRecordings <= 0 {
		c.MaxRecordings = DefaultMaxRecordings
	}
	if c.Log == nil {
		c.Log = zap.NewNop()
	}
	return nil
}
