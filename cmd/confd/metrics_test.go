package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/confd/confd/signalling/vertotest"
)

// TestMetricsShowEachSlotsLayer: with a simulcast publisher, a viewer
// drawing its slot small and one drawing it large, /metrics shows for
// each viewer's slot the layer it forwards (q, f), the layer it is heading
// to and the viewer's downlink estimate; for the publisher, its three
// camera layers; and the room's members.
func TestMetricsShowEachSlotsLayer(t *testing.T) {
	if testing.Short() {
		t.Skip("real pion peers; skipped with -short")
	}
	a := startTestApp(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()

	pub := joinSimulcastPublisher(ctx, t, a)
	small := viewer(ctx, t, a, "small", nil)
	large := viewer(ctx, t, a, "large", nil)
	if err := small.call.SetSlotSize(ctx, 0, 320, 180); err != nil {
		t.Fatal(err)
	}
	if err := large.call.SetSlotSize(ctx, 0, 1280, 720); err != nil {
		t.Fatal(err)
	}
	waitLayer(ctx, t, small, slotStream(ctx, t, small), 0, "small slot")
	waitLayer(ctx, t, large, slotStream(ctx, t, large), 2, "large slot")

	slot := func(m *member, rid string) string {
		return fmt.Sprintf(`{room="3500",member="%d",call="%s",slot="0",rid="%s"}`, memberIDOf(t, a, m.name), m.call.ID, rid)
	}
	target := func(m *member) string {
		return fmt.Sprintf(`{room="3500",member="%d",call="%s",slot="0"}`, memberIDOf(t, a, m.name), m.call.ID)
	}
	call := func(m *member) string {
		return fmt.Sprintf(`{room="3500",member="%d",call="%s"}`, memberIDOf(t, a, m.name), m.call.ID)
	}
	pubID := memberIDOf(t, a, "pub")
	want := map[string]float64{
		`confd_room_members{room="3500",kind="browser"}`: 3,
		`confd_room_publishers{room="3500"}`:             1,
		`confd_verto_sessions`:                           3,
		"confd_slot_layer" + slot(small, "q"):            0,
		"confd_slot_target_layer" + target(small):        0,
		"confd_slot_render_width" + target(small):        320,
		"confd_slot_layer" + slot(large, "f"):            2,
		"confd_slot_target_layer" + target(large):        2,
		"confd_slot_render_height" + target(large):       720,
	}
	var got map[string]float64
	err := vertotest.WaitFor(ctx, func() bool {
		var err error
		if got, err = scrapeMetrics(a); err != nil {
			t.Fatal(err)
		}
		for k, v := range want {
			if g, ok := got[k]; !ok || g != v {
				return false
			}
		}
		return got["confd_downlink_estimate_bps"+call(large)] > 0 && got["confd_downlink_feedback_total"+call(large)] > 0
	})
	if err != nil {
		for k, v := range want {
			if g, ok := got[k]; !ok || g != v {
				t.Errorf("%s = %v (present %v), want %v", k, g, ok, v)
			}
		}
		t.Fatalf("metrics never showed the slots: %v", err)
	}
	t.Logf("large viewer's estimate %.0f bit/s from %.0f feedback messages", got["confd_downlink_estimate_bps"+call(large)],
		got["confd_downlink_feedback_total"+call(large)])
	if r, u := got["confd_downlink_feedback_refused_total"+call(large)], got["confd_downlink_feedback_unknown_total"+call(large)]; r != 0 || u != 0 {
		t.Errorf("the large viewer's feedback: %v refused, %v on unknown packets", r, u)
	}
	for i, rid := range []string{"q", "h", "f"} {
		k := fmt.Sprintf(`confd_camera_layer_packets_total{room="3500",member="%d",call="%s",layer="%d",rid="%s"}`, pubID, pub.ID, i, rid)
		if got[k] <= 0 {
			t.Errorf("%s = %v, want packets", k, got[k])
		}
	}
	if n := got["confd_slot_packets_total"+target(large)]; n <= 0 {
		t.Errorf("the large slot forwarded %v packets", n)
	}
	// The room's mixer ticks and the camera's fan-out to two viewers go
	// out in bursts.
	if b, d := got["confd_media_bursts_total"], got["confd_media_burst_datagrams_total"]; b <= 0 || d < b {
		t.Errorf("media bursts %v with %v datagrams, want bursts", b, d)
	}
	if e := got["confd_media_burst_errors_total"]; e != 0 {
		t.Errorf("%v datagrams of bursts refused", e)
	}
}

// TestMetricsAccess: /metrics answers only the configured networks, and
// not at all when disabled.
func TestMetricsAccess(t *testing.T) {
	elsewhere := startTestApp(t, func(c *Config) { c.Metrics.Allow = []string{"192.0.2.0/24"} })
	if code, _ := get(t, "http://"+elsewhere.addrs["http"].String()+"/metrics"); code != http.StatusForbidden {
		t.Errorf("a loopback client outside metrics.allow got %d, want 403", code)
	}
	off := startTestApp(t, func(c *Config) { c.Metrics.Disabled = true })
	if code, body := get(t, "http://"+off.addrs["http"].String()+"/metrics"); strings.Contains(body, "# TYPE confd_") {
		t.Errorf("disabled metrics still served (%d)", code)
	}
	if _, err := (MetricsConfig{Allow: []string{"10.0.0.0/33"}}).allowed(); err == nil {
		t.Error("a bad network in metrics.allow was accepted")
	}
	allow, err := MetricsConfig{Allow: []string{"10.1.0.0/16", "2001:db8::1"}}.allowed()
	if err != nil {
		t.Fatal(err)
	}
	for remote, ok := range map[string]bool{
		"10.1.2.3:5000": true, "[::ffff:10.1.2.3]:5000": true, "10.2.0.1:5000": false,
		"[2001:db8::1]:443": true, "[2001:db8::2]:443": false, "127.0.0.1:1": false, "garbage": false,
	} {
		if clientAllowed(remote, allow) != ok {
			t.Errorf("clientAllowed(%q) = %v, want %v", remote, !ok, ok)
		}
	}
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	res, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}

// sampleLine is one sample of the Prometheus text format: a name, optional
// labels with quoted values, a number.
var sampleLine = regexp.MustCompile(`^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(?:[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\]|\\.)*",?)*\})? (\S+)$`)

// scrapeMetrics reads /metrics, checks it is well-formed text exposition
// (every sample under its family's TYPE, no series twice) and returns the
// samples by name and labels.
func scrapeMetrics(a *app) (map[string]float64, error) {
	res, err := http.Get("http://" + a.addrs["http"].String() + "/metrics")
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/plain; version=0.0.4") {
		return nil, fmt.Errorf("/metrics: %s, %q", res.Status, res.Header.Get("Content-Type"))
	}
	out := map[string]float64{}
	typed := map[string]bool{}
	family := ""
	sc := bufio.NewScanner(res.Body)
	for sc.Scan() {
		line := sc.Text()
		if f, ok := strings.CutPrefix(line, "# TYPE "); ok {
			name, kind, _ := strings.Cut(f, " ")
			if typed[name] {
				return nil, fmt.Errorf("family %s typed twice", name)
			}
			if kind != "gauge" && kind != "counter" {
				return nil, fmt.Errorf("family %s has type %q", name, kind)
			}
			typed[name], family = true, name
			continue
		}
		if strings.HasPrefix(line, "# HELP ") {
			continue
		}
		m := sampleLine.FindStringSubmatch(line)
		if m == nil {
			return nil, fmt.Errorf("malformed line %q", line)
		}
		if m[1] != family {
			return nil, fmt.Errorf("sample %q outside its family (under %s)", line, family)
		}
		v, err := strconv.ParseFloat(m[3], 64)
		if err != nil {
			return nil, fmt.Errorf("line %q: %v", line, err)
		}
		key := m[1] + m[2]
		if _, dup := out[key]; dup {
			return nil, fmt.Errorf("series %s twice", key)
		}
		out[key] = v
	}
	return out, sc.Err()
}
