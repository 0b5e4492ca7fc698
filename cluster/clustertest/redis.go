// Package clustertest runs a real redis-server (Debian's) on loopback for
// tests.
package clustertest

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"testing"
	"time"
)

// Redis is one redis-server process.
type Redis struct {
	Addr string
	cmd  *exec.Cmd
	port int
	dir  string
}

// StartRedis starts redis-server on a free loopback port, stopped when the
// test ends. Without the binary the test is skipped, or fails in CI
// (`make deps` installs it).
func StartRedis(t testing.TB) *Redis {
	t.Helper()
	if _, err := exec.LookPath("redis-server"); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("redis-server is missing: `make deps` installs it")
		}
		t.Skip("redis-server is missing: run `make deps`")
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	_ = l.Close()
	r := &Redis{Addr: fmt.Sprintf("127.0.0.1:%d", port), port: port, dir: t.TempDir()}
	r.Start(t)
	t.Cleanup(r.Stop)
	return r
}

// Start (re)starts the server on its port.
func (r *Redis) Start(t testing.TB) {
	t.Helper()
	r.cmd = exec.Command("redis-server", "--bind", "127.0.0.1", "--port", strconv.Itoa(r.port),
		"--save", "", "--appendonly", "no", "--dir", r.dir, "--protected-mode", "no")
	if err := r.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for {
		c, err := net.Dial("tcp", r.Addr)
		if err == nil {
			_, _ = c.Write([]byte("PING\r\n"))
			buf := make([]byte, 16)
			_ = c.SetReadDeadline(time.Now().Add(time.Second))
			n, _ := c.Read(buf)
			_ = c.Close()
			if string(buf[:n]) == "+PONG\r\n" {
				return
			}
		}
		select {
		case <-ctx.Done():
			t.Fatalf("redis-server on %s never answered", r.Addr)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// Stop kills the server and waits for it.
func (r *Redis) Stop() {
	if r.cmd != nil && r.cmd.Process != nil {
		_ = r.cmd.Process.Kill()
		_ = r.cmd.Wait()
		r.cmd = nil
	}
}
