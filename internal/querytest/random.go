package querytest

import (
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"

	"github.com/protoql/protoql/internal/testpb"
	"github.com/protoql/protoql/schema"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// RandomData builds rows of every table from small pools of keys, so
// that random queries hit, miss and straddle them.
func RandomData(r *rand.Rand) []proto.Message {
	pick := func(n int) bool { return r.IntN(n) == 0 }
	strs := []string{"", "a", "a\x00", "ab", "b", "s1", "s2", "zz", "é"}
	var out []proto.Message
	for _, id := range []string{"", "a", "a\x00", "alice", "b", "bob", "z"} {
		if pick(4) {
			continue
		}
		u := &testpb.User{UserId: id, Registered: r.Uint64N(3)}
		if pick(2) {
			u.LastSeenUs = r.Int64N(3)
		}
		if pick(2) {
			u.Password = &testpb.Password{Hash: []byte(strs[r.IntN(len(strs))])}
			if pick(2) {
				u.Password.ChangedUs = 7
			}
			for _, k := range strs {
				if pick(3) {
					if u.Password.History == nil {
						u.Password.History = map[string][]byte{}
					}
					u.Password.History[k] = []byte(k + "!")
				}
			}
		}
		for _, k := range strs {
			if pick(2) {
				if u.Sessions == nil {
					u.Sessions = map[string]*testpb.Session{}
				}
				s := &testpb.Session{ExpiresUs: r.Int64N(100), Device: strs[r.IntN(len(strs))]}
				if pick(2) {
					s.Geo = &testpb.Geo{Lat: float64(r.IntN(5))}
				}
				for _, a := range strs[:4] {
					if pick(3) {
						if s.Attrs == nil {
							s.Attrs = map[string]string{}
						}
						s.Attrs[a] = "v" + a
					}
				}
				u.Sessions[k] = s
			}
		}
		for _, k := range []string{"t1", "t2", "t3", "tx"} {
			if pick(2) {
				if u.Threads == nil {
					u.Threads = map[string]*testpb.ThreadRef{}
				}
				u.Threads[k] = &testpb.ThreadRef{LastReadUs: r.Int64N(3)}
			}
		}
		if pick(2) {
			u.Emails = []string{"e@x"}
		}
		if pick(2) {
			u.Counters = map[string]int64{"n": r.Int64N(3), "m": 1}
		}
		if pick(2) {
			u.Nickname = proto.String(strs[r.IntN(len(strs))])
		}
		if pick(2) {
			u.Settings = &testpb.Settings{FontSize: r.Int32N(3)}
		}
		if pick(3) {
			u.Contact = &testpb.User_Phone{Phone: "555"}
		}
		for _, k := range []int64{-5, 0, 1, 100, 1 << 40} {
			if pick(2) {
				if u.Scores == nil {
					u.Scores = map[int64]string{}
				}
				u.Scores[k] = fmt.Sprint(k)
			}
		}
		out = append(out, u)
	}
	for _, id := range []string{"t1", "t2", "t3"} {
		if pick(3) {
			continue
		}
		th := &testpb.Thread{ThreadId: id, Title: "title " + id, Body: strs[r.IntN(len(strs))]}
		for _, k := range []int64{-1, 0, 1, 5} {
			if pick(2) {
				if th.Messages == nil {
					th.Messages = map[int64]*testpb.Message{}
				}
				th.Messages[k] = &testpb.Message{Author: "a", Text: fmt.Sprint(k)}
			}
		}
		out = append(out, th)
	}
	for _, owner := range []string{"a", "bob"} {
		for f := range 3 {
			for _, rec := range []int64{-10, 0, 100, 200} {
				if !pick(3) {
					continue
				}
				in := &testpb.Inbox{Owner: owner, Folder: testpb.Folder(f), ReceivedUs: rec, Subject: fmt.Sprint(rec), Unread: pick(2)}
				for _, l := range []string{"", "w"} {
					if pick(2) {
						if in.Labels == nil {
							in.Labels = map[string]*testpb.Labels{}
						}
						lb := &testpb.Labels{}
						for _, id := range []uint32{0, 1, 7} {
							if pick(2) {
								if lb.ById == nil {
									lb.ById = map[uint32]*testpb.Label{}
								}
								lb.ById[id] = &testpb.Label{Name: fmt.Sprint(id), Color: id}
							}
						}
						in.Labels[l] = lb
					}
				}
				out = append(out, in)
			}
		}
	}
	if pick(2) {
		out = append(out, &testpb.Config{Motd: "m", Flags: map[string]bool{"a": true, "b": false}})
	}
	for _, metric := range []string{"cpu", "mem"} {
		for _, shard := range []uint32{0, 1, 4294967295} {
			if !pick(2) {
				continue
			}
			s := &testpb.Series{Metric: metric, Shard: shard, Offset: r.Int64N(3) - 1}
			if pick(2) {
				s.TagHash = []byte{byte(shard)}
			}
			for _, k := range []int64{-1, 0, 10, 20} {
				if pick(2) {
					if s.Points == nil {
						s.Points = map[int64]*testpb.Point{}
					}
					s.Points[k] = &testpb.Point{Value: float64(k), Count: uint64(r.IntN(3))}
				}
			}
			out = append(out, s)
		}
	}
	return out
}

// Gen writes random queries over the catalog, with literal keys from the
// pools the data uses plus a few absent ones.
type Gen struct {
	r   *rand.Rand
	cat *schema.Catalog
	// tables are the tables to query; nil: every table of cat.
	tables []*schema.Table
}

// randomQuery is a generated query: the root (table and keys), whether it
// has reverse: true, and the selection. Root arguments first: $first and
// after: $after are always present so that tests can page and resume.
type randomQuery struct {
	root, reverse, sel string
}

// NewGen returns a generator of random queries on cat's tables (none
// given: all of them), drawing from r.
func NewGen(r *rand.Rand, cat *schema.Catalog, tables ...*schema.Table) *Gen {
	return &Gen{r: r, cat: cat, tables: tables}
}

// Query returns the text of a random query.
func (g *Gen) Query() string { return g.query().text() }

func (q randomQuery) text() string {
	return q.root + "(first: $first, after: $after" + q.reverse + ") " + q.sel
}

func (g *Gen) query() randomQuery {
	tables := g.tables
	if tables == nil {
		tables = g.cat.Tables
	}
	t := tables[g.r.IntN(len(tables))]
	q := randomQuery{root: string(t.Desc.Name())}
	var keys []string
	n := g.r.IntN(len(t.Key) + 1)
	for i := range n {
		keys = append(keys, g.literal(t.Key[i].Field))
	}
	if n < len(t.Key) && g.r.IntN(2) == 0 {
		keys = append(keys, g.rangeExpr(t.Key[n].Field))
	}
	if len(keys) > 0 {
		q.root += "[" + strings.Join(keys, ", ") + "]"
	}
	if g.r.IntN(3) == 0 {
		q.reverse = ", reverse: true"
	}
	q.sel = g.selection(t.Root, 0)
	return q
}

func (g *Gen) literal(fd protoreflect.FieldDescriptor) string {
	switch fd.Kind() {
	case protoreflect.StringKind:
		pool := []string{"", "a", "a\x00", "ab", "alice", "b", "bob", "s1", "s2", "t1", "t2", "t3", "tx",
			"cpu", "mem", "w", "n", "m", "z", "zz", "é", "\xff"}
		return strconv.Quote(pool[g.r.IntN(len(pool))])
	case protoreflect.EnumKind:
		return []string{"0", "1", "2", `"FOLDER_ARCHIVE"`}[g.r.IntN(4)]
	case protoreflect.Uint32Kind:
		return []string{"0", "1", "2", "7", "4294967295"}[g.r.IntN(5)]
	}
	return []string{"-10", "-5", "-1", "0", "1", "5", "10", "20", "100", "200", "1099511627776"}[g.r.IntN(11)]
}

func (g *Gen) rangeExpr(fd protoreflect.FieldDescriptor) string {
	switch g.r.IntN(3) {
	case 0:
		return g.literal(fd) + ".."
	case 1:
		return ".." + g.literal(fd)
	}
	return g.literal(fd) + ".." + g.literal(fd)
}

// selection returns "" (the whole object) or "{ … }".
func (g *Gen) selection(n *schema.Node, depth int) string {
	if depth > 3 || g.r.IntN(4) == 0 {
		return ""
	}
	var parts []string
	for _, f := range n.Fields {
		if g.r.IntN(3) != 0 {
			continue
		}
		s := string(f.Name())
		switch f.Storage {
		case schema.Object:
			s += " " + g.selection(f.Child, depth+1)
		case schema.Map:
			if g.r.IntN(2) == 0 {
				if g.r.IntN(2) == 0 {
					s += "[" + g.literal(f.MapKey) + "]"
				} else {
					s += "[" + g.rangeExpr(f.MapKey) + "]"
				}
			}
			var args []string
			if g.r.IntN(3) == 0 {
				args = append(args, fmt.Sprintf("first: %d", 1+g.r.IntN(3)))
			}
			if g.r.IntN(3) == 0 {
				args = append(args, "reverse: true")
			}
			if len(args) > 0 {
				s += "(" + strings.Join(args, ", ") + ")"
			}
			if f.Child != nil {
				s += " " + g.selection(f.Child, depth+1)
			}
		case schema.Join:
			s += " " + g.selection(f.Join.Target.Root, depth+1)
		}
		parts = append(parts, s)
	}
	if len(parts) == 0 {
		return ""
	}
	return "{ " + strings.Join(parts, ", ") + " }"
}
