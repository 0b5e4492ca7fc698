package recorder

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sync"
	"sync/atomic"
	"time"
)

// Permissions: recordings hold what people said and showed; only confd's
// own user may read them.
const (
	dirMode  = 0o700
	fileMode = 0o600
)

// safeName is what a room number may look like to be used as a directory
// name as it is.
var safeName = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

// roomDir is the directory name of a room: its number when that is a
// plain name, else a digest of it (a configured number may hold anything,
// "../" included).
func roomDir(number string) string {
	if safeName.MatchString(number) {
		return number
	}
	sum := sha256.Sum256([]byte(number))
	return "room-" + hex.EncodeToString(sum[:8])
}

// startDir is a recording's directory name: its start in UTC, to the
// millisecond, without colons (which some file systems refuse).
func startDir(t time.Time) string {
	return t.UTC().Format("2006-01-02T15-04-05.000Z")
}

// makeDir creates root/<room>/<start>/ and returns its path; a name
// already taken (two starts in one millisecond) gets a suffix.
func makeDir(root, number string, start time.Time) (string, error) {
	parent := filepath.Join(root, roomDir(number))
	if err := os.MkdirAll(parent, dirMode); err != nil {
		return "", err
	}
	base := filepath.Join(parent, startDir(start))
	for i := 1; i <= 100; i++ {
		dir := base
		if i > 1 {
			dir = fmt.Sprintf("%s-%d", base, i)
		}
		err := os.Mkdir(dir, dirMode)
		if err == nil {
			return dir, nil
		}
		if !errors.Is(err, fs.ErrExist) {
			return "", err
		}
	}
	return "", fmt.Errorf("recorder: no free directory name under %s", parent)
}

// budget is the bytes a recording may still write, shared by its files.
type budget struct {
	used  atomic.Int64
	limit int64
}

// file is one of a recording's files. It counts what it writes against
// the recording's budget and keeps the first error; once it has one, it
// writes nothing more.
type file struct {
	f      *os.File
	name   string
	budget *budget

	mu     sync.Mutex // WebM's writer writes from its own goroutine
	err    error
	closed bool
}

func createFile(dir, name string, b *budget) (*file, error) {
	f, err := os.OpenFile(filepath.Join(dir, name), os.O_WRONLY|os.O_CREATE|os.O_EXCL, fileMode)
	if err != nil {
		return nil, err
	}
	return &file{f: f, name: name, budget: b}, nil
}

// Write implements io.Writer.
func (f *file) Write(p []byte) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil || f.closed {
		return 0, errors.Join(f.err, os.ErrClosed)
	}
	if f.budget.used.Add(int64(len(p))) > f.budget.limit {
		f.err = ErrTooLarge
		return 0, f.err
	}
	n, err := f.f.Write(p)
	if err != nil {
		f.err = fmt.Errorf("%s: %w", f.name, err)
	}
	return n, f.err
}

// WriteAt and Seek let the containers go back to fill in their headers
// (Ogg's last page, WebM's duration and cues) when the file is closed.
func (f *file) WriteAt(p []byte, off int64) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil || f.closed {
		return 0, errors.Join(f.err, os.ErrClosed)
	}
	n, err := f.f.WriteAt(p, off)
	if err != nil {
		f.err = fmt.Errorf("%s: %w", f.name, err)
	}
	return n, f.err
}

// Seek implements io.Seeker.
func (f *file) Seek(off int64, whence int) (int64, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.f.Seek(off, whence)
}

// Close closes the file, once, and returns its first error.
func (f *file) Close() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return f.err
	}
	f.closed = true
	if err := f.f.Close(); err != nil && f.err == nil {
		f.err = fmt.Errorf("%s: %w", f.name, err)
	}
	return f.err
}

// failed is the file's first error, nil while it is fine.
func (f *file) failed() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.err
}

// lenient hands a file to a writer that must never see an error: ebml-go
// gives up its goroutine on the first one, after which a further write
// would block forever. The file keeps the error, which the recording
// checks after every frame.
type lenient struct{ *file }

func (l lenient) Write(p []byte) (int, error) {
	_, _ = l.file.Write(p)
	return len(p), nil
}

func (l lenient) WriteAt(p []byte, off int64) (int, error) {
	_, _ = l.file.WriteAt(p, off)
	return len(p), nil
}

func (l lenient) Close() error {
	_ = l.file.Close()
	return nil
}
