// Command e2e is confd's end-to-end benchmark (`make bench`). It builds
// the confd binary (./cmd/confd) and a stock pion server
// (./bench/stocksfu, the baseline), and for each load starts each of them
// afresh as a subprocess on 127.0.0.1, drives it with the same real pion
// peers (ICE, DTLS, SRTP over loopback) from this process, and reads the
// server's CPU time (utime+stime in /proc/<pid>/stat) over a measured
// window after a warm-up. It prints each load's cost on both servers and
// confd's as a ratio to the stock server's, measured in the same run:
//
//   - video fan-out, 1 publisher to N viewers: server CPU per packet the
//     viewers received;
//   - mixed audio rooms of N members, 3 of them talking: server CPU per
//     member-second;
//   - idle members (connected, silent, no video): per member-second;
//   - WHEP viewers of a room where two members talk: the server CPU the
//     viewers add, per viewer-second.
//
// Beside the fan-out and mixed loads it prints their floor: what a bare
// sender (./bench/sendfloor, paced), with no WebRTC at all, pays on this
// machine to deliver the packets confd's peers received (floor.go).
//
// N is each of -sizes: 10 and 50 by default, as a run of those fits in a
// few minutes on two cores; -sizes 10,50,200 adds the 200s (the stock
// server sits out the 200-member audio rooms, see forwardAllLimit).
//
// With -profiles it also saves confd's CPU profiles (through its opt-in
// debug.pprof listener) under the loads -profile names, over a second
// window after the measured one.
//
// The machine is shared and the load generator shares it: each window
// also reports the generator's own CPU and what the rest of the machine
// used, so a reader can tell a starved run. Nothing here asserts on time.
//
// Goroutines: main runs the loads one after another. A scene's connect
// starts a goroutine per joining peer and waits for them all; each peer
// owns its sources' loops, its track readers and its RTCP readers, and
// its close waits for them; each server owns the goroutine that waits
// for its process, and stop waits for that. Servers run in process
// groups of their own, are stopped (SIGTERM, then SIGKILL) when their
// load ends or the benchmark is interrupted, and are killed by the
// kernel should the benchmark die first (Pdeathsig).
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

func main() {
	o := options{}
	flag.DurationVar(&o.window, "window", 8*time.Second, "measured window per load and server")
	flag.DurationVar(&o.warmup, "warmup", 3*time.Second, "wait after the peers join, before measuring")
	flag.IntVar(&o.parallel, "parallel", 4, "peers joining at once")
	flag.StringVar(&o.profiles, "profiles", "", "directory for confd's CPU profiles (none when empty)")
	profile := flag.String("profile", "fanout50,mixed50", "loads to profile confd under")
	sizes := flag.String("sizes", joinInts(defaultSizes), "comma-separated room sizes (viewers, members) the loads are made for, e.g. 10,50,200")
	only := flag.String("loads", "", "comma-separated loads to run, of those the sizes make (default all: "+strings.Join(loadNames(allLoads(defaultSizes)), ",")+")")
	goCmd := flag.String("go", "go", "the go command that builds the servers")
	keep := flag.Bool("keep", false, "keep the scratch directory (binaries, configs, server logs)")
	serverEnv := flag.String("server-env", "", "space-separated NAME=value settings added to both servers' environment, e.g. GOMAXPROCS=1")
	flag.Parse()
	o.serverEnv = strings.Fields(*serverEnv)
	o.profile = map[string]bool{}
	for _, n := range strings.Split(*profile, ",") {
		o.profile[strings.TrimSpace(n)] = true
	}
	ns, err := parseInts(*sizes)
	var loads []load
	if err == nil {
		loads, err = pick(allLoads(ns), *only)
	}
	if err == nil {
		err = runAll(o, loads, *goCmd, *keep)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		os.Exit(1)
	}
}

func runAll(o options, loads []load, goCmd string, keep bool) error {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	dir, err := os.MkdirTemp("", "confd-e2e-")
	if err != nil {
		return err
	}
	if keep {
		fmt.Println("scratch directory:", dir)
	} else {
		defer os.RemoveAll(dir)
	}
	o.dir = dir
	if o.profiles != "" {
		if err := os.MkdirAll(o.profiles, 0o755); err != nil {
			return err
		}
	}
	bins, err := buildServers(ctx, goCmd, dir)
	if err != nil {
		return err
	}
	api, err := newClientAPI()
	if err != nil {
		return err
	}
	media := newMediaSet()
	fmt.Printf("end-to-end: %d CPUs, load average %s; window %v after a %v warm-up; camera %.1f packets/s\n",
		runtime.NumCPU(), loadAverage(), o.window, o.warmup, cameraRate())
	var results []measured
	for i, l := range loads {
		kinds := []serverKind{kindConfd, kindStock}
		if i%2 == 1 {
			slices.Reverse(kinds) // alternate who goes first, against drift in the machine's load
		}
		var pair [2]result
		for _, k := range kinds {
			r, err := run(ctx, o, bins, api, media, l, k)
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if err != nil {
				r.skipped = "failed: " + err.Error()
			}
			pair[k] = r
			printResult(r)
		}
		printRatio(pair)
		res := measured{pair: pair}
		if l.floor && pair[kindConfd].skipped == "" {
			f, err := measureFloor(ctx, o, bins.sendfloor, pair[kindConfd])
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if err != nil {
				fmt.Printf("%-40s floor  not measured: %v\n", l.title, err)
			} else {
				res.floor = &f
				printFloor(pair[kindConfd], f)
			}
		}
		results = append(results, res)
	}
	fmt.Printf("\nload average %s\n\n", loadAverage())
	printTable(results)
	printProfiles(ctx, goCmd, results)
	return nil
}

func loadNames(ls []load) []string {
	var out []string
	for _, l := range ls {
		out = append(out, l.name)
	}
	return out
}

// pick is the loads named in only ("" for all), in their usual order.
func pick(all []load, only string) ([]load, error) {
	if only == "" {
		return all, nil
	}
	want := map[string]bool{}
	for _, n := range strings.Split(only, ",") {
		want[strings.TrimSpace(n)] = true
	}
	var out []load
	for _, l := range all {
		if want[l.name] {
			out = append(out, l)
			delete(want, l.name)
		}
	}
	if len(want) > 0 {
		return nil, fmt.Errorf("unknown loads %v (known: %s)", keys(want), strings.Join(loadNames(all), ","))
	}
	return out, nil
}

func keys(m map[string]bool) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// parseInts reads a comma-separated list of positive numbers.
func parseInts(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n <= 0 {
			return nil, fmt.Errorf("bad size %q in %q", f, s)
		}
		out = append(out, n)
	}
	return out, nil
}

func joinInts(ns []int) string {
	var out []string
	for _, n := range ns {
		out = append(out, strconv.Itoa(n))
	}
	return strings.Join(out, ",")
}

// loadAverage is the first three fields of /proc/loadavg.
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	return strings.Join(f[:min(3, len(f))], " ")
}
