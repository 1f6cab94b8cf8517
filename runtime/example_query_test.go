package runtime_test

import (
	"context"
	"fmt"

	"github.com/protoql/protoql/internal/testpb"
	"github.com/protoql/protoql/kv/memkv"
	"github.com/protoql/protoql/query"
	"github.com/protoql/protoql/runtime"
)

func ExampleDB_Query() {
	ctx := context.Background()
	db, _ := runtime.Open(ctx, memkv.New(), runtime.WithSchema(testpb.File_protoql_test_v1_social_proto))
	users, _ := db.Table("User")
	for _, u := range []*testpb.User{
		{UserId: "alice", Registered: 1, Sessions: map[string]*testpb.Session{"s1": {ExpiresUs: 10, Device: "phone"}}},
		{UserId: "bob", Registered: 2},
	} {
		ref, _ := users.RowOf(u)
		_ = db.Put(ctx, ref, u)
	}
	// Compile once; run with different variables, from any goroutine.
	q, err := query.Compile(db.Catalog(), `User[$id] { registered, sessions { expires_us } }`)
	if err != nil {
		fmt.Println(err)
		return
	}
	for res, err := range db.Query(ctx, q, map[string]any{"id": "alice"}) {
		if err != nil {
			fmt.Println(err)
			return
		}
		u := res.Msg.(*testpb.User)
		fmt.Println(u.GetUserId(), u.GetRegistered(), u.GetSessions()["s1"].GetExpiresUs(), u.GetSessions()["s1"].GetDevice() == "")
	}
	_, err = query.Compile(db.Catalog(), `User[$id] { registred }`)
	fmt.Println(err)
	// Output:
	// alice 1 10 true
	// query: 1:13: unknown field "registred" in protoql.test.v1.User; did you mean "registered"?
}
