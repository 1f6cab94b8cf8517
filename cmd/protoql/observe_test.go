package main_test

import (
	"bytes"
	"io"
	"net/http"
	"os/exec"
	"regexp"
	"strings"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
)

// TestServeHealthReflectionMetrics is issue 14's "done when" for `serve`:
// the health check answers SERVING, `buf curl --list-methods` lists the
// methods through server reflection (with the token), a query shows up in
// the access log and in the Prometheus metrics with its rows and keys,
// next to Pebble's and gRPC's metrics.
func TestServeHealthReflectionMetrics(t *testing.T) {
	db := socialDB(t)
	token := "s3cret"
	srv := serveArgs(t, "serve", "--db", db, "--listen", "127.0.0.1:0", "--token-file", writeToken(t, token), "--metrics-addr", "127.0.0.1:0")

	conn, err := grpc.NewClient(srv.addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	resp, err := healthpb.NewHealthClient(conn).Check(t.Context(), &healthpb.HealthCheckRequest{})
	if err != nil || resp.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		t.Fatalf("health check: %v, %v; want SERVING", resp, err)
	}

	// buf is a tool of the module (go.mod), built on first use.
	curl := exec.Command("go", "tool", "buf", "curl", "--protocol", "grpc", "--http2-prior-knowledge",
		"--list-methods", "--reflect-header", "authorization: Bearer "+token, "http://"+srv.addr)
	var out, errb bytes.Buffer
	curl.Stdout, curl.Stderr = &out, &errb
	if err := curl.Run(); err != nil {
		t.Fatalf("buf curl --list-methods: %v\n%s", err, errb.String())
	}
	for _, want := range []string{"protoql.v1.ProtoQLService/Query", "protoql.v1.ProtoQLService/Explain", "grpc.health.v1.Health/Check"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("buf curl --list-methods:\n%s\nmissing %s", out.String(), want)
		}
	}
	if strings.Contains(out.String(), "protoql.v1.KVService") {
		t.Errorf("buf curl --list-methods lists the KVService, which is off without --kv:\n%s", out.String())
	}

	if stdout, stderr, code := run(t, "query", "--remote", srv.addr, "--token-file", writeToken(t, token), `User["a".."c"] { user_id }`); code != 0 {
		t.Fatalf("query: exit %d\n%s%s", code, stdout, stderr)
	}
	log := regexp.MustCompile(`msg=rpc method=/protoql.v1.ProtoQLService/Query code=OK duration=\S+ peer=\S+ rows=(\d+)`)
	m := log.FindStringSubmatch(srv.stderr.String())
	if m == nil || m[1] == "0" {
		t.Errorf("no access log line for the query with its rows in:\n%s", srv.stderr)
	}

	addr := regexp.MustCompile(`metrics on (http://\S+)`).FindStringSubmatch(srv.stderr.String())
	if addr == nil {
		t.Fatalf("serve did not print its metrics address:\n%s", srv.stderr)
	}
	res, err := http.Get(addr[1])
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(res.Body)
	res.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	for _, re := range []string{
		`protoql_query_rows_sum\{.*protoql_table="protoql.examples.social.v1.User".*\} ` + m[1] + `\n`,
		`protoql_query_keys_sum\{.*protoql_table="protoql.examples.social.v1.User".*\} [1-9]`,
		`pebble_disk_usage_bytes\{.*\} [1-9]`,
		`rpc_server_call_duration_seconds_count\{.*rpc_method="protoql.v1.ProtoQLService/Query".*\} 1\n`,
		`go_goroutines [1-9]`,
	} {
		if !regexp.MustCompile(re).Match(body) {
			t.Errorf("metrics do not match %s:\n%s", re, grepLines(string(body), "protoql_|pebble_disk|rpc_server_call_duration_seconds_count"))
		}
	}
	srv.stop(t)
}

// grepLines returns the lines of s matching pattern.
func grepLines(s, pattern string) string {
	re := regexp.MustCompile(pattern)
	var b strings.Builder
	for _, l := range strings.Split(s, "\n") {
		if re.MatchString(l) {
			b.WriteString(l + "\n")
		}
	}
	return b.String()
}
