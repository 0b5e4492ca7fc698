package main

import (
	"context"
	"fmt"
	"os/exec"
	"strings"
)

// cores is CPU time per wall time.
func cores(cpu, wall float64) float64 {
	if wall == 0 {
		return 0
	}
	return cpu / wall
}

// printResult prints one load on one server as it finishes.
func printResult(r result) {
	head := fmt.Sprintf("%-40s %-5s", r.load.title, r.kind)
	if r.skipped != "" {
		fmt.Printf("%s  not measured: %s\n", head, r.skipped)
		return
	}
	m := r.main
	w := m.wall.Seconds()
	cost, ok := r.cost()
	figure := "n/a"
	if ok {
		figure = fmt.Sprintf("%.2f %s", cost, r.load.unit())
	}
	fmt.Printf("%s  %-18s server %.2f cores", head, figure, cores(m.server.Seconds(), w))
	if r.load.metric == perViewerSecond {
		fmt.Printf(" (%.2f without the viewers)", cores(r.base.server.Seconds(), r.base.wall.Seconds()))
	}
	if sw, ok := r.switches(); ok {
		fmt.Printf(", %.2f context switches per %s", sw, r.load.per())
	}
	perPeer := 0.0
	if m.peers > 0 {
		perPeer = float64(m.recv.packets) / w / float64(m.peers)
	}
	fmt.Printf("; received %.0f packets/s (%.1f per receiver, the least %.1f", float64(m.recv.packets)/w, perPeer, float64(m.least)/w)
	if d, ok := r.delivered(); ok {
		fmt.Printf(", %.0f%% of what was sent", 100*d)
	}
	if m.recv.keyframes > 0 && m.peers > 0 {
		fmt.Printf(", %.2f key frames/s", float64(m.recv.keyframes)/w/float64(m.peers))
	}
	if m.recv.padding > 0 {
		fmt.Printf(", %.0f padding packets/s in all", float64(m.recv.padding)/w)
	}
	fmt.Printf("); generator %.2f cores, others %.2f cores", cores(m.gen.Seconds(), w), cores((m.busy-m.server-m.gen).Seconds(), w))
	if r.failed > 0 || r.silent > 0 {
		fmt.Printf("; %d of %d peers did not join, %d received nothing", r.failed, r.load.n, r.silent)
	}
	if d, ok := r.delivered(); ok && d < short {
		fmt.Print("; SHORT: not everything was delivered, the cost is a lower bound")
	}
	fmt.Println()
}

// ratio is confd's cost over the stock server's.
func ratio(pair [2]result) (float64, bool) {
	c, ok1 := pair[kindConfd].cost()
	s, ok2 := pair[kindStock].cost()
	if pair[kindConfd].skipped != "" || pair[kindStock].skipped != "" || !ok1 || !ok2 || s <= 0 {
		return 0, false
	}
	return c / s, true
}

func printRatio(pair [2]result) {
	if r, ok := ratio(pair); ok {
		fmt.Printf("%-40s ratio  confd/stock %.2f×\n", pair[0].load.title, r)
	}
}

// printFloor prints a load's floor and confd's cost over it.
func printFloor(r result, f floorResult) {
	fmt.Printf("%-40s floor  %.2f %s  a bare sender: %d-byte datagrams, %.1f a second to each of %d sockets, one sendmmsg a round",
		r.load.title, f.cost, r.load.unit(), f.size, f.rate, r.main.peers)
	if c, ok := r.cost(); ok && f.cost > 0 {
		fmt.Printf("; confd/floor %.2f×", c/f.cost)
	}
	fmt.Println()
}

// printTable prints every result again as one Markdown table.
func printTable(results []measured) {
	fmt.Println("| load | confd | stock | confd/stock | floor (bare sender) | server cores (confd, stock) | server context switches (confd, stock) | received packets/s per receiver (confd, stock) |")
	fmt.Println("|---|---|---|---|---|---|---|---|")
	for _, res := range results {
		pair := res.pair
		l := pair[0].load
		cell := func(r result) (string, string, string, string) {
			if r.skipped != "" {
				return "—", "—", "—", "—"
			}
			cost, ok := r.cost()
			w := r.main.wall.Seconds()
			per := 0.0
			if r.main.peers > 0 {
				per = float64(r.main.recv.packets) / w / float64(r.main.peers)
			}
			c := "n/a"
			if ok {
				c = fmt.Sprintf("%.2f %s", cost, l.unit())
			}
			if d, ok := r.delivered(); ok && d < short {
				c = fmt.Sprintf("≥ %s (%.0f%% delivered)", c, 100*d)
			}
			sw := "n/a"
			if n, ok := r.switches(); ok {
				sw = fmt.Sprintf("%.2f per %s", n, l.per())
			}
			return c, fmt.Sprintf("%.2f", cores(r.main.server.Seconds(), w)), sw, fmt.Sprintf("%.1f", per)
		}
		cc, ccores, csw, crecv := cell(pair[kindConfd])
		sc, score, ssw, srecv := cell(pair[kindStock])
		rs := "—"
		if r, ok := ratio(pair); ok {
			rs = fmt.Sprintf("%.2f×", r)
		}
		fl := "—"
		if res.floor != nil {
			fl = fmt.Sprintf("%.2f %s", res.floor.cost, l.unit())
		}
		fmt.Printf("| %s | %s | %s | %s | %s | %s, %s | %s, %s | %s, %s |\n", l.title, cc, sc, rs, fl, ccores, score, csw, ssw, crecv, srecv)
	}
}

// printProfiles names the profiles taken and shows the top of each.
func printProfiles(ctx context.Context, goCmd string, results []measured) {
	for _, res := range results {
		pair := res.pair
		p := pair[kindConfd].profile
		if p == "" {
			continue
		}
		fmt.Printf("\nconfd's CPU profile under %s: %s (go tool pprof -top %s)\n", pair[0].load.title, p, p)
		out, err := exec.CommandContext(ctx, goCmd, "tool", "pprof", "-top", "-nodecount=15", p).CombinedOutput()
		if err != nil {
			fmt.Printf("  go tool pprof: %v\n", err)
			continue
		}
		for _, line := range strings.Split(strings.TrimRight(string(out), "\n"), "\n") {
			fmt.Println("  " + line)
		}
	}
}
