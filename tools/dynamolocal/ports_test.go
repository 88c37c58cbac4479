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
// exits, and Start tries new ports until one works. Three of its five
// attempts go to taken ports: the two left leave room for a free port that
// another test's process takes between its pick and java's bind, which a
// busy make test does (CI15 lost its one attempt left so).
func TestStartRetriesTakenPort(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var taken []int
	for range startAttempts - 2 {
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
	if picks <= len(taken) || picks > startAttempts {
		t.Errorf("%d ports picked, want the %d taken ones and one or two more", picks, len(taken))
	}
	for _, p := range taken {
		if s.Port() == p {
			t.Errorf("listening on the taken port %d", p)
		}
	}
}
