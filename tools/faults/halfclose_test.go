package faults_test

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestHalfClosedClient sends complete requests and then closes the sending
// side of the connection (shutdown(SHUT_WR)), as some clients do, and waits
// for the answer. net/http cancels the request's context when it reads that
// EOF (golang/go#18527), so the store call fails at once with
// context.Canceled; the answer must still not be a 500 internal error: the
// server did nothing wrong. (httpapi runs store calls under a context that
// a client's departure does not cancel, bounded by the request timeout.)
func TestHalfClosedClient(t *testing.T) {
	srv := startServer(t, dynamoEnv(hangingDynamoDB(t), "faults-half-closed", 2*time.Second))
	addr := strings.TrimPrefix(srv.URL, "http://")
	for _, rc := range routeCalls {
		t.Run(rc.name, func(t *testing.T) {
			conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			if err := conn.SetDeadline(time.Now().Add(5 * time.Second)); err != nil {
				t.Fatal(err)
			}
			req := rc.method + " " + rc.path + " HTTP/1.1\r\nHost: x\r\nContent-Length: " + strconv.Itoa(len(rc.body)) + "\r\n\r\n" + rc.body
			if _, err := io.WriteString(conn, req); err != nil {
				t.Fatal(err)
			}
			if err := conn.(*net.TCPConn).CloseWrite(); err != nil {
				t.Fatal(err)
			}
			res, err := http.ReadResponse(bufio.NewReader(conn), nil)
			if err != nil {
				t.Fatalf("no answer: %v", err)
			}
			b, _ := io.ReadAll(res.Body)
			res.Body.Close()
			if res.StatusCode == http.StatusInternalServerError {
				t.Errorf("%s %s from a half-closed connection: got %d %s, want no 500", rc.method, rc.path, res.StatusCode, b)
			}
		})
	}
}
