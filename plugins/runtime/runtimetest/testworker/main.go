// Command testworker is the stand-in worker the runtime contract tests start
// (as a raw process, and as the entrypoint of a FROM-scratch image). It
// prints its pid, then sleeps until SIGTERM or SIGINT and exits 0.
//
// Once its SIGTERM handling is in place it ignores SIGUSR2: the tests wait
// for that bit in /proc/<pid>/status (SigIgn) before signalling it, since a
// SIGTERM that arrives earlier kills it (code 143) instead of ending it 0.
//
// Flags:
//
//	-ignore-term  ignore SIGTERM/SIGINT, so only SIGKILL ends it (tests
//	              Stop's escalation after its timeout)
//	-exit-after D exit by itself with -exit-code after D
//	-exit-code N  the code used with -exit-after
//
// It must stay dependency-free and build with CGO_ENABLED=0 into a static
// binary: the docker tests copy it into an image built FROM scratch.
package main

import (
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"
)

func main() {
	ignoreTerm := flag.Bool("ignore-term", false, "ignore SIGTERM and SIGINT")
	exitAfter := flag.Duration("exit-after", 0, "exit by itself after this long (0: never)")
	exitCode := flag.Int("exit-code", 0, "exit code used with -exit-after")
	flag.Parse()

	sigs := make(chan os.Signal, 1)
	if *ignoreTerm {
		signal.Ignore(syscall.SIGTERM, syscall.SIGINT)
	} else {
		signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT)
	}
	// Readiness, visible to the tests in /proc/<pid>/status (SigIgn) for a
	// raw process and a container alike: SIGTERM is now handled as above.
	signal.Ignore(syscall.SIGUSR2)
	fmt.Printf("testworker pid=%d args=%q\n", os.Getpid(), flag.Args())

	// With no -exit-after, a timer far away keeps the Go runtime from
	// declaring a deadlock when SIGTERM is ignored too.
	after := time.Duration(1 << 62)
	if *exitAfter > 0 {
		after = *exitAfter
	}
	timer := time.After(after)
	select {
	case s := <-sigs:
		fmt.Printf("testworker pid=%d got %v, exiting 0\n", os.Getpid(), s)
		os.Exit(0)
	case <-timer:
		fmt.Printf("testworker pid=%d exiting %d by itself\n", os.Getpid(), *exitCode)
		os.Exit(*exitCode)
	}
}
