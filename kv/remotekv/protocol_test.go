package remotekv_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/test/bufconn"

	"github.com/protoql/protoql/kv"
	"github.com/protoql/protoql/kv/memkv"
	"github.com/protoql/protoql/kv/remotekv"
	protoqlv1 "github.com/protoql/protoql/proto/protoql/v1"
)

// pageTamper rewrites the iterator pages a client receives, as a server
// that breaks the protocol would send them: edit gets the number of the
// page in the session (0: the first) and may change it.
type pageTamper struct {
	mu   sync.Mutex
	edit func(n int, p *protoqlv1.TransactResponse_Page)
	n    int
}

func (pt *pageTamper) interceptor(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, streamer grpc.Streamer, opts ...grpc.CallOption) (grpc.ClientStream, error) {
	cs, err := streamer(ctx, desc, cc, method, opts...)
	if err != nil {
		return nil, err
	}
	return tamperedStream{cs, pt}, nil
}

type tamperedStream struct {
	grpc.ClientStream
	pt *pageTamper
}

func (s tamperedStream) RecvMsg(m any) error {
	if err := s.ClientStream.RecvMsg(m); err != nil {
		return err
	}
	if resp, ok := m.(*protoqlv1.TransactResponse); ok {
		if p := resp.GetPage(); p != nil {
			s.pt.mu.Lock()
			n := s.pt.n
			s.pt.n++
			edit := s.pt.edit
			s.pt.mu.Unlock()
			if edit != nil {
				edit(n, p)
			}
		}
	}
	return nil
}

// tamperedStore serves a memkv store holding keys k00..k49 (value: the key)
// through a client whose received pages pt rewrites.
func tamperedStore(t *testing.T, pt *pageTamper) *remotekv.Store {
	t.Helper()
	backend := memkv.New()
	b := new(kv.Batch)
	for i := range 50 {
		k := fmt.Appendf(nil, "k%02d", i)
		b.Set(k, k)
	}
	if err := backend.Apply(context.Background(), b); err != nil {
		t.Fatal(err)
	}
	lis := bufconn.Listen(1 << 20)
	serve(t, backend, lis)
	s, err := remotekv.Dial("passthrough:///bufconn", remotekv.WithDialOptions(
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return lis.DialContext(ctx) }),
		grpc.WithStreamInterceptor(pt.interceptor),
	))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// TestIteratorRefusesBadPages: a page whose keys are empty, outside the
// iterator's bounds, out of its order, not past the previous page, or not
// where the seek asked fails the iterator with an error wrapping
// remotekv.ErrProtocol that names the key and what was wanted, before any
// pair of it is handed out, and fails the Update, which commits nothing.
// The pages are rewritten on the client's side of the stream, as a server
// breaking the protocol would send them; an untampered run of each case
// reads the same pairs the case expects before the bad page.
func TestIteratorRefusesBadPages(t *testing.T) {
	key := func(i int) []byte { return fmt.Appendf(nil, "k%02d", i) }
	setKey := func(pair int, k string) func(int, *protoqlv1.TransactResponse_Page) {
		return func(_ int, p *protoqlv1.TransactResponse_Page) { p.Pairs[pair].Key = []byte(k) }
	}
	onPage := func(page int, edit func(int, *protoqlv1.TransactResponse_Page)) func(int, *protoqlv1.TransactResponse_Page) {
		return func(n int, p *protoqlv1.TransactResponse_Page) {
			if n == page {
				edit(n, p)
			}
		}
	}
	type seekFn func(kv.Iterator) bool
	first := func(it kv.Iterator) bool { return it.First() }
	seekGE := func(k string) seekFn { return func(it kv.Iterator) bool { return it.SeekGE([]byte(k)) } }
	seekLT := func(k string) seekFn { return func(it kv.Iterator) bool { return it.SeekLT([]byte(k)) } }
	cases := []struct {
		name string
		opts kv.IterOptions
		seek seekFn
		edit func(int, *protoqlv1.TransactResponse_Page)
		good int    // pairs read before the bad page
		want string // in the error
	}{
		{"empty key", kv.IterOptions{}, first, onPage(0, setKey(3, "")), 0, "want a non-empty key"},
		{"below the lower bound", kv.IterOptions{LowerBound: key(10), UpperBound: key(40)}, first,
			onPage(0, setKey(0, "k09")), 0, "want a key at or after the lower bound"},
		{"at the upper bound", kv.IterOptions{LowerBound: key(10), UpperBound: key(40)}, first,
			onPage(1, setKey(5, "k40")), 16, "want a key before the upper bound"},
		{"out of order in a page", kv.IterOptions{}, first,
			onPage(0, func(_ int, p *protoqlv1.TransactResponse_Page) { p.Pairs[4], p.Pairs[5] = p.Pairs[5], p.Pairs[4] }),
			0, "want a key after the pair before it"},
		{"a repeated key", kv.IterOptions{}, first, onPage(0, setKey(7, "k06")), 0, "want a key after the pair before it"},
		{"the next page not past the last", kv.IterOptions{}, first,
			onPage(1, setKey(0, "k15")), 16, "want a key after the previous page's last key"},
		{"SeekGE before its key", kv.IterOptions{}, seekGE("k20"), onPage(0, setKey(0, "k19")), 0,
			"want a key at or after the seek key"},
		{"reverse: SeekLT at its key", kv.IterOptions{Reverse: true}, seekLT("k30"), onPage(0, setKey(0, "k30")), 0,
			"want a key before the seek key"},
		{"reverse: ascending in a page", kv.IterOptions{Reverse: true}, first, onPage(0, setKey(2, "k48")), 0,
			"want a key before the pair before it"},
		{"reverse: the next page not past the last", kv.IterOptions{Reverse: true}, first,
			onPage(1, setKey(0, "k40")), 16, "want a key before the previous page's last key"},
		{"reverse: below the lower bound", kv.IterOptions{LowerBound: key(10), Reverse: true}, first,
			onPage(1, setKey(3, "k05")), 16, "want a key at or after the lower bound"},
	}
	read := func(s *remotekv.Store, c int) (keys [][]byte, iterErr, updateErr error) {
		updateErr = s.Update(context.Background(), func(txn kv.Txn) error {
			if err := txn.Set([]byte("written"), []byte("x")); err != nil {
				return err
			}
			// The iterator's range leaves the Update's own write out.
			opts := cases[c].opts
			if opts.LowerBound == nil {
				opts.LowerBound = []byte("k")
			}
			if opts.UpperBound == nil {
				opts.UpperBound = []byte("l")
			}
			it, err := txn.NewIter(context.Background(), opts)
			if err != nil {
				return err
			}
			for ok := cases[c].seek(it); ok; ok = it.Next() {
				keys = append(keys, bytes.Clone(it.Key()))
			}
			iterErr = it.Error()
			_ = it.Close()
			return iterErr
		})
		return keys, iterErr, updateErr
	}
	for c, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			// The same reads through an honest stream: no error, and
			// the pairs the case expects before its bad page.
			honest, _, err := read(tamperedStore(t, &pageTamper{}), c)
			if err != nil || len(honest) <= tc.good {
				t.Fatalf("untampered: %d keys, %v; want more than %d and no error", len(honest), err, tc.good)
			}
			pt := &pageTamper{edit: tc.edit}
			s := tamperedStore(t, pt)
			keys, iterErr, updateErr := read(s, c)
			if !errors.Is(iterErr, remotekv.ErrProtocol) || !strings.Contains(iterErr.Error(), tc.want) {
				t.Fatalf("iterator error %v; want one wrapping remotekv.ErrProtocol with %q", iterErr, tc.want)
			}
			if !errors.Is(updateErr, remotekv.ErrProtocol) {
				t.Errorf("Update: %v; want the protocol error", updateErr)
			}
			if len(keys) != tc.good || !equalKeys(keys, honest[:tc.good]) {
				t.Errorf("read %q before the error; want %q", keys, honest[:tc.good])
			}
			// Nothing of the failed Update was committed.
			pt.mu.Lock()
			pt.edit = nil
			pt.mu.Unlock()
			err = s.View(context.Background(), func(r kv.Reader) error {
				_, err := r.Get(context.Background(), []byte("written"))
				return err
			})
			if !errors.Is(err, kv.ErrNotFound) {
				t.Errorf("Get of the failed Update's write: %v; want kv.ErrNotFound", err)
			}
		})
	}
}

func equalKeys(a, b [][]byte) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !bytes.Equal(a[i], b[i]) {
			return false
		}
	}
	return true
}

// TestIteratorRefusesPairsBeforeEmptySeekLT: no key is before the empty
// key, so a SeekLT of a nil or empty key must answer an empty page; a page
// with a pair in it fails the iterator with remotekv.ErrProtocol (a nil
// seek key once took any key, unchecked).
func TestIteratorRefusesPairsBeforeEmptySeekLT(t *testing.T) {
	for _, key := range [][]byte{nil, {}} {
		t.Run(fmt.Sprintf("%q nil=%v", key, key == nil), func(t *testing.T) {
			for _, tamper := range []bool{false, true} {
				pt := &pageTamper{}
				if tamper {
					pt.edit = func(_ int, p *protoqlv1.TransactResponse_Page) {
						p.Pairs = append(p.Pairs, &protoqlv1.KeyValue{Key: []byte("k05"), Value: []byte("k05")})
						p.Exhausted = true
					}
				}
				s := tamperedStore(t, pt)
				var got [][]byte
				err := s.View(context.Background(), func(r kv.Reader) error {
					it, err := r.NewIter(context.Background(), kv.IterOptions{Reverse: true})
					if err != nil {
						return err
					}
					defer it.Close()
					for ok := it.SeekLT(key); ok; ok = it.Next() {
						got = append(got, bytes.Clone(it.Key()))
					}
					return it.Error()
				})
				switch {
				case !tamper && (err != nil || len(got) != 0):
					t.Fatalf("untampered: %q, %v; want no keys and no error", got, err)
				case tamper && (!errors.Is(err, remotekv.ErrProtocol) || !strings.Contains(err.Error(), "want a key before the empty seek key") || len(got) != 0):
					t.Fatalf("tampered: %q, %v; want no keys and an error wrapping remotekv.ErrProtocol", got, err)
				}
			}
		})
	}
}
