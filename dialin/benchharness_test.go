package dialin_test

import (
	"context"
	"net/netip"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/confd/confd/dialin"
	"github.com/confd/confd/room"
)

// benchHarness is a quiet server for benchmarks.
type benchHarness struct {
	addr netip.AddrPort
}

func newBenchHarness(b *testing.B, rooms []room.Config) *benchHarness {
	b.Helper()
	rs, err := room.New(rooms, zap.NewNop())
	if err != nil {
		b.Fatal(err)
	}
	s, err := dialin.New(dialin.Config{
		UDP: "127.0.0.1:0", RTPIP: netip.MustParseAddr("127.0.0.1"),
		Trunks: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")},
	}, rs, zap.NewNop())
	if err != nil {
		b.Fatal(err)
	}
	if err := s.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		rs.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		s.Shutdown(ctx)
	})
	a, _ := s.Addr("udp")
	return &benchHarness{addr: a}
}
