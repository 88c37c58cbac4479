package dynamostore_test

import (
	"testing"
	"time"

	"github.com/hitcounter/hitcounter/internal/counter"
	"github.com/hitcounter/hitcounter/internal/dynamostore"
)

// BenchmarkIncrementUniques compares an increment that carries a visitor
// (uniques on) with one that carries none (off) on DynamoDB Local,
// alternating one of each in one loop, with the write units DynamoDB
// reports for each: the ratios are what uniques cost the hot path.
func BenchmarkIncrementUniques(b *testing.B) {
	client, table := newTable(b)
	cc := &unitsClient{Client: client, units: map[string]float64{}, calls: map[string]int{}}
	s := dynamostore.New(cc, table)
	ctx := testContext(b)
	if _, err := s.Apply(ctx, counter.Create("bench", 0)); err != nil {
		b.Fatal(err)
	}
	var tOff, tOn time.Duration
	var uOff, uOn float64
	i := uint64(0)
	apply := func(w counter.Write) (time.Duration, float64) {
		before := cc.units["UpdateItem"]
		start := time.Now()
		if _, err := s.Apply(ctx, w); err != nil {
			b.Fatal(err)
		}
		return time.Since(start), cc.units["UpdateItem"] - before
	}
	for b.Loop() {
		i++
		d, u := apply(counter.Increment("bench", 1))
		tOff, uOff = tOff+d, uOff+u
		d, u = apply(counter.Increment("bench", 1).WithVisitor(counter.Visitor(0x9e3779b97f4a7c15 * i)))
		tOn, uOn = tOn+d, uOn+u
	}
	n := float64(b.N)
	b.ReportMetric(float64(tOff.Microseconds())/n, "off-µs/inc")
	b.ReportMetric(float64(tOn.Microseconds())/n, "on-µs/inc")
	b.ReportMetric(float64(tOn)/float64(tOff), "on/off")
	b.ReportMetric(uOff/n, "off-WCU/inc")
	b.ReportMetric(uOn/n, "on-WCU/inc")
}
