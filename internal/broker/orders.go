package broker

// Orders are messages in writeQ that are not writes: the orchestrator's
// instructions to whichever master takes them. They travel in writeQ so that
// the master meets them in order with the writes: every write before an
// order is committed before the master acts on it, every write after it waits
// in the queue for the master that follows.

// KindSwitchover marks a SwitchoverOrder (the AMQP type of the message).
const KindSwitchover = "switchover"

// SwitchoverOrder asks the master of Epoch to hand its lead to the worker
// To. A master of another epoch refuses it: the order was meant for a master
// that is gone.
type SwitchoverOrder struct {
	To    string `json:"to"`
	Epoch uint64 `json:"epoch"`
}

// SwitchoverDone is the master's answer to a SwitchoverOrder it carried
// out: From (itself) no longer leads; the lead of Epoch is over.
type SwitchoverDone struct {
	From  string `json:"from"`
	Epoch uint64 `json:"epoch"`
}
