package rides

import (
	"fmt"
	"strconv"
)

// ride is one row of the rides table.
type ride struct {
	ID          int64
	CreatedBy   string
	Timestamp   string
	Source      int64
	Destination int64
}

// newRide is the body of POST /api/v1/rides. Source and destination are
// area numbers, as JSON numbers or strings: route checks them.
type newRide struct {
	CreatedBy   string `json:"created_by"`
	Timestamp   string `json:"timestamp"`
	Source      any    `json:"source"`
	Destination any    `json:"destination"`
}

// rideColumns are the columns rideFromRow reads.
var rideColumns = []string{"ride_id", "created_by", "timestamp", "source", "destination"}

// rideFromRow converts a DB API row (int64 numbers, string text).
func rideFromRow(row map[string]any) (ride, error) {
	var r ride
	var ok [5]bool
	r.ID, ok[0] = row["ride_id"].(int64)
	r.CreatedBy, ok[1] = row["created_by"].(string)
	r.Timestamp, ok[2] = row["timestamp"].(string)
	r.Source, ok[3] = row["source"].(int64)
	r.Destination, ok[4] = row["destination"].(int64)
	for i, good := range ok {
		if !good {
			return ride{}, fmt.Errorf("ride row %v: column %s is %T", row, rideColumns[i], row[rideColumns[i]])
		}
	}
	return r, nil
}

// parseRideID reads the {rideId} path segment; ok is false when it cannot
// name a ride (not a positive integer), which callers answer like a missing ride.
func parseRideID(s string) (id int64, ok bool) {
	id, err := strconv.ParseInt(s, 10, 64)
	return id, err == nil && id > 0
}
