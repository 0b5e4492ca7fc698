package main

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// clockTick is the unit of the CPU times in /proc (USER_HZ): 100 Hz on
// every Linux architecture Go supports, whatever the kernel's own HZ.
const clockTick = 10 * time.Millisecond

// processCPU is the user plus system CPU time process pid has used, all
// its threads together: fields 14 (utime) and 15 (stime) of
// /proc/<pid>/stat. Its resolution is one clock tick, 10 ms.
func processCPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// The command name (field 2) is in parentheses and may hold spaces;
	// the fields after it are plain numbers, field 3 first.
	end := bytes.LastIndexByte(b, ')')
	if end < 0 {
		return 0, fmt.Errorf("/proc/%d/stat: no command name", pid)
	}
	f := strings.Fields(string(b[end+1:]))
	const utime, stime = 14 - 3, 15 - 3
	if len(f) <= stime {
		return 0, fmt.Errorf("/proc/%d/stat: %d fields", pid, len(f))
	}
	u, err1 := strconv.ParseUint(f[utime], 10, 64)
	s, err2 := strconv.ParseUint(f[stime], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("/proc/%d/stat: bad CPU times", pid)
	}
	return time.Duration(u+s) * clockTick, nil
}

// machineCPU is the busy and total CPU time of every core together since
// boot, from the first line of /proc/stat (idle and iowait count as not
// busy; guest time is already inside user).
func machineCPU() (busy, total time.Duration, err error) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, 0, err
	}
	line, _, _ := bytes.Cut(b, []byte("\n"))
	f := strings.Fields(string(line))
	if len(f) < 9 || f[0] != "cpu" {
		return 0, 0, fmt.Errorf("/proc/stat: unexpected first line %q", line)
	}
	// user nice system idle iowait irq softirq steal
	var v [8]uint64
	for i := range v {
		if v[i], err = strconv.ParseUint(f[1+i], 10, 64); err != nil {
			return 0, 0, fmt.Errorf("/proc/stat: %w", err)
		}
	}
	idle := v[3] + v[4]
	var all uint64
	for _, x := range v {
		all += x
	}
	return time.Duration(all-idle) * clockTick, time.Duration(all) * clockTick, nil
}

// processSwitches is how many times the threads of process pid have been
// switched off a CPU so far, voluntarily (to wait: for a packet, a timer,
// a lock) and not (preempted): the sum of every task's two counts in
// /proc/<pid>/task/*/status. On a machine where waking is dear it tells
// what the CPU time cannot split out, and it hardly moves with the
// machine's speed or load. A thread that has exited takes its counts
// along (Go's threads seldom exit).
func processSwitches(pid int) (uint64, error) {
	tasks, err := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
	if err != nil {
		return 0, err
	}
	var n uint64
	for _, t := range tasks {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%s/status", pid, t.Name()))
		if err != nil {
			continue // the thread exited meanwhile
		}
		for _, line := range strings.Split(string(b), "\n") {
			name, value, ok := strings.Cut(line, ":")
			if !ok || (name != "voluntary_ctxt_switches" && name != "nonvoluntary_ctxt_switches") {
				continue
			}
			v, err := strconv.ParseUint(strings.TrimSpace(value), 10, 64)
			if err != nil {
				return 0, fmt.Errorf("/proc/%d/task/%s/status: %s: %w", pid, t.Name(), name, err)
			}
			n += v
		}
	}
	return n, nil
}
