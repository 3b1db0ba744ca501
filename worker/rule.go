package worker

import "github.com/rideshare/dbaas/replog"

// position is where a replica stands in the log: the epoch it has read and
// the seq it has applied. Its read method is the apply rule of replog.Entry,
// the one every replica runs in log order (invariants 2 and 3); the
// follower applies the log by it, and settle asks it whether a master's
// unsure batch counts.
type position struct {
	epoch, seq uint64
}

// verdict is what the rule does with one entry.
type verdict int

const (
	skip   verdict = iota // not a write of the current epoch at the next seq (or not a write)
	apply                 // the next write: the replica applies it
	raise                 // an epoch entry above the replica's: every later older-epoch write is fenced
	fenced                // a write of an older epoch than one already read: a deposed master's
)

// read applies the rule to e and moves the position.
func (p *position) read(e replog.Entry) verdict {
	switch {
	case e.Kind == replog.EntryWrite && e.Write != nil && e.Epoch == p.epoch && e.Seq == p.seq+1:
		p.seq = e.Seq
		return apply
	case e.Kind == replog.EntryEpoch && e.Epoch > p.epoch:
		p.epoch = e.Epoch
		return raise
	case e.Kind == replog.EntryWrite && e.Epoch < p.epoch:
		return fenced
	}
	return skip
}
