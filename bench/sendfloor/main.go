//go:build linux

// Command sendfloor measures what the kernel alone costs a sender per UDP
// packet over loopback, one packet at a time (sendto, as pion writes
// today) and in batches (sendmmsg, one call per fan-out round): the floor
// under confd's cost per delivered packet, and what batched writes could
// take off it. The receivers run in a child process, so the figures are
// the sender's CPU alone (getrusage), with the loopback delivery the
// kernel charges to it.
//
//	go run ./bench/sendfloor [-receivers 50] [-size 1000] [-rounds 5000] [-runs 5]
//
// With -rate it measures sendmmsg alone, the rounds paced at that many a
// second for -window, as a server's fan-outs and mixer ticks come: the
// figure then includes the wake-ups the pacing costs, and its last line,
// "floor <µs per packet>", is what the end-to-end benchmark reads.
//
// It binds and sends on 127.0.0.1 only. It starts no goroutines in the
// sender; the child's readers (one per socket) end when it exits.
package main

import (
	"bufio"
	"flag"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

func main() {
	receivers := flag.Int("receivers", 50, "receiving sockets, one packet each per round (the fan-out)")
	size := flag.Int("size", 1000, "packet size in bytes")
	rounds := flag.Int("rounds", 5000, "fan-out rounds per measurement")
	runs := flag.Int("runs", 5, "measurements of each way, interleaved")
	rate := flag.Float64("rate", 0, "rounds a second, sendmmsg only (0: back to back, both ways)")
	window := flag.Duration("window", 8*time.Second, "the measured time with -rate")
	receive := flag.Bool("receive", false, "internal: be the receiving child")
	flag.Parse()
	if *receive {
		if err := receiveAll(*receivers); err != nil {
			fmt.Fprintln(os.Stderr, "sendfloor receiver:", err)
			os.Exit(1)
		}
		return
	}
	if err := run(*receivers, *size, *rounds, *runs, *rate, *window); err != nil {
		fmt.Fprintln(os.Stderr, "sendfloor:", err)
		os.Exit(1)
	}
}

// receiveAll opens n sockets, prints their ports on one line, reads them
// until stdin closes.
func receiveAll(n int) error {
	ports := make([]string, n)
	for i := range n {
		c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		if err != nil {
			return err
		}
		_ = c.SetReadBuffer(4 << 20)
		ports[i] = strconv.Itoa(c.LocalAddr().(*net.UDPAddr).Port)
		go func() {
			buf := make([]byte, 2048)
			for {
				if _, _, err := c.ReadFromUDPAddrPort(buf); err != nil {
					return
				}
			}
		}()
	}
	fmt.Println(strings.Join(ports, " "))
	_, _ = bufio.NewReader(os.Stdin).ReadString('\n') // until the parent closes stdin
	return nil
}

func run(receivers, size, rounds, runs int, rate float64, window time.Duration) error {
	child := exec.Command(os.Args[0], "-receive", "-receivers", strconv.Itoa(receivers))
	stdin, err := child.StdinPipe()
	if err != nil {
		return err
	}
	stdout, err := child.StdoutPipe()
	if err != nil {
		return err
	}
	child.Stderr = os.Stderr
	if err := child.Start(); err != nil {
		return err
	}
	defer func() { _ = stdin.Close(); _ = child.Wait() }()
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		return fmt.Errorf("receiver ports: %w", err)
	}
	var dst []netip.AddrPort
	for _, f := range strings.Fields(line) {
		p, err := strconv.Atoi(f)
		if err != nil {
			return fmt.Errorf("receiver port %q: %w", f, err)
		}
		dst = append(dst, netip.AddrPortFrom(netip.AddrFrom4([4]byte{127, 0, 0, 1}), uint16(p)))
	}
	conn, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		return err
	}
	defer conn.Close()
	pkt := make([]byte, size)
	b, err := newBatch(conn, dst, pkt)
	if err != nil {
		return err
	}
	one := func() error {
		for _, d := range dst {
			if _, err := conn.WriteToUDPAddrPort(pkt, d); err != nil {
				return err
			}
		}
		return nil
	}
	if rate > 0 {
		us, err := paced(rate, window, len(dst), b.send)
		if err != nil {
			return fmt.Errorf("sendmmsg: %w", err)
		}
		fmt.Printf("loopback UDP, %d-byte packets, fan-out to %d sockets, %.1f rounds a second, sendmmsg: %.2f µs sender CPU per packet\n", size, len(dst), rate, us)
		fmt.Printf("floor %.3f\n", us)
		return nil
	}
	var single, batched []float64
	for range runs {
		us, err := perPacket(rounds, len(dst), one)
		if err != nil {
			return fmt.Errorf("sendto: %w", err)
		}
		single = append(single, us)
		if us, err = perPacket(rounds, len(dst), b.send); err != nil {
			return fmt.Errorf("sendmmsg: %w", err)
		}
		batched = append(batched, us)
	}
	s, m := median(single), median(batched)
	fmt.Printf("loopback UDP, %d-byte packets, fan-out to %d sockets, sender CPU per packet (median of %d):\n", size, len(dst), runs)
	fmt.Printf("  sendto, one call per packet   %.2f µs\n", s)
	fmt.Printf("  sendmmsg, one call per round  %.2f µs  (%.2f× sendto)\n", m, m/s)
	return nil
}

// perPacket runs rounds fan-out rounds of send and returns the process's
// CPU per packet in µs. A pause every few rounds keeps the receivers'
// buffers from overflowing.
func perPacket(rounds, fanout int, send func() error) (float64, error) {
	before := cpu()
	for r := range rounds {
		if err := send(); err != nil {
			return 0, err
		}
		if r%10 == 9 {
			time.Sleep(time.Millisecond)
		}
	}
	return float64(cpu()-before) / 1e3 / float64(rounds*fanout), nil
}

// paced runs a round of send every 1/rate seconds for window, after a
// second to settle, and returns the process's CPU per packet in µs.
func paced(rate float64, window time.Duration, fanout int, send func() error) (float64, error) {
	t := time.NewTicker(time.Duration(float64(time.Second) / rate))
	defer t.Stop()
	settle := time.Now().Add(time.Second)
	var before int64
	var start time.Time
	rounds := 0
	for now := range t.C {
		if err := send(); err != nil {
			return 0, err
		}
		switch {
		case now.Before(settle):
		case start.IsZero():
			before, start = cpu(), now
		default:
			rounds++
			if now.Sub(start) >= window {
				return float64(cpu()-before) / 1e3 / float64(rounds*fanout), nil
			}
		}
	}
	return 0, nil
}

func cpu() int64 {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return ru.Utime.Nano() + ru.Stime.Nano()
}

func median(v []float64) float64 {
	slices.Sort(v)
	return v[len(v)/2]
}

// batch is one sendmmsg call's messages, one per destination, built once.
type batch struct {
	raw  syscall.RawConn
	addr []unix.RawSockaddrInet4
	iov  []unix.Iovec
	msgs []mmsghdr
}

// mmsghdr is struct mmsghdr of sendmmsg(2).
type mmsghdr struct {
	hdr unix.Msghdr
	n   uint32
	_   [4]byte
}

func newBatch(conn *net.UDPConn, dst []netip.AddrPort, pkt []byte) (*batch, error) {
	raw, err := conn.SyscallConn()
	if err != nil {
		return nil, err
	}
	b := &batch{raw: raw, addr: make([]unix.RawSockaddrInet4, len(dst)), iov: make([]unix.Iovec, len(dst)), msgs: make([]mmsghdr, len(dst))}
	for i, d := range dst {
		b.addr[i].Family = unix.AF_INET
		p := (*[2]byte)(unsafe.Pointer(&b.addr[i].Port))
		p[0], p[1] = byte(d.Port()>>8), byte(d.Port())
		b.addr[i].Addr = d.Addr().As4()
		b.iov[i].Base = &pkt[0]
		b.iov[i].SetLen(len(pkt))
		b.msgs[i].hdr.Name = (*byte)(unsafe.Pointer(&b.addr[i]))
		b.msgs[i].hdr.Namelen = unix.SizeofSockaddrInet4
		b.msgs[i].hdr.Iov = &b.iov[i]
		b.msgs[i].hdr.Iovlen = 1
	}
	return b, nil
}

// send writes every message, calling again for the rest after a partial
// write.
func (b *batch) send() error {
	var serr error
	off := 0 // kept across the calls raw.Write makes after EAGAIN
	err := b.raw.Write(func(fd uintptr) bool {
		for off < len(b.msgs) {
			n, _, e := unix.Syscall6(unix.SYS_SENDMMSG, fd, uintptr(unsafe.Pointer(&b.msgs[off])), uintptr(len(b.msgs)-off), 0, 0, 0)
			if e == unix.EAGAIN {
				return false
			}
			if e != 0 {
				serr = e
				return true
			}
			off += int(n)
		}
		return true
	})
	if err != nil {
		return err
	}
	return serr
}
