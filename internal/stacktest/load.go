package stacktest

import (
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/rideshare/dbaas/dbapi"
)

// Load keeps writers and readers busy on the stack and notes when each
// write was acknowledged, into a ledger of its own (so a fault's figures are
// its own): the stalls a fault causes are the gaps between acknowledged
// writes (MaxGap, FirstAckAfter). The fault suite (test/faults) and the
// cluster test (test/cluster) both drive it.
type Load struct {
	Ledger *Ledger

	done chan struct{}
	wg   sync.WaitGroup
	once sync.Once

	mu          sync.Mutex
	acks        []time.Time // when each acknowledged write's answer arrived
	failures    []time.Time // non-2xx (or no) answers to writes
	reads       int
	failedReads int
}

// The load: user writers, a ride writer (rides show a write applied twice
// as two rows) and readers, enough to see every gap on two cores without
// starving the stack.
const (
	userWriters = 3
	rideWriters = 1
	readers     = 2
)

// StartLoad starts the load on db (a Stack, or any DB that spreads the calls
// over several orchestrators); prefix keeps its keys apart from other loads'.
func StartLoad(s DB, prefix string) *Load {
	l := &Load{Ledger: NewLedger(), done: make(chan struct{})}
	for g := 0; g < userWriters; g++ {
		l.loop(func(i int) {
			l.noteWrite(l.Ledger.Insert(s, fmt.Sprintf("%s-u%d-%d", prefix, g, i)))
		})
	}
	for g := 0; g < rideWriters; g++ {
		l.loop(func(i int) {
			l.noteWrite(l.Ledger.InsertRide(s, fmt.Sprintf("%s-r%d-%d", prefix, g, i)))
		})
	}
	for g := 0; g < readers; g++ {
		l.loop(func(int) {
			_, code := s.Read(dbapi.ReadRequest{Table: "users", Limit: 10})
			l.mu.Lock()
			l.reads++
			if code/100 != 2 {
				l.failedReads++
			}
			l.mu.Unlock()
			if code/100 != 2 {
				time.Sleep(20 * time.Millisecond) // no busy loop on a dead API
			}
		})
	}
	return l
}

// loop runs op(0), op(1), … in a goroutine until Stop.
func (l *Load) loop(op func(i int)) {
	l.wg.Add(1)
	go func() {
		defer l.wg.Done()
		for i := 0; ; i++ {
			select {
			case <-l.done:
				return
			default:
			}
			op(i)
		}
	}()
}

func (l *Load) noteWrite(code int) {
	ok := code/100 == 2
	l.mu.Lock()
	if ok {
		l.acks = append(l.acks, time.Now()) // under the lock: in time order
	} else {
		l.failures = append(l.failures, time.Now())
	}
	l.mu.Unlock()
	if !ok {
		time.Sleep(20 * time.Millisecond) // no busy loop on a dead API
	}
}

// Stop stops the load and waits for every request in flight.
func (l *Load) Stop() {
	l.once.Do(func() { close(l.done); l.wg.Wait() })
}

// FirstAckAfter waits (up to timeout) for a write acknowledged after t and
// returns how long after t it came.
func (l *Load) FirstAckAfter(t time.Time, timeout time.Duration) (time.Duration, bool) {
	deadline := time.Now().Add(timeout)
	for {
		l.mu.Lock()
		i := sort.Search(len(l.acks), func(i int) bool { return l.acks[i].After(t) })
		var at time.Time
		if i < len(l.acks) {
			at = l.acks[i]
		}
		l.mu.Unlock()
		if !at.IsZero() {
			return at.Sub(t), true
		}
		if time.Now().After(deadline) {
			return 0, false
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// MaxGap is the longest time without an acknowledged write between from
// and to: the gaps between consecutive acks, and from `from` to the first
// ack after it.
func (l *Load) MaxGap(from, to time.Time) time.Duration {
	_, gap := l.LongestGap(from, to)
	return gap
}

// LongestGap is MaxGap with the time the gap began (from, or the ack
// before it), to look for its cause in the logs.
func (l *Load) LongestGap(from, to time.Time) (time.Time, time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	prev, start, gap := from, from, time.Duration(0)
	for _, a := range l.acks {
		if a.Before(from) || a.After(to) {
			continue
		}
		if d := a.Sub(prev); d > gap {
			start, gap = prev, d
		}
		prev = a
	}
	if d := to.Sub(prev); d > gap {
		start, gap = prev, d
	}
	return start, gap
}

// Failures counts the writes answered non-2xx (or not at all) after from.
func (l *Load) Failures(from time.Time) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, f := range l.failures {
		if !f.Before(from) {
			n++
		}
	}
	return n
}

// Reads is how many reads were made and how many failed.
func (l *Load) Reads() (n, failed int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.reads, l.failedReads
}
