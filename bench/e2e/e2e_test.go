package main

import (
	"os"
	"slices"
	"testing"
)

// The benchmark itself runs under `make bench`; make test only checks
// that it builds and that its parts that need no server read right.

func TestLoadsForSizes(t *testing.T) {
	ns, err := parseInts("10,50,200")
	if err != nil {
		t.Fatal(err)
	}
	got := loadNames(allLoads(ns))
	want := []string{"fanout10", "fanout50", "fanout200", "mixed10", "mixed50", "mixed200", "idle10", "idle50", "idle200", "whep50"}
	if !slices.Equal(got, want) {
		t.Fatalf("loads %v, want %v", got, want)
	}
	if _, err := pick(allLoads(ns), "fanout50,nosuch"); err == nil {
		t.Fatal("an unknown load was accepted")
	}
	if _, err := parseInts("10,-1"); err == nil {
		t.Fatal("a negative size was accepted")
	}
}

func TestRTPPayload(t *testing.T) {
	// Version 2, padding, one CSRC, an extension of one word; 3 bytes of
	// payload and 2 of padding.
	pkt := []byte{0xb1, 96, 0, 1, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3, 0xbe, 0xde, 0, 1, 1, 2, 3, 4, 7, 8, 9, 0, 2}
	p, ok := rtpPayload(pkt)
	if !ok || !slices.Equal(p, []byte{7, 8, 9}) {
		t.Fatalf("payload %v %v", p, ok)
	}
	if _, ok := rtpPayload(pkt[:14]); ok {
		t.Fatal("a truncated packet was read")
	}
}

// TestProcessSwitches: this process's threads, which have waited for
// the test binary's start, have been switched off a CPU, and the count
// only grows; a process that does not exist is an error.
func TestProcessSwitches(t *testing.T) {
	a, err := processSwitches(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if a == 0 {
		t.Error("no context switch counted")
	}
	if b, err := processSwitches(os.Getpid()); err != nil || b < a {
		t.Errorf("then %d (%v), after %d", b, err, a)
	}
	if _, err := processSwitches(-1); err == nil {
		t.Error("no error for a process that does not exist")
	}
}

func TestAsksForDTX(t *testing.T) {
	const head = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n"
	for desc, want := range map[string]bool{
		"m=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=rtpmap:111 opus/48000/2\r\na=fmtp:111 minptime=10;useinbandfec=1;usedtx=1\r\n": true,
		"m=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=rtpmap:111 opus/48000/2\r\na=fmtp:111 minptime=10;useinbandfec=1\r\n":          false,
		"m=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=rtpmap:111 opus/48000/2\r\na=fmtp:111 usedtx=0\r\n":                            false,
		"m=audio 9 UDP/TLS/RTP/SAVPF 0 111\r\na=rtpmap:0 PCMU/8000\r\na=fmtp:0 usedtx=1\r\na=rtpmap:111 opus/48000/2\r\n":    false,
	} {
		if got := asksForDTX(head + desc); got != want {
			t.Errorf("%q: %v, want %v", desc, got, want)
		}
	}
}
