//go:build !linux

// Command sendfloor measures the kernel's cost per UDP packet with sendto
// and sendmmsg; sendmmsg is Linux's, so elsewhere it only says so.
package main

import (
	"fmt"
	"os"
)

func main() {
	fmt.Fprintln(os.Stderr, "sendfloor: Linux only (sendmmsg)")
	os.Exit(1)
}
