package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"syscall"
	"testing"
	"time"

	"github.com/confd/confd/signalling/vertotest"
)

// TestSIGTERMSaysByeAndExits builds the real binary, starts it with a config
// file, puts a member in 3500 and sends SIGTERM: the member gets verto.bye
// and confd exits with status 0.
func TestSIGTERMSaysByeAndExits(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	dir := t.TempDir()
	bin := filepath.Join(dir, "confd")
	if out, err := exec.CommandContext(ctx, "go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	cfg := filepath.Join(dir, "confd.yaml")
	writeFile(t, cfg, "listen:\n  http: 127.0.0.1:0\ndata_dir: "+dir+"\nwebrtc:\n  loopback_only: true\n")

	cmd := exec.CommandContext(ctx, bin)
	cmd.Env = append(os.Environ(), "CONFD_CONFIG="+cfg)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill() }()
	url := wsURLFrom(t, stdout)

	c, err := vertotest.Dial(ctx, url, "")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Login(ctx, "guest@localhost", "guest"); err != nil {
		t.Fatal(err)
	}
	call, err := c.Invite(ctx, vertotest.CallOptions{Dest: "3500", Name: "alice", Slots: 1, Publish: true, SSRC: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer call.Close()

	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	bye := waitBye(ctx, t, c, call.ID)
	if bye.Cause != "SYSTEM_SHUTDOWN" {
		t.Errorf("bye cause %q, want SYSTEM_SHUTDOWN", bye.Cause)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("confd did not exit cleanly: %v", err)
	}
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

var urlLine = regexp.MustCompile(`Verto websocket: (ws://\S+)\)`)

// wsURLFrom reads confd's start-up banner for the websocket URL.
func wsURLFrom(t *testing.T, stdout interface{ Read([]byte) (int, error) }) string {
	t.Helper()
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		if m := urlLine.FindStringSubmatch(sc.Text()); m != nil {
			go func() {
				for sc.Scan() {
				}
			}()
			return m[1]
		}
	}
	t.Fatal("confd printed no websocket URL")
	return ""
}

type byeParams struct {
	CallID    string `json:"callID"`
	Cause     string `json:"cause"`
	CauseCode int    `json:"causeCode"`
}

func waitBye(ctx context.Context, t *testing.T, c *vertotest.Client, callID string) byeParams {
	t.Helper()
	for {
		select {
		case r := <-c.Requests():
			var p byeParams
			if r.Method == "verto.bye" && json.Unmarshal(r.Params, &p) == nil && p.CallID == callID {
				return p
			}
		case <-ctx.Done():
			t.Fatal(errors.New("no verto.bye before the deadline"))
		}
	}
}
