package localapi

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/hitcounter/hitcounter/tools/samtemplate"
)

// scheduled is a function with a Schedule event and how often it runs.
type scheduled struct {
	function string
	every    time.Duration
}

var rateExpr = regexp.MustCompile(`^rate\((\d+) (minute|minutes|hour|hours|day|days)\)$`)

// schedules lists the functions with Schedule events, with their rate
// expressions read; a cron expression is refused (none is used).
func schedules(t *samtemplate.Template) ([]scheduled, error) {
	var out []scheduled
	for _, f := range t.Functions {
		for _, expr := range f.Schedules {
			m := rateExpr.FindStringSubmatch(expr)
			if m == nil {
				return nil, fmt.Errorf("localapi: %s: schedule %q: only rate(N minutes|hours|days) runs locally", f.LogicalID, expr)
			}
			n, _ := strconv.Atoi(m[1])
			unit := map[string]time.Duration{"minute": time.Minute, "hour": time.Hour, "day": 24 * time.Hour}[strings.TrimSuffix(m[2], "s")]
			out = append(out, scheduled{function: f.LogicalID, every: time.Duration(n) * unit})
		}
	}
	return out, nil
}

// scheduledEvent is the event EventBridge sends a function on a schedule.
func scheduledEvent(function string, now time.Time) events.EventBridgeEvent {
	return events.EventBridgeEvent{
		Version: "0", ID: fmt.Sprintf("local-%d", now.UnixNano()), DetailType: "Scheduled Event", Source: "aws.events",
		AccountID: "123456789012", Time: now.UTC().Truncate(time.Second), Region: "us-east-1",
		Resources: []string{"arn:aws:events:us-east-1:123456789012:rule/" + function + "-schedule"},
		Detail:    json.RawMessage("{}"),
	}
}

// startSchedules invokes each scheduled function at its rate, from one
// period after start, until Close.
func (s *Stack) startSchedules(list []scheduled) {
	if len(list) == 0 {
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	s.stopSchedules = cancel
	for _, sc := range list {
		s.logger.Info("scheduled", "function", sc.function, "every", sc.every.String())
		s.scheduleRuns.Go(func() {
			tick := time.NewTicker(sc.every)
			defer tick.Stop()
			for {
				select {
				case <-ctx.Done():
					return
				case <-tick.C:
					out, err := s.InvokeScheduled(ctx, sc.function)
					if err != nil && ctx.Err() == nil {
						s.logger.Warn("scheduled invocation failed", "function", sc.function, "err", err)
					} else if err == nil {
						s.logger.Info("scheduled invocation", "function", sc.function, "response", string(out))
					}
				}
			}
		})
	}
}

// InvokeScheduled invokes function now with the event its schedule would
// send (on demand, as `aws lambda invoke` would), and returns its
// response. A function error is an error.
func (s *Stack) InvokeScheduled(ctx context.Context, function string) ([]byte, error) {
	p, ok := s.pools[function]
	if !ok {
		return nil, fmt.Errorf("localapi: no function %s", function)
	}
	payload, err := json.Marshal(scheduledEvent(function, time.Now()))
	if err != nil {
		return nil, err
	}
	out, fnErr, err := p.invoke(ctx, s.client, payload)
	if err == nil && fnErr {
		err = fmt.Errorf("localapi: %s: function error: %s", function, strings.TrimSpace(string(out)))
	}
	return out, err
}
