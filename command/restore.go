package command

import (
	"fmt"
	"os"

	"github.com/urfave/cli/v2"

	"github.com/rideshare/dbaas/internal/backup"
	"github.com/rideshare/dbaas/internal/broker"
)

// restoreCommand seeds a fresh deployment (a new ZooKeeper root and RabbitMQ
// vhost) from a backup file: every worker it starts loads the backup.
func restoreCommand() *cli.Command {
	return &cli.Command{
		Name:      "restore",
		Usage:     "seed a fresh deployment from a backup file (then start it with rideshare up)",
		ArgsUsage: "FILE",
		Flags:     configFlags(),
		Action: func(c *cli.Context) error {
			if c.NArg() != 1 {
				return cli.Exit("usage: rideshare restore [-config FILE] [-var k=v] FILE", 2)
			}
			cfg, err := loadConfig(c)
			if err != nil {
				return err
			}
			f, err := os.Open(c.Args().First())
			if err != nil {
				return fmt.Errorf("open the backup: %w", err)
			}
			defer f.Close()
			ctx := c.Context
			el, err := openElection(ctx, cfg, "restore")
			if err != nil {
				return err
			}
			defer el.Close()
			conn, err := broker.Dial(ctx, cfg.AMQPURL, 0)
			if err != nil {
				return err
			}
			defer conn.Close()
			rec, err := backup.Restore(ctx, el, conn, cfg.Topology(), f)
			if err != nil {
				return err
			}
			fmt.Fprintf(c.App.Writer, "restored seq %d (epoch %d) from %s as snapshot %s; start the deployment (rideshare up) and its workers load it\n",
				rec.Seq, rec.Epoch, c.Args().First(), rec.ID)
			return nil
		},
	}
}
