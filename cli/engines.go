package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"

	"github.com/protoql/protoql/kv"
	"github.com/protoql/protoql/kv/memkv"
	"github.com/protoql/protoql/kv/pebblekv"
)

// Opener opens the store that a --db value names. url is the whole value,
// scheme included (such as "tikv://pd0:2379,pd1:2379/prefix").
type Opener func(ctx context.Context, url string) (kv.Store, error)

var engines = struct {
	sync.Mutex
	m map[string]Opener
}{m: map[string]Opener{
	"mem": func(context.Context, string) (kv.Store, error) { return memkv.New(), nil },
}}

// RegisterEngine makes `--db SCHEME:…` open stores with open. A --db value
// without a registered scheme is a Pebble directory. "mem" is registered
// from the start: `--db mem:` is an empty in-memory store, gone at exit
// (useful with serve, for tests). RegisterEngine panics when the scheme is
// taken or empty.
func RegisterEngine(scheme string, open Opener) {
	engines.Lock()
	defer engines.Unlock()
	if scheme == "" || engines.m[scheme] != nil {
		panic(fmt.Sprintf("cli: engine scheme %q is empty or already registered", scheme))
	}
	engines.m[scheme] = open
}

// Engines returns the registered schemes, sorted.
func Engines() []string {
	engines.Lock()
	defer engines.Unlock()
	var s []string
	for k := range engines.m {
		s = append(s, k)
	}
	slices.Sort(s)
	return s
}

// openStore opens what a --db value names. Only serve (create true) makes
// a new Pebble directory: every other command refuses a missing one, so a
// typo is an error rather than a new, empty database. A URL whose scheme no
// engine registered is refused rather than taken for a directory name.
func openStore(ctx context.Context, db string, create bool) (kv.Store, error) {
	if scheme, _, ok := strings.Cut(db, ":"); ok {
		engines.Lock()
		open := engines.m[scheme]
		engines.Unlock()
		if open != nil {
			return open(ctx, db)
		}
		if strings.Contains(db, "://") {
			return nil, usagef("--db %s: no engine for scheme %q in this binary (registered: %s)", db, scheme, strings.Join(Engines(), ", "))
		}
	}
	if !create {
		if _, err := os.Stat(db); err != nil {
			return nil, usagef("--db %s: no database there (protoql serve --db creates one): %v", db, err)
		}
	}
	s, err := pebblekv.Open(db)
	if errors.Is(err, pebblekv.ErrLocked) {
		return nil, fmt.Errorf("--db %s: %w\n(is `protoql serve --db %s` or your service running? query the live database through it: --remote ADDR)", db, err, db)
	}
	if err != nil {
		return nil, err
	}
	return s, nil
}
