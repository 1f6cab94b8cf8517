package guard

import (
	"runtime"
	"testing"
	"time"
)

func TestCloseWaitsForCallsInFlight(t *testing.T) {
	g := New()
	if !g.Enter() {
		t.Fatal("Enter on an open guard failed")
	}
	closed := make(chan bool)
	go func() { closed <- g.Close() }()
	// Wait until Close has started (a condition, polled with a deadline;
	// a fixed wait would be too short on a loaded machine).
	deadline := time.Now().Add(time.Minute)
	for !g.Closed() {
		if time.Now().After(deadline) {
			t.Fatal("Close never started")
		}
		runtime.Gosched()
	}
	select {
	case <-closed:
		t.Fatal("Close returned while a call was in flight")
	default:
	}
	if g.Enter() {
		t.Error("Enter succeeded after Close started")
	}
	g.Exit()
	if !<-closed {
		t.Error("first Close returned false")
	}
	if g.Close() {
		t.Error("second Close returned true")
	}
	if !g.Closed() {
		t.Error("Closed() = false after Close")
	}
}
