package dialin

import (
	"net/netip"
	"testing"

	"github.com/confd/confd/mixer"
)

// FuzzSDP feeds arbitrary bytes through the whole offer/answer path a
// remote peer can reach: parse, negotiate, answer. Nothing may panic, and
// every answer confd writes must parse back with the port it announced.
func FuzzSDP(f *testing.F) {
	f.Add([]byte(phoneOffer)) // more seeds in testdata/fuzz/FuzzSDP
	o := sdpOrigin{id: 1, addr: netip.MustParseAddrPort("127.0.0.1:20000")}
	prefs := []mixer.Codec{mixer.CodecPCMU, mixer.CodecPCMA}
	f.Fuzz(func(t *testing.T, b []byte) {
		a, err := parseSDP(b)
		if err != nil {
			return
		}
		_ = a.held()
		m, err := negotiate(a, prefs)
		if err != nil {
			return
		}
		back, err := parseSDP(o.answer(a, m, m.dir.reverse()))
		if err != nil || back.port != 20000 {
			t.Fatalf("confd's answer does not parse back (%v): %+v", err, back)
		}
	})
}
