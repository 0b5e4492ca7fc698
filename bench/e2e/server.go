package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"time"
)

// serverKind names the two servers a run measures.
type serverKind int

const (
	kindConfd serverKind = iota // the confd binary, built from ./cmd/confd
	kindStock                   // the stock pion server, built from ./bench/stocksfu
)

func (k serverKind) String() string {
	if k == kindConfd {
		return "confd"
	}
	return "stock"
}

// binaries are the two servers' executables, built once per run.
type binaries struct{ confd, stock, sendfloor string }

// buildServers builds both servers (and the floor's sender) into dir with the go command goCmd,
// from the module root (the working directory).
func buildServers(ctx context.Context, goCmd, dir string) (binaries, error) {
	b := binaries{confd: filepath.Join(dir, "confd"), stock: filepath.Join(dir, "stocksfu"), sendfloor: filepath.Join(dir, "sendfloor")}
	for _, t := range []struct{ out, pkg string }{{b.confd, "./cmd/confd"}, {b.stock, "./bench/stocksfu"}, {b.sendfloor, "./bench/sendfloor"}} {
		cmd := exec.CommandContext(ctx, goCmd, "build", "-o", t.out, t.pkg)
		if out, err := cmd.CombinedOutput(); err != nil {
			return b, fmt.Errorf("go build %s: %w\n%s", t.pkg, err, out)
		}
	}
	return b, nil
}

// confdConfig is confd's configuration for the benchmark: the plain HTTP
// listener on a free loopback port and nothing else (no HTTPS, no SIP),
// media on loopback only, one room that holds every member and lets WHEP
// viewers in without a token, and limits that do not turn the load away.
// Everything else is confd's default.
const confdConfig = `listen:
  http: "127.0.0.1:0"
data_dir: %s
log:
  level: warn
verto:
  ping_interval: 10m
webrtc:
  loopback_only: true
rooms:
  - number: "%s"
    max_members: 1000
    whep: open
whip:
  max_sessions: 2000
  max_sessions_per_address: 2000
debug:
  pprof: %t
`

// benchRoom is the room every scene happens in.
const benchRoom = "3500"

// addrPatterns find each server's HTTP address in what it prints.
var addrPatterns = map[serverKind]*regexp.Regexp{
	kindConfd: regexp.MustCompile(`open http://localhost:(\d+)/`),
	kindStock: regexp.MustCompile(`listening on 127\.0\.0\.1:(\d+)`),
}

// server is one running server subprocess, in a process group of its
// own. Its one goroutine waits for the process and closes exited.
type server struct {
	kind   serverKind
	cmd    *exec.Cmd
	addr   string // its HTTP listener, 127.0.0.1:port
	log    string // the file its output goes to
	exited chan struct{}
}

// startServer starts a server of kind and waits until it listens; pprof
// opens confd's profiler.
func startServer(ctx context.Context, kind serverKind, bins binaries, dir string, pprof bool, env []string) (*server, error) {
	log := filepath.Join(dir, kind.String()+".log")
	out, err := os.Create(log)
	if err != nil {
		return nil, err
	}
	defer out.Close() // the child has its own copy
	var cmd *exec.Cmd
	if kind == kindConfd {
		cfg := filepath.Join(dir, "confd.yaml")
		if err := os.WriteFile(cfg, fmt.Appendf(nil, confdConfig, filepath.Join(dir, "confd-data"), benchRoom, pprof), 0o600); err != nil {
			return nil, err
		}
		cmd = exec.Command(bins.confd, "-config", cfg)
	} else {
		cmd = exec.Command(bins.stock, "-listen", "127.0.0.1:0")
	}
	cmd.Stdout, cmd.Stderr = out, out
	if len(env) > 0 {
		cmd.Env = append(os.Environ(), env...)
	}
	// Its own process group, so that stop reaches anything it starts; and
	// killed by the kernel should the benchmark die without stopping it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	s := &server{kind: kind, cmd: cmd, log: log, exited: make(chan struct{})}
	go func() {
		_ = cmd.Wait()
		close(s.exited)
	}()
	if err := s.waitListening(ctx); err != nil {
		s.stop()
		return nil, err
	}
	return s, nil
}

// waitListening reads the server's output until it names its port.
func (s *server) waitListening(ctx context.Context) error {
	deadline := time.NewTimer(30 * time.Second)
	defer deadline.Stop()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		b, _ := os.ReadFile(s.log)
		if m := addrPatterns[s.kind].FindSubmatch(b); m != nil {
			s.addr = "127.0.0.1:" + string(m[1])
			return nil
		}
		select {
		case <-s.exited:
			return fmt.Errorf("%s exited before listening:\n%s", s.kind, s.tail())
		case <-deadline.C:
			return fmt.Errorf("%s is not listening after 30 s:\n%s", s.kind, s.tail())
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
	}
}

func (s *server) pid() int { return s.cmd.Process.Pid }

func (s *server) target() target {
	if s.kind == kindConfd {
		return confdTarget{s.addr}
	}
	return stockTarget{s.addr}
}

// cpu is the CPU time the server has used so far.
func (s *server) cpu() (time.Duration, error) { return processCPU(s.pid()) }

// profile saves confd's CPU profile over the next d to path.
func (s *server) profile(ctx context.Context, d time.Duration, path string) error {
	u := fmt.Sprintf("http://%s/debug/pprof/profile?seconds=%d", s.addr, int(d.Seconds()))
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", u, resp.Status)
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, resp.Body); err != nil {
		_ = f.Close()
		return err
	}
	return f.Close()
}

// stop ends the server's process group: SIGTERM, and SIGKILL for what is
// left after 10 s. It returns once the server has exited.
func (s *server) stop() {
	_ = syscall.Kill(-s.pid(), syscall.SIGTERM)
	select {
	case <-s.exited:
	case <-time.After(10 * time.Second):
	}
	if err := syscall.Kill(-s.pid(), syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
		fmt.Fprintf(os.Stderr, "kill %s: %v\n", s.kind, err)
	}
	<-s.exited
}

// tail is the end of the server's output, for error messages.
func (s *server) tail() string {
	b, _ := os.ReadFile(s.log)
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-20):], "\n")
}
