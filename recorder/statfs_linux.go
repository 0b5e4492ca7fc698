package recorder

import "syscall"

// freeBytes is the space left on dir's file system for an unprivileged
// writer; false when it cannot be told.
func freeBytes(dir string) (int64, bool) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return 0, false
	}
	return int64(st.Bavail) * st.Bsize, true
}
