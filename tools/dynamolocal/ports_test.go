package dynamolocal

import (
	"context"
	"net"
	"testing"
	"time"
)

// TestStartRetriesTakenPort starts DynamoDB Local with a port picker whose
// first ports are taken (each the local end of an open connection, as on a
// machine with many outgoing connections): java fails to bind them and
// exits, and Start tries new ports until one works.
func TestStartRetriesTakenPort(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var taken []int
	for range startAttempts - 1 {
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		taken = append(taken, c.LocalAddr().(*net.TCPAddr).Port)
	}
	picks := 0
	pick := func() (int, error) {
		picks++
		if picks <= len(taken) {
			return taken[picks-1], nil
		}
		return freePort()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	s, err := Start(ctx, Options{pickPort: pick})
	if err != nil {
		t.Fatalf("Start after %d taken ports: %v", len(taken), err)
	}
	defer s.Stop()
	if picks != len(taken)+1 {
		t.Errorf("%d ports picked, want %d: the taken ones and one more", picks, len(taken)+1)
	}
	for _, p := range taken {
		if s.Port() == p {
			t.Errorf("listening on the taken port %d", p)
		}
	}
}
