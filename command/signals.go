package command

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

// untilStopped returns a ctx that is done when the process is asked to stop:
// Ctrl-C at a terminal, SIGTERM from docker stop, systemd or the
// orchestrator's runtime (which waits for a graceful stop before it kills).
// Every long-running command stops on the same signals.
func untilStopped(ctx context.Context) (context.Context, context.CancelFunc) {
	return signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
}
