//go:build linux

package main

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"net"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/confd/confd/dialin/dialintest"
	"github.com/confd/confd/mixer"
)

// TestSippEcho: sipp calls the echo test, 9196, playing 5 s of a 440 Hz
// tone; the RTP it receives carries the tone back. sipp keeps no copy of
// what it receives, so the test reads it off the loopback interface
// (AF_PACKET, which needs root or CAP_NET_RAW; without, it skips): every
// UDP datagram to sipp's media port, decoded as PCMU.
func TestSippEcho(t *testing.T) {
	bin := sippBinary(t)
	port := freeUDPPort(t)
	tap := tapLoopback(t, port)
	a := startSIPApp(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "-sf", "uac-pcmu.xml", "-s", "9196", a.sipAddr(t, "udp").String(),
		"-i", "127.0.0.1", "-p", "0", "-mi", "127.0.0.1", "-mp", strconv.Itoa(port),
		"-m", "1", "-l", "1", "-timeout", "60s", "-timeout_error", "-nostdin", "-trace_err",
		"-error_file", filepath.Join(t.TempDir(), "sipp-errors.log"))
	cmd.Dir = filepath.Join("..", "..", "testdata", "sip")
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = 10 * time.Second
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		t.Fatalf("sipp: %v\n%s", err, tail(out.Bytes()))
	}
	pcm := tap.stop()
	t.Logf("sipp received %.1f s of PCMU", float64(len(pcm))/mixer.NarrowRate)
	if len(pcm) < 3*mixer.NarrowRate {
		t.Fatalf("sipp received %d samples, want seconds of its echo", len(pcm))
	}
	judgeTone(t, "sipp", 440, dialintest.ToneLevelBlocks(pcm[mixer.NarrowRate:], 440), true)
}

// loopbackTap reads the IPv4 UDP datagrams sent to one port on lo.
type loopbackTap struct {
	fd   int
	port uint16
	quit chan struct{}
	wg   sync.WaitGroup
	mu   sync.Mutex
	pcm  []int16
	seen map[uint16]bool // RTP sequence numbers: each datagram once
}

func tapLoopback(t *testing.T, port int) *loopbackTap {
	t.Helper()
	proto := int(htons(syscall.ETH_P_IP))
	fd, err := syscall.Socket(syscall.AF_PACKET, syscall.SOCK_DGRAM, proto)
	if errors.Is(err, syscall.EPERM) || errors.Is(err, syscall.EACCES) {
		t.Skip("reading the loopback interface needs root or CAP_NET_RAW")
	}
	if err != nil {
		t.Fatal(err)
	}
	lo, err := net.InterfaceByName("lo")
	if err != nil {
		t.Fatal(err)
	}
	if err := syscall.Bind(fd, &syscall.SockaddrLinklayer{Protocol: htons(syscall.ETH_P_IP), Ifindex: lo.Index}); err != nil {
		t.Fatal(err)
	}
	tv := syscall.NsecToTimeval(int64(100 * time.Millisecond))
	if err := syscall.SetsockoptTimeval(fd, syscall.SOL_SOCKET, syscall.SO_RCVTIMEO, &tv); err != nil {
		t.Fatal(err)
	}
	tp := &loopbackTap{fd: fd, port: uint16(port), quit: make(chan struct{}), seen: map[uint16]bool{}}
	tp.wg.Add(1)
	go tp.read()
	t.Cleanup(func() { tp.stop() })
	return tp
}

func htons(v uint16) uint16 { return v<<8 | v>>8 }

func (tp *loopbackTap) read() {
	defer tp.wg.Done()
	buf := make([]byte, 65536)
	for {
		select {
		case <-tp.quit:
			return
		default:
		}
		n, _, err := syscall.Recvfrom(tp.fd, buf, 0)
		if err != nil {
			continue // the receive timeout: look at quit again
		}
		tp.datagram(buf[:n])
	}
}

// datagram keeps the PCMU payload of an RTP packet to the port.
func (tp *loopbackTap) datagram(ip []byte) {
	if len(ip) < 20 || ip[0]>>4 != 4 || ip[9] != syscall.IPPROTO_UDP {
		return
	}
	udp := ip[int(ip[0]&0x0f)*4:]
	if len(udp) < 8+12 || binary.BigEndian.Uint16(udp[2:]) != tp.port {
		return
	}
	rtp := udp[8:]
	if rtp[0]>>6 != 2 || rtp[1]&0x7f != 0 {
		return // not RTP, or not PCMU
	}
	seq := binary.BigEndian.Uint16(rtp[2:])
	payload := rtp[12+4*int(rtp[0]&0x0f):]
	pcm := make([]int16, len(payload))
	mixer.DecodeULaw(pcm, payload)
	tp.mu.Lock()
	defer tp.mu.Unlock()
	if !tp.seen[seq] {
		tp.seen[seq] = true
		tp.pcm = append(tp.pcm, pcm...)
	}
}

// stop ends the reader and returns what it decoded.
func (tp *loopbackTap) stop() []int16 {
	select {
	case <-tp.quit:
	default:
		close(tp.quit)
		tp.wg.Wait()
		_ = syscall.Close(tp.fd)
	}
	tp.mu.Lock()
	defer tp.mu.Unlock()
	return tp.pcm
}
