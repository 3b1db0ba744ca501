package broker

// KindReadTally marks a ReadTally notice (RPC.Tell).
const KindReadTally = "read-tally"

// ReadTally is how many db/read calls orchestrator From took since its
// last tally. Orchestrators that stand by send theirs to the reply queue of
// the one that supervises, whose scaler counts them with its own reads: the
// slaves follow the reads of every orchestrator behind the load balancer,
// not only the supervisor's share.
type ReadTally struct {
	From  string `json:"from"`
	Reads int    `json:"reads"`
}
