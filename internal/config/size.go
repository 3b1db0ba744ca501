package config

// Sizes and the replication log's retention, as written in HCL.

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/rideshare/dbaas/internal/broker"
)

// sizeUnits are the suffixes parseSize knows, longest first.
var sizeUnits = []struct {
	suffix string
	mult   int64
}{
	{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"TiB", 1 << 40},
	{"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"TB", 1e12}, {"B", 1},
}

// parseSize reads "512MiB", "64MB", "1GiB" or a plain number of bytes.
func parseSize(field, s string) (int64, error) {
	t := strings.TrimSpace(s)
	mult := int64(1)
	for _, u := range sizeUnits {
		if strings.HasSuffix(t, u.suffix) {
			t, mult = strings.TrimSpace(strings.TrimSuffix(t, u.suffix)), u.mult
			break
		}
	}
	n, err := strconv.ParseInt(t, 10, 64)
	if err != nil || n <= 0 || n > (1<<62)/mult {
		return 0, fmt.Errorf("%s: %q is not a positive size (like \"512MiB\", \"64MB\" or a number of bytes)", field, s)
	}
	return n * mult, nil
}

// parse checks the sync_log block and fills its broker.LogRetention.
func (l *SyncLog) parse() error {
	r := broker.LogRetention{}
	var err error
	switch l.MaxBytes {
	case "":
	case "unbounded":
		r.MaxBytes = -1
	default:
		if r.MaxBytes, err = parseSize("sync_log.max_bytes", l.MaxBytes); err != nil {
			return err
		}
	}
	if l.SegmentBytes != "" {
		if r.SegmentBytes, err = parseSize("sync_log.segment_bytes", l.SegmentBytes); err != nil {
			return err
		}
	}
	if l.MaxAge != "" {
		d, err := time.ParseDuration(l.MaxAge)
		if err != nil || d < 0 {
			return fmt.Errorf("sync_log.max_age: %q is not a duration (like \"24h\"; \"0s\" for none)", l.MaxAge)
		}
		r.MaxAge = d
	}
	seg := r.Segment()
	// RabbitMQ drops whole segments: a segment over half the bound would let
	// the log grow well past it, or drop half of it at once.
	if b := r.Bound(); b > 0 && seg > b/2 {
		return fmt.Errorf("sync_log: segment_bytes (%d) must be at most half of max_bytes (%d): the log is dropped a segment at a time", seg, b)
	}
	l.retention = r
	return nil
}
