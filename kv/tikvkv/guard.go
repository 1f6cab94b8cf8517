package tikvkv

import "sync/atomic"

// guard lets Close wait for the calls in flight and refuse new ones, so that
// no call reaches a KVStore that Close is tearing down. Entering never
// blocks: once Close has started, enter fails, so a call nested in another
// (a Get inside an Update's fn) cannot deadlock against a waiting Close.
type guard struct {
	state   atomic.Int64  // closedBit | number of calls in flight
	drained chan struct{} // closed when the last call leaves after close
}

const closedBit = 1 << 62

func newGuard() *guard { return &guard{drained: make(chan struct{})} }

// enter registers a call; it returns false once close has started.
func (g *guard) enter() bool {
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

// exit ends a call that enter let in.
func (g *guard) exit() {
	// After close the count only falls, so it reaches zero exactly once.
	if g.state.Add(-1) == closedBit {
		close(g.drained)
	}
}

// close refuses new calls and waits for those in flight. It returns false if
// the guard was already closed.
func (g *guard) close() bool {
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
