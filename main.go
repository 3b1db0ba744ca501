// Command rideshare is the single binary of the RideShare DBaaS: the
// orchestrator, the workers, the users and rides services, the local load
// balancer, the plugins, and the operator CLI are all subcommands of it.
package main

import (
	"fmt"
	"os"

	"github.com/rideshare/dbaas/command"
	"github.com/rideshare/dbaas/plugins/pluginhost"
)

func main() {
	os.Exit(run())
}

// run is main with its defers: plugin subprocesses end with the host.
func run() int {
	defer pluginhost.Cleanup()
	if err := command.App().Run(os.Args); err != nil {
		fmt.Fprintln(os.Stderr, "rideshare:", err)
		return 1
	}
	return 0
}
