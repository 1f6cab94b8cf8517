// Package guard lets an engine's Close wait for the calls in flight and
// refuse new ones, so that no call reaches a backend Close is tearing down.
// Entering never blocks: once Close has started, Enter fails, so a call
// nested in another (a Get inside an Update's fn) cannot deadlock against a
// waiting Close. It is shared by the engines under kv/.
package guard

import "sync/atomic"

// Guard counts calls in flight. Make one with New; it is safe for
// concurrent use.
type Guard struct {
	state   atomic.Int64  // closedBit | number of calls in flight
	drained chan struct{} // closed when the last call leaves after Close
}

const closedBit = 1 << 62

// New returns an open guard.
func New() *Guard { return &Guard{drained: make(chan struct{})} }

// Enter registers a call; it returns false once Close has started.
func (g *Guard) Enter() bool {
	for {
		s := g.state.Load()
		if s&closedBit != 0 {
			return false
		}
		if g.state.CompareAndSwap(s, s+1) {
			return true
		}
	}
}

// Exit ends a call that Enter let in.
func (g *Guard) Exit() {
	// After Close the count only falls, so it reaches zero exactly once.
	if g.state.Add(-1) == closedBit {
		close(g.drained)
	}
}

// Close refuses new calls and waits for those in flight. It returns false
// if the guard was already closed.
func (g *Guard) Close() bool {
	for {
		s := g.state.Load()
		if s&closedBit != 0 {
			return false
		}
		if g.state.CompareAndSwap(s, s|closedBit) {
			if s != 0 {
				<-g.drained
			}
			return true
		}
	}
}

// Closed reports whether Close has started.
func (g *Guard) Closed() bool { return g.state.Load()&closedBit != 0 }
