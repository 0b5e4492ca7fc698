package main

import (
	"bytes"
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/confd/confd/signalling/vertotest"
)

// sippBinary finds sipp (Debian's sip-tester). Outside CI a machine
// without it skips the test; `make test` installs it, so in CI its
// absence is a failure.
func sippBinary(t *testing.T) string {
	t.Helper()
	bin, err := exec.LookPath("sipp")
	if err == nil {
		return bin
	}
	if os.Getenv("CI") != "" {
		t.Fatal("sipp is missing: `make deps` installs it (package sip-tester)")
	}
	t.Skip("sipp is missing: run `make deps`")
	return ""
}

// freeUDPPort finds a free even loopback port for sipp's media (it uses
// the port and the next ones).
func freeUDPPort(t *testing.T) int {
	t.Helper()
	for range 20 {
		c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		if err != nil {
			t.Fatal(err)
		}
		p := c.LocalAddr().(*net.UDPAddr).Port
		_ = c.Close()
		if p%2 == 0 && p < 65000 {
			return p
		}
	}
	t.Fatal("no free even UDP port")
	return 0
}

// TestSippCall: sipp, a third-party SIP user agent, calls 3500 on the test
// server's SIP port with testdata/sip/uac-pcmu.xml: PCMU, a 440 Hz tone
// played from a pcap, 5 s in the room, then BYE, which must get 200. A
// pion browser member in the room hears the tone while sipp is in.
func TestSippCall(t *testing.T) {
	bin := sippBinary(t)
	a := startSIPApp(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	c, web, err := vertotest.Join(ctx, a.vertoURL(), "web", "guest", vertotest.CallOptions{Dest: "3500", Name: "web"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { web.Close(); _ = c.Close() })

	sip := a.sipAddr(t, "udp")
	cmd := exec.CommandContext(ctx, bin, "-sf", "uac-pcmu.xml", "-s", "3500", sip.String(),
		"-i", "127.0.0.1", "-p", "0", "-mi", "127.0.0.1", "-mp", strconv.Itoa(freeUDPPort(t)),
		"-m", "1", "-l", "1", "-timeout", "60s", "-timeout_error", "-nostdin", "-trace_err",
		"-error_file", filepath.Join(t.TempDir(), "sipp-errors.log"))
	cmd.Dir = filepath.Join("..", "..", "testdata", "sip")
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = 10 * time.Second
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	heard := vertotest.WaitFor(ctx, func() bool {
		pcm, _ := web.Heard()
		return len(pcm) >= 9600 && vertotest.ToneLevel(pcm[len(pcm)-9600:], 440) > presentDB
	})
	if err := cmd.Wait(); err != nil {
		t.Fatalf("sipp: %v\n%s", err, tail(out.Bytes()))
	}
	if heard != nil {
		t.Error("the browser never heard sipp's 440 Hz tone")
	}
}

// tail is the end of sipp's output, where its statistics are.
func tail(b []byte) []byte {
	if len(b) > 4000 {
		return b[len(b)-4000:]
	}
	return b
}
