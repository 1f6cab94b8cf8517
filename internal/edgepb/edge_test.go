package edgepb_test

// TestWritePaths drives every write path — Put of a row, an object and a map
// entry, inline setters (UpdateInline), blind breakout and map-entry
// setters, scalar-map Set — with extensions, unknown fields, invalid UTF-8
// and over-large keys and values, on proto2, editions and proto3 schemas
// (docs/edge-cases.md). A write either succeeds and reads back exactly, on
// linked Go types and on dynamicpb alike, or fails with a clean error and
// writes nothing; after every case every table still reads through Get,
// Scan and queries.

import (
	"errors"
	"testing"

	"github.com/protoql/protoql/internal/edgepb"
	"github.com/protoql/protoql/internal/testpb"
	"github.com/protoql/protoql/runtime"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

func TestWritePaths(t *testing.T) {
	t.Parallel()
	type tc struct {
		name  string
		write func(e *env) error
		want  outcome
		// read returns what the write must read back as, and what was
		// written (stored cases only).
		read func(e *env) (got, want proto.Message, err error)
	}
	putLegacy := func(m *edgepb.Legacy) (func(*env) error, func(*env) (proto.Message, proto.Message, error)) {
		return func(e *env) error { return e.legacy.Put(e.ctx, m) },
			func(e *env) (proto.Message, proto.Message, error) {
				got, err := e.legacy.Get(e.ctx, m.GetId())
				return got, m, err
			}
	}
	putDoc := func(m *edgepb.Doc) (func(*env) error, func(*env) (proto.Message, proto.Message, error)) {
		return func(e *env) error { return e.doc.Put(e.ctx, m) },
			func(e *env) (proto.Message, proto.Message, error) {
				got, err := e.doc.Get(e.ctx, m.GetId())
				return got, m, err
			}
	}
	putUser := func(m *testpb.User) (func(*env) error, func(*env) (proto.Message, proto.Message, error)) {
		return func(e *env) error { return e.users.Put(e.ctx, m) },
			func(e *env) (proto.Message, proto.Message, error) {
				got, err := e.users.Get(e.ctx, m.GetUserId())
				return got, m, err
			}
	}
	row := func(w func(*env) error, r func(*env) (proto.Message, proto.Message, error), want outcome, name string) tc {
		return tc{name: name, write: w, read: r, want: want}
	}
	put := func(name string, want outcome, m proto.Message) tc {
		switch m := m.(type) {
		case *edgepb.Legacy:
			w, r := putLegacy(m)
			return row(w, r, want, name)
		case *edgepb.Doc:
			w, r := putDoc(m)
			return row(w, r, want, name)
		case *testpb.User:
			w, r := putUser(m)
			return row(w, r, want, name)
		}
		panic("put: unexpected type")
	}
	// entry reads back a map entry or object: got is read by get, want is v.
	entry := func(name string, want outcome, write func(e *env) error, get func(e *env) (proto.Message, error), v proto.Message) tc {
		return tc{name: name, want: want, write: write, read: func(e *env) (proto.Message, proto.Message, error) {
			got, err := get(e)
			return got, v, err
		}}
	}
	blind := func(name string, want outcome, write func(e *env) error) tc {
		return tc{name: name, want: want, write: write}
	}

	item := func(label string) *edgepb.Item { return &edgepb.Item{Label: proto.String(label)} }
	legacyExt := ext(ext(ext(ext(&edgepb.Legacy{Id: proto.String("x"), Name: proto.String("n"), Nick: proto.String("k"),
		Items: map[string]*edgepb.Item{"i": ext(item("l"), edgepb.E_ItemNote, "note")}},
		edgepb.E_ExtInt32, int32(-70)), edgepb.E_ExtText, "t"), edgepb.E_ExtItem, ext(item("inner"), edgepb.E_ItemNote, "n2")),
		edgepb.E_ExtList, []int64{1, -2})
	docExt := ext(ext(ext(&edgepb.Doc{Id: proto.String("d"), Title: proto.String("t"), Note: proto.String("n"), Cover: &edgepb.Part{Text: proto.String("c")}},
		edgepb.E_DocInt32, int32(7)), edgepb.E_DocText, "é"), edgepb.E_DocPart, ext(&edgepb.Part{Text: proto.String("p")}, edgepb.E_PartNote, "pn"))
	itemWithNote := ext(item("l"), edgepb.E_ItemNote, "note")
	partWithNote := ext(&edgepb.Part{Text: proto.String("x")}, edgepb.E_PartNote, "pn")
	user := func() *testpb.User { return &testpb.User{UserId: "u", Registered: 1} }

	cases := []tc{
		// Extensions: kept, on rows, objects and map values, proto2 and editions.
		put("extensions/Put row (proto2)", stored, legacyExt),
		put("extensions/Put row (editions)", stored, docExt),
		entry("extensions/map-entry Put (proto2)", stored,
			func(e *env) error { return e.legacy.Row("x").Items().Put(e.ctx, "i", itemWithNote) },
			func(e *env) (proto.Message, error) { return e.legacy.Row("x").Items().Get(e.ctx, "i") }, itemWithNote),
		entry("extensions/object Put (proto2)", stored,
			func(e *env) error { return e.legacy.Row("x").Main().Put(e.ctx, itemWithNote) },
			func(e *env) (proto.Message, error) { return e.legacy.Row("x").Main().Get(e.ctx) }, itemWithNote),
		entry("extensions/map-entry Put (editions)", stored,
			func(e *env) error { return e.doc.Row("d").Parts().Put(e.ctx, "p", partWithNote) },
			func(e *env) (proto.Message, error) { return e.doc.Row("d").Parts().Get(e.ctx, "p") }, partWithNote),
		entry("extensions/object Put (editions)", stored,
			func(e *env) error { return e.doc.Row("d").Cover().Put(e.ctx, partWithNote) },
			func(e *env) (proto.Message, error) { return e.doc.Row("d").Cover().Get(e.ctx) }, partWithNote),
		entry("extensions/UpdateInline row", stored,
			func(e *env) error {
				return e.legacy.UpdateInline(e.ctx, "x", func(m *edgepb.Legacy) error {
					proto.SetExtension(m, edgepb.E_ExtInt32, int32(5))
					return nil
				})
			},
			func(e *env) (proto.Message, error) { return e.legacy.Get(e.ctx, "x") },
			ext(&edgepb.Legacy{Id: proto.String("x")}, edgepb.E_ExtInt32, int32(5))),
		entry("extensions/UpdateInline entry", stored,
			func(e *env) error {
				return e.doc.Row("d").Parts().Entry("p").UpdateInline(e.ctx, func(m *edgepb.Part) error {
					proto.SetExtension(m, edgepb.E_PartNote, "pn")
					return nil
				})
			},
			func(e *env) (proto.Message, error) { return e.doc.Row("d").Parts().Get(e.ctx, "p") },
			ext(&edgepb.Part{}, edgepb.E_PartNote, "pn")),
		// protobuf-go validates no extension's strings, in either direction,
		// so neither does the write path.
		put("extensions/invalid UTF-8 in an editions extension", stored, ext(&edgepb.Doc{Id: proto.String("d")}, edgepb.E_DocText, bad)),
		put("extensions/invalid UTF-8 in a proto2 extension", stored, ext(&edgepb.Legacy{Id: proto.String("x")}, edgepb.E_ExtText, bad)),
		put("extensions/malformed unknown fields inside an extension", refused,
			ext(&edgepb.Doc{Id: proto.String("d")}, edgepb.E_DocPart, unknown(&edgepb.Part{}, malformed))),

		// Unknown fields: kept when their number is free, refused when the
		// read path would reject or misread them.
		put("unknown/Put row, free number", stored, unknown(user(), varintField(50, 9))),
		put("unknown/Put row, number in an extension range", stored, unknown(&edgepb.Legacy{Id: proto.String("x")}, varintField(150, 9))),
		put("unknown/Put row, number of a breakout field", refused, unknown(user(), varintField(3, 9))),
		put("unknown/Put row, number of an inline field, wrong wire type", refused, unknown(user(), bytesField(2, "x"))),
		put("unknown/Put row, number of an inline field, right wire type", refused, unknown(user(), varintField(2, 9))),
		put("unknown/Put row, number of a key column", refused, unknown(user(), bytesField(1, "v"))),
		put("unknown/Put row, number of a map field", refused, unknown(user(), bytesField(5, ""))),
		put("unknown/Put row, malformed", refused, unknown(user(), malformed)),
		put("unknown/Put row, malformed inside an inline message", refused,
			&testpb.User{UserId: "u", Profile: unknown(&testpb.Profile{Bio: "b"}, malformed)}),
		put("unknown/Put row, malformed inside a breakout message", refused,
			&testpb.User{UserId: "u", Settings: unknown(&testpb.Settings{Dark: true}, malformed)}),
		put("unknown/Put row, malformed inside a map value", refused,
			&testpb.User{UserId: "u", Sessions: map[string]*testpb.Session{"s": unknown(&testpb.Session{}, malformed)}}),
		put("unknown/Put row, free number inside a map value", stored,
			&testpb.User{UserId: "u", Sessions: map[string]*testpb.Session{"s": unknown(&testpb.Session{Device: "d"}, varintField(40, 1))}}),
		entry("unknown/map-entry Put, free number", stored,
			func(e *env) error {
				return e.users.Row("u").Sessions().Put(e.ctx, "s", unknown(&testpb.Session{Device: "d"}, varintField(40, 1)))
			},
			func(e *env) (proto.Message, error) { return e.users.Row("u").Sessions().Get(e.ctx, "s") },
			unknown(&testpb.Session{Device: "d"}, varintField(40, 1))),
		blind("unknown/map-entry Put, number of a map field", refused, func(e *env) error {
			return e.users.Row("u").Sessions().Put(e.ctx, "s", unknown(&testpb.Session{}, bytesField(3, "")))
		}),
		blind("unknown/object Put, number of a breakout field", refused, func(e *env) error {
			return e.users.Row("u").Password().Put(e.ctx, unknown(&testpb.Password{}, varintField(2, 1)))
		}),
		blind("unknown/UpdateInline, number of a breakout field", refused, func(e *env) error {
			return e.users.UpdateInline(e.ctx, "u", func(m *testpb.User) error {
				m.ProtoReflect().SetUnknown(varintField(3, 1))
				return nil
			})
		}),
		entry("unknown/UpdateInline, free number", stored,
			func(e *env) error {
				return e.users.UpdateInline(e.ctx, "u", func(m *testpb.User) error {
					m.ProtoReflect().SetUnknown(varintField(60, 1))
					return nil
				})
			},
			func(e *env) (proto.Message, error) { return e.users.Get(e.ctx, "u") },
			unknown(&testpb.User{UserId: "u"}, varintField(60, 1))),

		// Invalid UTF-8 where protobuf requires UTF-8 (proto3; editions
		// with the default utf8_validation): refused on every path.
		put("utf8/Put row, key column (proto3)", refused, &testpb.User{UserId: bad}),
		put("utf8/Put row, inline string (proto3)", refused, &testpb.User{UserId: "u", Contact: &testpb.User_Phone{Phone: bad}}),
		put("utf8/Put row, breakout string (proto3)", refused, &testpb.User{UserId: "u", Nickname: proto.String(bad)}),
		put("utf8/Put row, map key (proto3)", refused, &testpb.User{UserId: "u", Counters: map[string]int64{bad: 1}}),
		put("utf8/Put row, message map key (proto3)", refused, &testpb.User{UserId: "u", Sessions: map[string]*testpb.Session{bad: {}}}),
		put("utf8/Put row, string map value (proto3)", refused,
			&testpb.User{UserId: "u", Sessions: map[string]*testpb.Session{"s": {Attrs: map[string]string{"a": bad}}}}),
		put("utf8/Put row, nested map key (proto3)", refused,
			&testpb.User{UserId: "u", Sessions: map[string]*testpb.Session{"s": {Attrs: map[string]string{bad: "a"}}}}),
		put("utf8/Put row, int map to string value (proto3)", refused, &testpb.User{UserId: "u", Scores: map[int64]string{1: bad}}),
		blind("utf8/map-entry Put, key (proto3)", refused, func(e *env) error {
			return e.users.Row("u").Sessions().Put(e.ctx, bad, &testpb.Session{})
		}),
		blind("utf8/map-entry Put, value (proto3)", refused, func(e *env) error {
			return e.users.Row("u").Sessions().Put(e.ctx, "s", &testpb.Session{Device: bad})
		}),
		blind("utf8/object Put, row key (proto3)", refused, func(e *env) error {
			return e.users.Row(bad).Password().Put(e.ctx, &testpb.Password{})
		}),
		blind("utf8/inline setter (proto3)", refused, func(e *env) error { return e.users.Row("u").Phone().Set(e.ctx, bad) }),
		blind("utf8/inline setter, row key (proto3)", refused, func(e *env) error { return e.users.Row(bad).Phone().Set(e.ctx, "p") }),
		blind("utf8/entry inline setter, entry key (proto3)", refused, func(e *env) error {
			return e.users.Row("u").Sessions().Entry(bad).ExpiresUs().Set(e.ctx, 1)
		}),
		blind("utf8/breakout setter (proto3)", refused, func(e *env) error { return e.users.Row("u").Nickname().Set(e.ctx, bad) }),
		blind("utf8/breakout setter, row key (proto3)", refused, func(e *env) error { return e.users.Row(bad).LastSeenUs().Set(e.ctx, 1) }),
		blind("utf8/scalar-map Set, key (proto3)", refused, func(e *env) error { return e.users.Row("u").Counters().Set(e.ctx, bad, 1) }),
		blind("utf8/scalar-map Set, value (proto3)", refused, func(e *env) error { return e.users.Row("u").Scores().Set(e.ctx, 1, bad) }),
		blind("utf8/blind nested entry Set, key (proto3)", refused, func(e *env) error {
			return e.users.Row("u").Sessions().Entry("s").Attrs().Set(e.ctx, bad, "v")
		}),
		blind("utf8/blind nested entry Set, value (proto3)", refused, func(e *env) error {
			return e.users.Row("u").Sessions().Entry("s").Attrs().Set(e.ctx, "k", bad)
		}),
		blind("utf8/blind nested entry Set, outer key (proto3)", refused, func(e *env) error {
			return e.users.Row("u").Sessions().Entry(bad).Attrs().Set(e.ctx, "k", "v")
		}),
		blind("utf8/blind entry in object, key (proto3)", refused, func(e *env) error {
			return e.users.Row("u").Password().History().Set(e.ctx, bad, []byte("h"))
		}),
		blind("utf8/SetValue on a breakout (proto3)", refused, func(e *env) error {
			ref, err := e.users.Row("u").Ref()
			if err != nil {
				return err
			}
			if ref, err = ref.FieldByName("nickname"); err != nil {
				return err
			}
			return e.social.SetValue(e.ctx, ref, protoreflect.ValueOfString(bad))
		}),
		put("utf8/Put row, key column (editions)", refused, &edgepb.Doc{Id: proto.String(bad)}),
		put("utf8/Put row, inline string (editions)", refused, &edgepb.Doc{Id: proto.String("d"), Title: proto.String(bad)}),
		put("utf8/Put row, breakout string (editions)", refused, &edgepb.Doc{Id: proto.String("d"), Note: proto.String(bad)}),
		put("utf8/Put row, map key (editions)", refused, &edgepb.Doc{Id: proto.String("d"), Labels: map[string]string{bad: "v"}}),
		put("utf8/Put row, map value (editions)", refused, &edgepb.Doc{Id: proto.String("d"), Labels: map[string]string{"k": bad}}),
		blind("utf8/scalar-map Set, value (editions)", refused, func(e *env) error { return e.doc.Row("d").Labels().Set(e.ctx, "k", bad) }),
		blind("utf8/map-entry Put, key (editions)", refused, func(e *env) error { return e.doc.Row("d").Parts().Put(e.ctx, bad, &edgepb.Part{}) }),
		blind("utf8/breakout setter (editions)", refused, func(e *env) error { return e.doc.Row("d").Note().Set(e.ctx, bad) }),
		blind("utf8/entry inline setter (editions)", refused, func(e *env) error { return e.doc.Row("d").Parts().Entry("p").Text().Set(e.ctx, bad) }),

		// Where protobuf does not require UTF-8 (proto2; editions with
		// utf8_validation = NONE), the same strings are stored and read back.
		put("utf8/Put row, everywhere (proto2)", stored, &edgepb.Legacy{Id: proto.String(bad), Name: proto.String(bad), Nick: proto.String(bad),
			Items: map[string]*edgepb.Item{bad: item(bad)}, Tags: map[string]string{bad: bad}, Main: item(bad)}),
		put("utf8/Put row, utf8_validation = NONE (editions)", stored, &edgepb.Doc{Id: proto.String("d"), Raw: proto.String(bad)}),
		entry("utf8/inline setter, utf8_validation = NONE (editions)", stored,
			func(e *env) error { return e.doc.Row("d").Raw().Set(e.ctx, bad) },
			func(e *env) (proto.Message, error) { return e.doc.Get(e.ctx, "d") }, &edgepb.Doc{Id: proto.String("d"), Raw: proto.String(bad)}),
		entry("utf8/breakout setter (proto2)", stored,
			func(e *env) error { return e.legacy.Row(bad).Nick().Set(e.ctx, bad) },
			func(e *env) (proto.Message, error) { return e.legacy.Get(e.ctx, bad) },
			&edgepb.Legacy{Id: proto.String(bad), Nick: proto.String(bad)}),
		entry("utf8/scalar-map Set (proto2)", stored,
			func(e *env) error { return e.legacy.Row("x").Tags().Set(e.ctx, bad, bad) },
			func(e *env) (proto.Message, error) { return e.legacy.Get(e.ctx, "x") },
			&edgepb.Legacy{Id: proto.String("x"), Tags: map[string]string{bad: bad}}),
		entry("utf8/map-entry Put and blind entry setter (proto2)", stored,
			func(e *env) error {
				if err := e.legacy.Row("x").Items().Put(e.ctx, bad, item(bad)); err != nil {
					return err
				}
				return e.legacy.Row("x").Items().Entry(bad).Count().Set(e.ctx, 3)
			},
			func(e *env) (proto.Message, error) { return e.legacy.Row("x").Items().Get(e.ctx, bad) },
			&edgepb.Item{Label: proto.String(bad), Count: proto.Int64(3)}),

		// Sizes: a key or value over the limit is refused at write time.
		put("size/Put row, key column", tooLarge, &edgepb.Legacy{Id: proto.String(bigKey)}),
		put("size/Put row, map key", tooLarge, &edgepb.Legacy{Id: proto.String("x"), Tags: map[string]string{bigKey: ""}}),
		put("size/Put row, inline value", tooLarge, &edgepb.Legacy{Id: proto.String("x"), Blob: []byte(bigValue)}),
		put("size/Put row, breakout value", tooLarge, &edgepb.Legacy{Id: proto.String("x"), Nick: proto.String(bigValue)}),
		put("size/Put row, map value", tooLarge, &edgepb.Legacy{Id: proto.String("x"), Tags: map[string]string{"k": bigValue}}),
		put("size/Put row, object value", tooLarge, &edgepb.Legacy{Id: proto.String("x"), Main: item(bigValue)}),
		put("size/Put row, just under the limits", stored, &edgepb.Legacy{Id: proto.String(bigKey[:runtime.MaxKeySize/2]),
			Blob: []byte(bigValue[:runtime.MaxValueSize-64])}),
		blind("size/scalar-map Set, key", tooLarge, func(e *env) error { return e.legacy.Row("x").Tags().Set(e.ctx, bigKey, "") }),
		blind("size/scalar-map Set, value", tooLarge, func(e *env) error { return e.legacy.Row("x").Tags().Set(e.ctx, "k", bigValue) }),
		blind("size/breakout setter", tooLarge, func(e *env) error { return e.legacy.Row("x").Nick().Set(e.ctx, bigValue) }),
		blind("size/inline setter", tooLarge, func(e *env) error {
			return e.legacy.Row("x").Blob().Set(e.ctx, []byte(bigValue))
		}),
		blind("size/map-entry Put, key", tooLarge, func(e *env) error { return e.legacy.Row("x").Items().Put(e.ctx, bigKey, item("")) }),
		blind("size/blind entry setter, key", tooLarge, func(e *env) error { return e.legacy.Row("x").Items().Entry(bigKey).Count().Set(e.ctx, 1) }),
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			// Something to stay readable next to the write.
			if err := e.legacy.Put(e.ctx, &edgepb.Legacy{Id: proto.String("~other"), Name: proto.String("o")}); err != nil {
				t.Fatal(err)
			}
			before := dump(t, e.store)
			err := c.write(e)
			switch c.want {
			case stored:
				if err != nil {
					t.Fatalf("write: %v, want it stored", err)
				}
				if c.read != nil {
					got, want, err := c.read(e)
					if err != nil {
						t.Fatalf("read back: %v", err)
					}
					if diff := diffMessages(want, got); diff != "" {
						t.Errorf("read back (-written +read):\n%s", diff)
					}
				}
			case refused, tooLarge:
				if !errors.Is(err, runtime.ErrInvalid) {
					t.Fatalf("write: got %v, want an error wrapping runtime.ErrInvalid", err)
				}
				if c.want == tooLarge && !errors.Is(err, runtime.ErrTooLarge) {
					t.Errorf("write: got %v, want an error wrapping runtime.ErrTooLarge", err)
				}
				if len(err.Error()) > 1000 {
					t.Errorf("error is %d bytes long, want a short message: %.300s…", len(err.Error()), err)
				}
				if after := dump(t, e.store); !equalPairs(before, after) {
					t.Errorf("refused write changed the store")
				}
			}
			readable(t, e)
		})
	}
}
