package pluginrpc

import (
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"
)

// Timestamp is t as a protobuf timestamp, unset for the zero time (which a
// contract uses for "none").
func Timestamp(t time.Time) *timestamppb.Timestamp {
	if t.IsZero() {
		return nil
	}
	return timestamppb.New(t)
}

// Time reads a protobuf timestamp; unset reads as the zero time.
func Time(ts *timestamppb.Timestamp) time.Time {
	if ts == nil {
		return time.Time{}
	}
	return ts.AsTime()
}
