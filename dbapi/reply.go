package dbapi

// Reply is what a worker sends back on responseQ for one read or write. Status
// is the HTTP status the orchestrator answers with; exactly one of Write, Read
// and Error is set.
type Reply struct {
	Status int          `json:"status"`
	Write  *WriteResult `json:"write,omitempty"`
	Read   *ReadResult  `json:"read,omitempty"`
	Error  string       `json:"error,omitempty"`
	Worker string       `json:"worker,omitempty"`
}
