package config

// Sizes and the replication log's retention, as written in HCL.

import (
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

// parseSize reads "512MiB", "64MB", "1GiB" or a plain number of bytes; ok is
// false unless it is a positive size.
func parseSize(s string) (n int64, ok bool) {
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
		return 0, false
	}
	return n * mult, true
}

// size parses a size attribute of the sync_log block.
func (d *decoder) size(l *syncLogBlock, attr, s string) int64 {
	n, ok := parseSize(s)
	if !ok {
		d.fail(l.Body, attr, "sync_log."+attr, "%q is not a positive size (like \"512MiB\", \"64MB\" or a number of bytes)", s)
	}
	return n
}

// syncLog checks the sync_log block and returns its broker.LogRetention
// (zero fields: the broker's defaults).
func (d *decoder) syncLog(l *syncLogBlock) broker.LogRetention {
	r := broker.LogRetention{}
	switch l.MaxBytes {
	case "":
	case "unbounded":
		r.MaxBytes = -1
	default:
		r.MaxBytes = d.size(l, "max_bytes", l.MaxBytes)
	}
	if l.SegmentBytes != "" {
		r.SegmentBytes = d.size(l, "segment_bytes", l.SegmentBytes)
	}
	if l.MaxAge != "" {
		age, err := time.ParseDuration(l.MaxAge)
		if err != nil || age < 0 {
			d.fail(l.Body, "max_age", "sync_log.max_age", "%q is not a duration (like \"24h\"; \"0s\" for none)", l.MaxAge)
		}
		r.MaxAge = age
	}
	if d.err != nil {
		return broker.LogRetention{}
	}
	// RabbitMQ drops whole segments: a segment over half the bound would let
	// the log grow well past it, or drop half of it at once.
	if b, seg := r.Bound(), r.Segment(); b > 0 && seg > b/2 {
		d.fail(l.Body, "segment_bytes", "sync_log", "segment_bytes (%d) must be at most half of max_bytes (%d): the log is dropped a segment at a time", seg, b)
	}
	return r
}
