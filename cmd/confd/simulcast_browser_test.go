package main

import (
	"context"
	"slices"
	"testing"
	"time"
)

// simulcastResult is the JSON line testdata/browser/simulcast.mjs prints.
type simulcastResult struct {
	OK            bool                      `json:"ok"`
	SmallWidth    int                       `json:"smallWidth"`
	LargeWidth    int                       `json:"largeWidth"`
	FramesDecoded int                       `json:"framesDecoded"`
	Widths        []int                     `json:"widths"`
	Publisher     map[string]map[string]any `json:"publisher"`
	PublisherBWE  int                       `json:"publisherEstimate"`
	LayersEvents  []string                  `json:"layersEvents"`
	Events        []string                  `json:"events"`
	Error         string                    `json:"error"`
}

// TestChromiumSimulcast: headless Chromium publishes its fake 1280x720
// camera as three VP8 simulcast encodings; another Chromium page watches
// it in one slot. With the slot declared 320x180 the viewer decodes the
// small layer (320 wide); declared 1280x720, the large one (1280 wide):
// getStats shows frames decoded and the frame width following the slot
// size. While the slot is small, confd tells the publisher (confd.layers)
// to stop h and f, and asks for f again when the slot grows.
//
// f is required: Chromium starts it once its own estimate allows, at once
// or, when its first bandwidth probe fails (under -race on a loaded
// machine), 15 to 20 s into the call; confd keeps it asked for until it
// has received it, so it comes within the harness's deadline.
func TestChromiumSimulcast(t *testing.T) {
	dir, chromium := browserHarness(t)
	a := startTestApp(t, func(c *Config) {
		c.Verto.AllowedOrigins = []string{"*"} // the harness serves its page from its own port
	})
	ctx, cancel := context.WithTimeout(context.Background(), 150*time.Second)
	defer cancel()
	var res simulcastResult
	runErr, stderr := runHarness(ctx, t, dir, &res, "simulcast.mjs", "--ws", a.vertoURL(), "--dest", "3500",
		"--timeout-ms", "110000", "--chromium", chromium)
	if !res.OK || runErr != nil {
		t.Fatalf("simulcast in Chromium failed: %s (run: %v)\nevents: %v\nstderr:\n%s", res.Error, runErr, res.Events, stderr)
	}
	if res.SmallWidth > 400 || res.LargeWidth < 1280 || res.FramesDecoded == 0 {
		t.Errorf("widths small %d, large %d, %d frames decoded", res.SmallWidth, res.LargeWidth, res.FramesDecoded)
	}
	if n := len(res.LayersEvents); n < 2 || !slices.Contains(res.LayersEvents, "q") || res.LayersEvents[n-1] == "q" {
		t.Errorf("confd.layers events %v, want q alone while the slot was small, then a larger layer back", res.LayersEvents)
	}
	t.Logf("viewer widths %v, %d frames decoded; publisher encodings %v, its estimate %d bit/s; confd.layers %v",
		res.Widths, res.FramesDecoded, res.Publisher, res.PublisherBWE, res.LayersEvents)
}
