package cli

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	protoqlv1 "github.com/protoql/protoql/proto/protoql/v1"
	"github.com/protoql/protoql/query"
)

// describeError renders an error for a person: a server status without
// gRPC's framing, with what to do about it where that is clear.
func describeError(err error) string {
	var qe *query.Error
	if errors.As(err, &qe) {
		return qe.Error()
	}
	st, ok := status.FromError(err)
	if !ok {
		return err.Error()
	}
	// The in-process server of --db and a remote one speak alike; their
	// package prefix says nothing to a person at the command line.
	msg := strings.TrimPrefix(st.Message(), "server: ")
	for _, d := range st.Details() {
		if le, ok := d.(*protoqlv1.LimitExceeded); ok && le.GetCursor() != "" {
			msg += fmt.Sprintf("\nresume with after: %q", le.GetCursor())
		}
	}
	switch st.Code() {
	case codes.Unauthenticated:
		return "the server refused the call: " + msg + " (pass --token-file; dump, .set and .delete also need --kv-token-file when the server's KVService has its own token)"
	case codes.Unimplemented:
		return msg + " (dump and the REPL's .set and .delete reach a remote database's raw keys through the server's KVService, which it serves only when started with --kv)"
	case codes.Unavailable:
		return "cannot reach the server: " + msg
	case codes.InvalidArgument, codes.NotFound, codes.ResourceExhausted, codes.FailedPrecondition:
		return msg
	}
	return fmt.Sprintf("%s (%s)", msg, st.Code())
}

// position returns where in the query text err is, from a local
// *query.Error or a server's QueryError detail.
func position(err error) (line, col int, ok bool) {
	var qe *query.Error
	if errors.As(err, &qe) {
		return qe.Pos.Line, qe.Pos.Column, qe.Pos.Line > 0
	}
	if st, isStatus := status.FromError(err); isStatus {
		for _, d := range st.Details() {
			if e, isQE := d.(*protoqlv1.QueryError); isQE && e.GetLine() > 0 {
				return int(e.GetLine()), int(e.GetColumn()), true
			}
		}
	}
	return 0, 0, false
}

// showError writes err and, when it has a position in text, the line of
// text with a caret under the position. prefix is what precedes text on
// its first line as the user typed it (such as ".explain "), shown too.
//
// label starts the message: "error: " in the REPL, "protoql: " for the
// one-shot commands, as for their other errors.
func showError(w io.Writer, label, text, prefix string, err error) {
	fmt.Fprintf(w, "%s%s\n", label, describeError(err))
	line, col, ok := position(err)
	if !ok {
		return
	}
	lines := strings.Split(text, "\n")
	if line > len(lines) {
		return
	}
	src := lines[line-1]
	if line == 1 {
		src = prefix + src
		col += len([]rune(prefix))
	}
	// Columns count runes. Tabs before the position stay tabs, so the
	// caret lines up on any tab width.
	var pad strings.Builder
	for i, r := range []rune(src) {
		if i >= col-1 {
			break
		}
		if r == '\t' {
			pad.WriteRune('\t')
		} else {
			pad.WriteByte(' ')
		}
	}
	fmt.Fprintf(w, "  %s\n  %s^\n", src, pad.String())
}
