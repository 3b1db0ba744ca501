package command

import (
	"github.com/urfave/cli/v2"

	"github.com/rideshare/dbaas/plugins/pluginhost"
)

// pluginCommand is "rideshare plugin <kind> <name>": it serves the built-in
// implementation kind/name (a row of the built-in catalog, plugins/builtin) as a
// go-plugin plugin. Hosts run it; a person running it gets go-plugin's
// "this binary is a plugin" notice. Hidden: it is not an operator command.
func pluginCommand() *cli.Command {
	return &cli.Command{
		Name:      "plugin",
		Usage:     "serve a built-in plugin to a rideshare host (run by the host, not by hand)",
		ArgsUsage: "<runtime|storage|election> <name>",
		Hidden:    true,
		Action: func(c *cli.Context) error {
			if c.NArg() != 2 {
				return cli.Exit("usage: rideshare plugin <runtime|storage|election> <name>", 2)
			}
			return pluginhost.ServeBuiltin(c.Args().Get(0), c.Args().Get(1))
		},
	}
}
