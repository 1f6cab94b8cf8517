package guard

import (
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
	select {
	case <-closed:
		t.Fatal("Close returned while a call was in flight")
	case <-time.After(20 * time.Millisecond):
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
