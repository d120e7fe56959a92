// The pod sandbox ("pause") process of the test cluster's containerd: no
// registry is reachable, so scripts/cluster builds this static binary into a
// FROM-scratch image and imports it. It does what the upstream pause does:
// wait for SIGINT/SIGTERM and reap every child (it is PID 1 of the pod).
package main

import (
	"os"
	"os/signal"
	"syscall"
)

func main() {
	signals := make(chan os.Signal, 4)
	signal.Notify(signals, syscall.SIGINT, syscall.SIGTERM, syscall.SIGCHLD)
	for s := range signals {
		if s != syscall.SIGCHLD {
			os.Exit(0)
		}
		for {
			var status syscall.WaitStatus
			pid, err := syscall.Wait4(-1, &status, syscall.WNOHANG, nil)
			if pid <= 0 || err != nil {
				break
			}
		}
	}
}
