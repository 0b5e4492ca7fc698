package main

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strconv"
	"strings"
	"time"
)

// The floor is what delivering a load's packets over loopback costs a
// sender on this machine that does nothing else: no ICE, DTLS, SRTP or
// RTP. ./bench/sendfloor, paced (-rate), sends datagrams of the size
// confd's counted peers received, one to each of as many sockets per
// round with a single sendmmsg, as many rounds a second as each peer
// received packets, to readers in a process of its own. Its CPU per
// delivered packet (per receiver-second for the audio rooms) is the least
// any server could spend on the load here, wake-ups for the pacing
// included; what is left of confd's cost above it is confd's own.

// srtpTag is the authentication tag SRTP adds to each packet (AES-GCM's),
// which the counted peers' byte counts, taken after decryption, lack.
const srtpTag = 16

// floorResult is the floor of one load.
type floorResult struct {
	cost float64 // in the load's unit
	size int     // datagram bytes
	rate float64 // datagrams a second to each receiver
}

// measureFloor measures the floor for the packets confd's counted peers
// received in r, with the sendfloor binary bin.
func measureFloor(ctx context.Context, o options, bin string, r result) (floorResult, error) {
	m := r.main
	if m.peers == 0 || m.recv.packets == 0 || m.wall <= 0 {
		return floorResult{}, errors.New("nothing was delivered to measure a floor for")
	}
	f := floorResult{
		size: int(m.recv.bytes/m.recv.packets) + srtpTag,
		rate: float64(m.recv.packets) / m.wall.Seconds() / float64(m.peers),
	}
	out, err := exec.CommandContext(ctx, bin, "-receivers", strconv.Itoa(m.peers), "-size", strconv.Itoa(f.size),
		"-rate", strconv.FormatFloat(f.rate, 'f', 3, 64), "-window", o.window.String()).Output()
	if err != nil {
		return f, fmt.Errorf("sendfloor: %w", err)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	us, err := strconv.ParseFloat(strings.TrimPrefix(lines[len(lines)-1], "floor "), 64)
	if err != nil {
		return f, fmt.Errorf("sendfloor said %q", out)
	}
	switch r.load.metric {
	case perPacket:
		f.cost = us
	default: // each receiver's packets, a second
		f.cost = us * f.rate / float64(time.Millisecond/time.Microsecond)
	}
	return f, nil
}
