package worker

import (
	"context"

	"github.com/hashicorp/go-hclog"
)

// BatchInLog runs batchInLog on a connection of its own to amqpURL (which
// it declares the log on), for the tests outside the package.
func BatchInLog(ctx context.Context, amqpURL string, epoch uint64, offset int64, first, last uint64) (bool, error) {
	w := &Worker{cfg: Config{AMQPURL: amqpURL}, log: hclog.NewNullLogger()}
	w.cfg.defaults()
	conn, err := w.setUp(ctx)
	if err != nil {
		return false, err
	}
	defer conn.Close()
	return w.batchInLog(ctx, &unsureBatch{epoch: epoch, offset: offset, first: first, last: last})
}
