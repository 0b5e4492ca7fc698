package peer

import (
	"slices"
	"testing"

	"github.com/confd/confd/forwarder"
)

// TestLayersEventNamesUnreceivedEncodings: confd.layers names every
// encoding the Receiver wants and every offered one it never received a
// packet of, so a publisher that had not started its large encoding when
// confd paused the middle one keeps it on.
func TestLayersEventNamesUnreceivedEncodings(t *testing.T) {
	offered := []string{"q", "h", "f"}
	got := func(n ...uint64) []forwarder.LayerInfo {
		var ls []forwarder.LayerInfo
		for i, p := range n {
			ls = append(ls, forwarder.LayerInfo{Index: i, RID: offered[i], Packets: p})
		}
		return ls
	}
	for _, tc := range []struct {
		name     string
		active   []string
		received []forwarder.LayerInfo
		want     []string
	}{
		{"all received, h paused", []string{"q", "f"}, got(10, 10, 10), []string{"q", "f"}},
		{"f never received, h paused", []string{"q"}, got(10, 10), []string{"q", "f"}},
		{"f added but no packet yet", []string{"q"}, got(10, 10, 0), []string{"q", "f"}},
		{"h and f paused", []string{"q"}, got(10, 10, 10), []string{"q"}},
		{"everything wanted", []string{"q", "h", "f"}, got(10, 10, 10), []string{"q", "h", "f"}},
	} {
		if out := withUnreceived(tc.active, offered, tc.received); !slices.Equal(out, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, out, tc.want)
		}
	}
	if out := withUnreceived([]string{"q"}, nil, got(10)); !slices.Equal(out, []string{"q"}) {
		t.Errorf("nothing offered: %v", out)
	}
}
