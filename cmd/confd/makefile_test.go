package main

import (
	"os/exec"
	"strings"
	"testing"
)

// TestMakeRunInstallsWhatTheBuildNeeds: on a fresh machine `make run`
// installs libopus (and the rest the cgo build needs) before it builds:
// the install step comes first in what make would run.
func TestMakeRunInstallsWhatTheBuildNeeds(t *testing.T) {
	if _, err := exec.LookPath("make"); err != nil {
		t.Skip("no make")
	}
	cmd := exec.Command("make", "-n", "run")
	cmd.Dir = "../.."
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("make -n run: %v\n%s", err, out)
	}
	s := string(out)
	install := strings.Index(s, "apt-get install")
	build := strings.Index(s, "go build")
	for _, pkg := range []string{"libopus-dev", "libopusfile-dev", "pkg-config"} {
		if !strings.Contains(s[:max(install, 0)], pkg) {
			t.Errorf("make run does not install %s before building:\n%s", pkg, s)
		}
	}
	if install < 0 || build < 0 || install > build {
		t.Errorf("make run must install what is missing, then build:\n%s", s)
	}
}
