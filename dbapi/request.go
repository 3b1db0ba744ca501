package dbapi

// Write operations accepted by POST /api/v1/db/write. OpClear is what
// POST /api/v1/db/clear becomes on the wire: it empties every table.
const (
	OpInsert = "insert"
	OpUpdate = "update"
	OpDelete = "delete"
	OpClear  = "clear"
)

// WriteRequest is the body of POST /api/v1/db/write. After Validate, every
// value has its column's Go type: int64 for integer columns, string for text.
type WriteRequest struct {
	Table  string         `json:"table"`
	Op     string         `json:"op"`
	Values map[string]any `json:"values,omitempty"`
	Where  map[string]any `json:"where,omitempty"`
}

// WriteResult answers a write. ID is set when the master generated one.
type WriteResult struct {
	Seq          uint64 `json:"seq"`
	RowsAffected int64  `json:"rows_affected"`
	ID           *int64 `json:"id,omitempty"`
}

// ReadRequest is the body of POST /api/v1/db/read. OrderBy is "column" or
// "column asc|desc". MinSeq asks for read-your-writes: the replica answers only
// once it has applied that seq.
type ReadRequest struct {
	Table   string         `json:"table"`
	Columns []string       `json:"columns,omitempty"`
	Where   map[string]any `json:"where,omitempty"`
	OrderBy string         `json:"order_by,omitempty"`
	Limit   int            `json:"limit,omitempty"`
	MinSeq  uint64         `json:"min_seq,omitempty"`
}

// ReadResult answers a read: the rows, the seq the replica had applied when it
// read them, and which worker answered.
type ReadResult struct {
	Rows   []map[string]any `json:"rows"`
	Seq    uint64           `json:"seq"`
	Worker string           `json:"worker,omitempty"`
}

// ErrorBody is every error answer of every HTTP API in the project.
type ErrorBody struct {
	Error string `json:"error"`
}
