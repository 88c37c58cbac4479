// Package replsim simulates DynamoDB global tables between two regions for
// tests: two tables (two DynamoDB Local instances, one per region), and a
// replicator that reads each table's stream and applies every item change to
// the other table after a delay, as a put of the whole new image (a delete
// for a REMOVE), the way global tables in multi-region eventual consistency
// replicate.
//
// Conflicts are settled per item by last writer wins, as global tables do:
// every version of an item has a write time, and a region keeps the version
// with the later one. The write time of a local write is when the replicator
// reads it from its region's stream (later than the write itself, by the
// polling interval; the same clock for both regions, so that the order is
// consistent). A replicated version is applied to the other region only if
// it is later than the version that region holds; a local write that lands
// between that decision and the put, and that the put overwrites, is put
// back (it is the later one), so that both regions end with the same item.
//
// A replicated put carries MarkerAttr, a value unique to that put: a stream
// record whose new image has a marker other than its old image's is the
// replicator's own write and is not sent back (the legacy global tables
// marked items with aws:rep:* attributes the same way). A local UpdateItem
// keeps the marker it found, so it is told apart; a local PutItem drops it.
// A replicated delete is recognised by its key: the replicator counts the
// deletes it made that removed an item.
package replsim

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/hitcounter/hitcounter/internal/history"
	"github.com/hitcounter/hitcounter/internal/streampoll"
)

// MarkerAttr is the attribute a replicated put carries: the replicator's
// mark, which the service's code ignores as any unknown attribute.
const MarkerAttr = "replsim_w"

// Region is one region's table.
type Region struct {
	// Name names the region in markers and errors.
	Name string
	// DB writes to the region's table.
	DB *dynamodb.Client
	// Streams reads its stream (StreamARN).
	Streams   streampoll.Client
	Table     string
	StreamARN string
}

// Options configure a Sim.
type Options struct {
	// Delay is how long after the replicator reads a change from one
	// region's stream it applies it to the other region (default 100 ms).
	Delay time.Duration
	// Interval is the pause between stream polls that found nothing
	// (default 10 ms).
	Interval time.Duration
}

// Sim replicates two regions' tables to each other. Start it with Start,
// wait for replication with Settle.
type Sim struct {
	regions [2]Region
	opts    Options

	mu         sync.Mutex
	ver        [2]map[string]version // the version each region holds, as its stream shows
	applied    [2]map[string]int64   // the write time of the last version put in each region
	pendingPut map[string]int64      // marker of a replicated put not yet read back → its write time
	pendingDel [2]map[string][]int64 // replicated deletes not yet read back, by key → write times
	queue      [2][]change           // changes to apply to each region, in order
	inFlight   int                   // changes taken off a queue and not yet applied
	handled    int64                 // stream records handled
	rounds     [2]int64              // stream polls that found nothing
	seq        int64                 // markers
	errs       []error
	wake       [2]chan struct{}
	stats      Stats
}

// Stats are what the replicator did.
type Stats struct {
	// Replicated counts the changes applied to the other region.
	Replicated int
	// Superseded counts the changes not applied because the other region
	// held a later version.
	Superseded int
	// Restored counts the local writes a replicated put overwrote and the
	// replicator put back (the later ones).
	Restored int
}

// version is one version of an item: its write time and image (nil: deleted).
type version struct {
	at    int64 // Unix ns
	image map[string]types.AttributeValue
}

// change is a version to apply to a region.
type change struct {
	due     time.Time
	key     map[string]types.AttributeValue
	k       string
	v       version
	restore bool // a version the region held and lost to an older put: put it back
}

// New returns a Sim of regions a and b.
func New(a, b Region, opts Options) *Sim {
	if opts.Delay <= 0 {
		opts.Delay = 100 * time.Millisecond
	}
	if opts.Interval <= 0 {
		opts.Interval = 10 * time.Millisecond
	}
	s := &Sim{regions: [2]Region{a, b}, opts: opts, pendingPut: map[string]int64{}}
	for i := range 2 {
		s.ver[i] = map[string]version{}
		s.applied[i] = map[string]int64{}
		s.pendingDel[i] = map[string][]int64{}
		s.wake[i] = make(chan struct{}, 1)
	}
	return s
}

// Start runs the replicator until ctx ends.
func (s *Sim) Start(ctx context.Context) {
	for i := range 2 {
		p := streampoll.New(s.regions[i].Streams, s.regions[i].StreamARN, func(ctx context.Context, recs []history.Record) (history.BatchResult, error) {
			s.handle(i, recs)
			return history.BatchResult{}, nil
		}, streampoll.Options{BatchSize: 1000, Interval: s.opts.Interval})
		go s.poll(ctx, i, p)
		go s.apply(ctx, i)
	}
}

// poll reads region i's stream until ctx ends.
func (s *Sim) poll(ctx context.Context, i int, p *streampoll.Poller) {
	for ctx.Err() == nil {
		n, err := p.Poll(ctx)
		if err != nil {
			if ctx.Err() == nil {
				s.fail(fmt.Errorf("replsim: poll %s: %w", s.regions[i].Name, err))
			}
			_ = sleep(ctx, s.opts.Interval)
			continue
		}
		if n == 0 {
			s.mu.Lock()
			s.rounds[i]++
			s.mu.Unlock()
			select {
			case <-ctx.Done():
			case <-time.After(s.opts.Interval):
			}
		}
	}
}

func (s *Sim) fail(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.errs = append(s.errs, err)
}

// keyString is a canonical string of an item's key.
func keyString(key map[string]types.AttributeValue) string {
	var b strings.Builder
	for _, name := range slices.Sorted(maps.Keys(key)) {
		fmt.Fprintf(&b, "%s=%s;", name, attrString(key[name]))
	}
	return b.String()
}

func attrString(v types.AttributeValue) string {
	switch v := v.(type) {
	case *types.AttributeValueMemberS:
		return "S:" + v.Value
	case *types.AttributeValueMemberN:
		return "N:" + v.Value
	case *types.AttributeValueMemberB:
		return fmt.Sprintf("B:%x", v.Value)
	}
	return fmt.Sprintf("%T", v)
}

func marker(image map[string]types.AttributeValue) string {
	if m, ok := image[MarkerAttr].(*types.AttributeValueMemberS); ok {
		return m.Value
	}
	return ""
}

// handle takes region i's stream records, in stream order.
func (s *Sim) handle(i int, recs []history.Record) {
	s.mu.Lock()
	defer s.mu.Unlock()
	other := 1 - i
	for _, r := range recs {
		s.handled++
		k := keyString(r.Keys)
		cur := s.ver[i][k]
		var image map[string]types.AttributeValue
		if r.EventName != "REMOVE" {
			image = r.NewImage
		}
		replicated, at := false, int64(0)
		if image == nil {
			if q := s.pendingDel[i][k]; len(q) > 0 {
				replicated, at = true, q[0]
				if len(q) == 1 {
					delete(s.pendingDel[i], k)
				} else {
					s.pendingDel[i][k] = q[1:]
				}
			}
		} else if m := marker(image); m != "" && m != marker(r.OldImage) {
			replicated, at = true, s.pendingPut[m]
			delete(s.pendingPut, m)
		}
		if replicated {
			if at < cur.at {
				// The put overwrote a later local write: put that back.
				s.stats.Restored++
				s.enqueue(i, change{due: time.Now(), key: r.Keys, k: k, v: cur, restore: true})
				continue
			}
			s.ver[i][k] = version{at: at, image: image}
			continue
		}
		v := version{at: max(time.Now().UnixNano(), cur.at+1, s.applied[i][k]+1), image: image}
		s.ver[i][k] = v
		s.enqueue(other, change{due: time.Now().Add(s.opts.Delay), key: r.Keys, k: k, v: v})
	}
}

// enqueue queues c for region i; s.mu is held.
func (s *Sim) enqueue(i int, c change) {
	s.queue[i] = append(s.queue[i], c)
	select {
	case s.wake[i] <- struct{}{}:
	default:
	}
}

// apply applies the changes queued for region i, each when due, until ctx
// ends.
func (s *Sim) apply(ctx context.Context, i int) {
	for {
		s.mu.Lock()
		var c change
		ok := len(s.queue[i]) > 0
		if ok {
			c = s.queue[i][0]
		}
		s.mu.Unlock()
		if !ok {
			select {
			case <-ctx.Done():
				return
			case <-s.wake[i]:
			}
			continue
		}
		if wait := time.Until(c.due); wait > 0 {
			select {
			case <-ctx.Done():
				return
			case <-time.After(wait):
			}
		}
		s.mu.Lock()
		s.queue[i] = s.queue[i][1:]
		cur := max(s.ver[i][c.k].at, s.applied[i][c.k])
		if c.v.at < cur || c.v.at == cur && !c.restore {
			s.stats.Superseded++
			s.mu.Unlock()
			continue
		}
		s.stats.Replicated++
		s.inFlight++
		s.applied[i][c.k] = c.v.at
		var item map[string]types.AttributeValue
		if c.v.image != nil {
			s.seq++
			m := fmt.Sprintf("%s:%d", s.regions[i].Name, s.seq)
			s.pendingPut[m] = c.v.at
			item = maps.Clone(c.v.image)
			item[MarkerAttr] = &types.AttributeValueMemberS{Value: m}
		} else {
			s.pendingDel[i][c.k] = append(s.pendingDel[i][c.k], c.v.at)
		}
		s.mu.Unlock()
		err := s.write(ctx, i, c, item)
		s.mu.Lock()
		s.inFlight--
		if err != nil && ctx.Err() == nil {
			s.errs = append(s.errs, err)
		}
		s.mu.Unlock()
	}
}

// write puts item (or deletes c's key, item nil) in region i.
func (s *Sim) write(ctx context.Context, i int, c change, item map[string]types.AttributeValue) error {
	r := s.regions[i]
	if item != nil {
		if _, err := r.DB.PutItem(ctx, &dynamodb.PutItemInput{TableName: &r.Table, Item: item}); err != nil {
			s.mu.Lock()
			delete(s.pendingPut, marker(item))
			s.mu.Unlock()
			return fmt.Errorf("replsim: put in %s: %w", r.Name, err)
		}
		return nil
	}
	out, err := r.DB.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: &r.Table, Key: c.key, ReturnValues: types.ReturnValueAllOld})
	if err != nil || len(out.Attributes) == 0 {
		// Nothing removed: no stream record will come back for it.
		s.mu.Lock()
		if q := s.pendingDel[i][c.k]; len(q) > 0 {
			if q = q[:len(q)-1]; len(q) == 0 {
				delete(s.pendingDel[i], c.k)
			} else {
				s.pendingDel[i][c.k] = q
			}
		}
		s.mu.Unlock()
	}
	if err != nil {
		return fmt.Errorf("replsim: delete in %s: %w", r.Name, err)
	}
	return nil
}

// quiet reports whether nothing is waiting to be applied or read back;
// s.mu is held.
func (s *Sim) quiet() bool {
	return len(s.queue[0]) == 0 && len(s.queue[1]) == 0 && s.inFlight == 0 && len(s.pendingPut) == 0 &&
		len(s.pendingDel[0]) == 0 && len(s.pendingDel[1]) == 0
}

// Settle waits until replication has settled: every change made before it
// was called has been read, applied to the other region and read back,
// and both streams have been polled empty since. It returns the first
// error the replicator met, if any.
func (s *Sim) Settle(ctx context.Context) error {
	for {
		s.mu.Lock()
		quiet, handled, rounds := s.quiet(), s.handled, s.rounds
		err := errors.Join(s.errs...)
		s.mu.Unlock()
		if err != nil {
			return err
		}
		if quiet {
			// Two empty polls of each stream that began after this check:
			// nothing was written that the replicator has not handled.
			for {
				s.mu.Lock()
				done := s.rounds[0] >= rounds[0]+2 && s.rounds[1] >= rounds[1]+2
				s.mu.Unlock()
				if done {
					break
				}
				if err := sleep(ctx, s.opts.Interval); err != nil {
					return err
				}
			}
			s.mu.Lock()
			still := s.quiet() && s.handled == handled
			s.mu.Unlock()
			if still {
				return nil
			}
			continue
		}
		if err := sleep(ctx, s.opts.Interval); err != nil {
			return err
		}
	}
}

func sleep(ctx context.Context, d time.Duration) error {
	select {
	case <-ctx.Done():
		return fmt.Errorf("replsim: settle: %w", ctx.Err())
	case <-time.After(d):
		return nil
	}
}

// Stats returns what the replicator did so far.
func (s *Sim) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stats
}
