package recorder

import (
	"errors"
	"fmt"

	"github.com/confd/confd/room"
)

var (
	// ErrRecording means the room is being recorded already.
	ErrRecording = fmt.Errorf("%w: it is being recorded already", room.ErrCannotRecord)
	// ErrNotRecording means the room is not being recorded.
	ErrNotRecording = errors.New("recorder: the room is not being recorded")
	// ErrTooMany means Config.MaxRecordings recordings are running.
	ErrTooMany = fmt.Errorf("%w: too many recordings at once", room.ErrCannotRecord)
	// ErrEchoTest means the room is the echo test, which has no meeting to
	// record.
	ErrEchoTest = fmt.Errorf("%w: the echo test is not recorded", room.ErrCannotRecord)
	// ErrClosed means the recorder has been closed.
	ErrClosed = errors.New("recorder: closed")
	// ErrTooLarge means the recording's files reached Config.MaxBytes.
	ErrTooLarge = errors.New("recorder: the recording reached its size limit")
	// ErrDiskFull means the disk had less than Config.MinFreeBytes free.
	ErrDiskFull = errors.New("recorder: the disk is full")
	// ErrTooLong means the recording reached Config.MaxDuration.
	ErrTooLong = errors.New("recorder: the recording reached its duration limit")
)
