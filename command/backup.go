package command

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/urfave/cli/v2"

	"github.com/rideshare/dbaas/internal/backup"
	"github.com/rideshare/dbaas/internal/broker"
	"github.com/rideshare/dbaas/internal/config"
	"github.com/rideshare/dbaas/internal/wiring"
	"github.com/rideshare/dbaas/plugins/election"
)

// backupCommand copies the deployment's newest complete snapshot (or, with
// -new or when there is none, one taken now) into a file.
func backupCommand() *cli.Command {
	return &cli.Command{
		Name:      "backup",
		Usage:     "write the newest consistent snapshot (or take one) to a file",
		ArgsUsage: " ",
		Flags: append(configFlags(),
			&cli.StringFlag{Name: "o", Aliases: []string{"output"}, Required: true, Usage: "the backup file to write"},
			&cli.BoolFlag{Name: "new", Usage: "take a snapshot now instead of copying the newest one"},
			&cli.DurationFlag{Name: "wait", Value: backup.DefaultWait, Usage: "how long to wait for a snapshot taken now"},
		),
		Action: func(c *cli.Context) error {
			cfg, err := loadConfig(c)
			if err != nil {
				return err
			}
			ctx := c.Context
			el, err := openElection(ctx, cfg, "backup")
			if err != nil {
				return err
			}
			defer el.Close()
			rec, ok, err := backup.Newest(ctx, el)
			if err != nil {
				return err
			}
			if !ok || c.Bool("new") {
				fmt.Fprintln(c.App.ErrWriter, "asking the deployment for a snapshot now…")
				if rec, err = backup.Take(ctx, el, c.Duration("wait")); err != nil {
					return err
				}
			}
			conn, err := broker.Dial(ctx, cfg.AMQPURL, 0)
			if err != nil {
				return err
			}
			defer conn.Close()
			out := c.String("o")
			// Written beside the target and renamed once verified, so a
			// failed backup never leaves a file that looks whole.
			tmp, err := os.CreateTemp(filepath.Dir(out), filepath.Base(out)+".partial-*")
			if err != nil {
				return fmt.Errorf("create the backup file: %w", err)
			}
			defer os.Remove(tmp.Name())
			n, err := backup.Copy(ctx, conn, rec, tmp)
			if err == nil {
				err = tmp.Sync()
			}
			if cerr := tmp.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				return err
			}
			if err := os.Rename(tmp.Name(), out); err != nil {
				return fmt.Errorf("write %s: %w", out, err)
			}
			fmt.Fprintf(c.App.Writer, "backup of seq %d (epoch %d) written to %s: %d bytes, sha256 %s, snapshot %s\n",
				rec.Seq, rec.Epoch, out, n, rec.SHA256, rec.ID)
			return nil
		},
	}
}

// openElection opens a session of the deployment's election backend, which
// keeps the snapshot catalog, for an operator command (backup, restore).
func openElection(ctx context.Context, cfg *config.Config, command string) (election.Election, error) {
	load := wiring.LoaderFor(cfg, "", logger(command).Named("plugins"))
	return load.Election(ctx, cfg.Election.Name, wiring.ElectionConfig(cfg))
}
