package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/hitcounter/hitcounter/internal/counter"
	"github.com/hitcounter/hitcounter/internal/filestore"
)

// fileCounters is how many counters the size measure writes.
const fileCounters = 10_000

// benchFile compares the standalone server on the durable file store with
// the same server on the memory store, increments under wrk at the same
// concurrency, in alternating rounds; then kills the file server with
// SIGKILL, starts it again on the same file and checks that the count holds
// every increment wrk saw acknowledged. Beside the ratio it reports what
// makes a durable figure meaningful: the filesystem the data file is on and
// one fdatasync's latency there (a tmpfs figure means nothing), and the
// data file's size per counter.
func benchFile(ctx context.Context, o options, report io.Writer) error {
	dir, err := os.MkdirTemp(o.dataDir, "hitbench-file-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	fsType := filesystemType(dir)
	syncP50, syncP99, err := fdatasyncLatency(dir, 200)
	if err != nil {
		return fmt.Errorf("fdatasync latency: %w", err)
	}
	fmt.Printf("hitbench file: data in %s (%s); one 4 KiB write + fdatasync there: p50 %s, p99 %s\n", dir, fsType, syncP50, syncP99)

	mem, memAddr, err := startServer(ctx, "hitcounter (memory)", func(string) []string { return []string{o.serverBin} }, serverEnv("STORE=memory"), io.Discard)
	if err != nil {
		return err
	}
	defer mem.stop()
	path := filepath.Join(dir, "hits.db")
	fileEnv := serverEnv("STORE=file", "DATA_PATH="+path)
	var fileLog syncBuffer
	file, fileAddr, err := startServer(ctx, "hitcounter (file)", func(string) []string { return []string{o.serverBin} }, fileEnv, &fileLog)
	if err != nil {
		return err
	}
	defer file.stop()
	for _, addr := range []string{memAddr, fileAddr} {
		if err := seed(addr, false); err != nil {
			return fmt.Errorf("seed %s: %w", addr, err)
		}
	}

	fmt.Printf("hitbench file: wrk -t1 -c%d on increment, %d x %s per side, alternating\n", o.connections, o.rounds, o.duration)
	var ms, fs []result
	var ratios []float64
	var acknowledged int64
	for round := range o.rounds {
		m, err := load(ctx, memAddr, "increment", o)
		if err != nil {
			return fmt.Errorf("memory store: %w", err)
		}
		f, err := load(ctx, fileAddr, "increment", o)
		if err != nil {
			return fmt.Errorf("file store: %w", err)
		}
		acknowledged += f.requests
		fmt.Printf("  round %d: memory %8.0f req/s (p99 %s), file %8.0f req/s (p99 %s): %.2fx\n", round+1, m.rps, m.p99, f.rps, f.p99, f.rps/m.rps)
		ms, fs = append(ms, m), append(fs, f)
		ratios = append(ratios, f.rps/m.rps)
	}

	// The server logs, as it stops, how many commits carried how many
	// writes. Every increment wrk counted was answered 200 (load fails on
	// any other status): a new server on the file counts them all.
	file.stop()
	commits, writes, err := commitCounts(fileLog.String())
	if err != nil {
		return err
	}
	file, fileAddr, err = startServer(ctx, "hitcounter (file, restarted)", func(string) []string { return []string{o.serverBin} }, fileEnv, io.Discard)
	if err != nil {
		return err
	}
	defer file.stop()
	count, err := getCount(fileAddr, "bench")
	if err != nil {
		return err
	}
	durable := "every one on disk"
	if count < acknowledged {
		durable = fmt.Sprintf("**%d LOST**", acknowledged-count)
	}
	fmt.Printf("hitbench file: %d increments acknowledged; count after a restart %d: %s; %d commits carried %d writes\n", acknowledged, count, durable, commits, writes)
	file.stop()

	perCounter, fileSize, err := sizePerCounter(ctx, filepath.Join(dir, "size.db"))
	if err != nil {
		return fmt.Errorf("size per counter: %w", err)
	}

	m, f := median(ms), median(fs)
	ratio := medianOf(ratios)
	if err := recordTarget(o.targets, fmt.Sprintf("standalone server, file store (every acknowledged increment on disk, %s) vs memory store, increment req/s, %d clients", fsType, o.connections), ratio, true, 0.25); err != nil {
		return err
	}
	table := fmt.Sprintf("| store | increments/s | p50 / p99 |\n|---|---|---|\n| memory | %.0f | %s / %s |\n| file (%s) | %.0f | %s / %s |\n\n"+
		"Ratio (median of rounds): **%.2fx**. Data file on %s; one 4 KiB write + fdatasync there: p50 %s, p99 %s (a bbolt commit makes two). "+
		"%d commits carried %d writes: %.1f writes per commit. %d increments acknowledged; count on a new server on the same file: %d (%s). "+
		"Data file: %d bytes for %d counters, each created and incremented once (with its hour and day buckets): %.0f bytes per counter.\n",
		m.rps, m.p50, m.p99, fsType, f.rps, f.p50, f.p99,
		ratio, fsType, syncP50, syncP99, commits, writes, float64(writes)/float64(max(commits, 1)), acknowledged, count, durable, fileSize, fileCounters, perCounter)
	fmt.Printf("\n%s", table)
	_, err = io.WriteString(report, table)
	return err
}

// getCount returns the count of counter name on the server at addr.
func getCount(addr, name string) (int64, error) {
	res, err := http.Get("http://" + addr + "/counters/" + name)
	if err != nil {
		return 0, err
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("GET /counters/%s: %s", name, res.Status)
	}
	var c struct {
		Count int64 `json:"count"`
	}
	if err := json.NewDecoder(res.Body).Decode(&c); err != nil {
		return 0, err
	}
	return c.Count, nil
}

// commitCounts reads the commits and the writes they carried from the
// server's "stopped" log line.
func commitCounts(log string) (commits, writes int64, err error) {
	for line := range strings.Lines(log) {
		var l struct {
			Msg     string `json:"msg"`
			Commits *int64 `json:"commits"`
			Writes  int64  `json:"writes_committed"`
		}
		if json.Unmarshal([]byte(line), &l) == nil && l.Msg == "stopped" && l.Commits != nil {
			return *l.Commits, l.Writes, nil
		}
	}
	return 0, 0, fmt.Errorf("the file server logged no commit counts as it stopped: %s", log)
}

// syncBuffer is a bytes.Buffer safe for a process's output and a reader.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// filesystemType names the filesystem dir is on, from the longest mount
// point in /proc/self/mounts that holds it.
func filesystemType(dir string) string {
	abs, err := filepath.Abs(dir)
	if err == nil {
		abs, err = filepath.EvalSymlinks(abs)
	}
	if err != nil {
		return "unknown"
	}
	f, err := os.Open("/proc/self/mounts")
	if err != nil {
		return "unknown"
	}
	defer f.Close()
	best, kind := "", "unknown"
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 3 {
			continue
		}
		mount := fields[1]
		if (abs == mount || strings.HasPrefix(abs, strings.TrimSuffix(mount, "/")+"/")) && len(mount) >= len(best) {
			best, kind = mount, fields[2]
		}
	}
	return kind
}

// fdatasyncLatency writes 4 KiB to a new file in dir and fdatasyncs it, n
// times, and returns the median and the 99th percentile of one round.
func fdatasyncLatency(dir string, n int) (p50, p99 time.Duration, err error) {
	f, err := os.CreateTemp(dir, "fsync-")
	if err != nil {
		return 0, 0, err
	}
	defer os.Remove(f.Name())
	defer f.Close()
	block := make([]byte, 4096)
	took := make([]time.Duration, 0, n)
	for i := range n {
		start := time.Now()
		if _, err := f.WriteAt(block, int64(i%64)*4096); err != nil {
			return 0, 0, err
		}
		if err := syscall.Fdatasync(int(f.Fd())); err != nil {
			return 0, 0, err
		}
		took = append(took, time.Since(start))
	}
	slices.Sort(took)
	return took[n/2].Round(time.Microsecond), took[n*99/100].Round(time.Microsecond), nil
}

// sizePerCounter writes fileCounters counters, each created and
// incremented once, into a new file store at path, and returns the file's
// size per counter and its size.
func sizePerCounter(ctx context.Context, path string) (float64, int64, error) {
	s, err := filestore.Open(path)
	if err != nil {
		return 0, 0, err
	}
	const workers = 64
	var wg sync.WaitGroup
	errc := make(chan error, workers)
	for w := range workers {
		wg.Go(func() {
			for i := w; i < fileCounters; i += workers {
				name := fmt.Sprintf("page-%05d", i)
				if _, err := s.Apply(ctx, counter.Create(name, 0)); err != nil {
					errc <- err
					return
				}
				if _, err := s.Apply(ctx, counter.Increment(name, 1)); err != nil {
					errc <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errc)
	if err := <-errc; err != nil {
		s.Close()
		return 0, 0, err
	}
	if err := s.Close(); err != nil {
		return 0, 0, err
	}
	info, err := os.Stat(path)
	if err != nil {
		return 0, 0, err
	}
	return float64(info.Size()) / fileCounters, info.Size(), nil
}
