package tuple_test

import (
	"fmt"

	"github.com/protoql/protoql/tuple"
)

func ExampleFormat() {
	key := tuple.AppendUnit(nil, 1) // table 1
	key = tuple.AppendString(key, 1, tuple.Asc, "alice")
	key = tuple.AppendUnit(key, 5)
	key = tuple.AppendString(key, 5, tuple.Desc, "s1")
	key = tuple.AppendInt(key, 7, tuple.Asc, -3)
	key = tuple.AppendUint(key, 8, tuple.Asc, 42)
	fmt.Println(tuple.Format(key))
	fmt.Println(tuple.Format(append(key, 0xFF)))
	// Output:
	// 1 / 1:"alice" / 5 / 5:~"s1" / 7:-3 / 8:42u
	// 1 / 1:"alice" / 5 / 5:~"s1" / 7:-3 / 8:42u / !malformed@19:ff
}

func ExampleParse() {
	key, err := tuple.Parse(`1 / 1:"alice"`)
	fmt.Printf("%x %v\n", key, err)
	_, err = tuple.Parse(`1 / 1:alice`)
	fmt.Println(err)
	// Output:
	// 1014616c6963650000 <nil>
	// tuple: column 7: invalid value alice: want true, false, an int, a uint with suffix u, a quoted string or 0x-prefixed hex
}

func ExamplePrefixEnd() {
	user := tuple.AppendString(tuple.AppendUnit(nil, 1), 1, tuple.Asc, "alice")
	// Every key of alice's row, breakouts and map entries lies in [user, end).
	end := tuple.PrefixEnd(user)
	fmt.Printf("%x\n%x\n", user, end)
	// Output:
	// 1014616c6963650000
	// 1014616c6963650001
}
