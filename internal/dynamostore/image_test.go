package dynamostore_test

import (
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/hitcounter/hitcounter/internal/counter"
	"github.com/hitcounter/hitcounter/internal/dynamostore"
)

func TestDecodeCounterImage(t *testing.T) {
	s := func(v string) types.AttributeValue { return &types.AttributeValueMemberS{Value: v} }
	n := func(v string) types.AttributeValue { return &types.AttributeValueMemberN{Value: v} }
	keys := func(pk string) map[string]types.AttributeValue { return map[string]types.AttributeValue{"pk": s(pk)} }
	item := func(change func(map[string]types.AttributeValue)) map[string]types.AttributeValue {
		img := map[string]types.AttributeValue{
			"pk": s("c#home"), "name": s("home"), "count": n("7"),
			"created_at": n("1795755600000"), "updated_at": n("1795757400123"),
		}
		if change != nil {
			change(img)
		}
		return img
	}
	home := counter.Counter{Name: "home", Count: 7, CreatedAt: time.UnixMilli(1795755600000).UTC(), UpdatedAt: time.UnixMilli(1795757400123).UTC()}
	tests := map[string]struct {
		keys, image map[string]types.AttributeValue
		want        dynamostore.CounterImage
		notCounter  bool
		wantErr     string // a fragment; "" for none
	}{
		"a counter":            {keys: keys("c#home"), image: item(nil), want: dynamostore.CounterImage{Counter: home}},
		"after sets":           {keys: keys("c#home"), image: item(func(m map[string]types.AttributeValue) { m["sets"] = n("3") }), want: dynamostore.CounterImage{Counter: home, Sets: 3}},
		"an item of a counter": {keys: keys("c#home#1"), image: item(nil), want: dynamostore.CounterImage{Counter: home, Item: "#1"}},
		"a shard":              {keys: keys("c#home#3"), image: item(func(m map[string]types.AttributeValue) { delete(m, "name"); m["pk"] = s("c#home#3") }), want: dynamostore.CounterImage{Counter: home, Item: "#3"}},
		"a sharded counter":    {keys: keys("c#home"), image: item(func(m map[string]types.AttributeValue) { m["shards"] = n("4") }), want: dynamostore.CounterImage{Counter: home}},
		"a region's item": {keys: keys("c#home#@eu-west-1"), image: item(func(m map[string]types.AttributeValue) {
			delete(m, "name")
			m["pk"], m["epoch"], m["bots"], m["undone"], m["replsim_w"] = s("c#home#@eu-west-1"), s("c1795755600000"), n("2"), n("1"), s("x")
			m["undone_at"] = n("1795757000000")
		}), want: dynamostore.CounterImage{Counter: home, Item: "#@eu-west-1", Region: "eu-west-1", Epoch: "c1795755600000", Bots: 2, Undone: 1, UndoneAt: time.UnixMilli(1795757000000).UTC()}},
		"a region's item of a set": {keys: keys("c#home#@eu-west-1"), image: item(func(m map[string]types.AttributeValue) {
			delete(m, "name")
			m["epoch"] = s("1795757400000.us-east-1.ab")
		}),
			want: dynamostore.CounterImage{Counter: home, Item: "#@eu-west-1", Region: "eu-west-1", Epoch: "1795757400000.us-east-1.ab"}},
		"a region's shard": {keys: keys("c#home#@eu-west-1#5"), image: item(func(m map[string]types.AttributeValue) {
			delete(m, "name")
			m["epoch"] = s("c1795755600000")
		}), want: dynamostore.CounterImage{Counter: home, Item: "#@eu-west-1#5", Region: "eu-west-1", Epoch: "c1795755600000"}},
		"a region counter's own item": {keys: keys("c#home"), image: item(func(m map[string]types.AttributeValue) { m["gen"], m["epoch"] = n("3"), s("g3") }),
			want: dynamostore.CounterImage{Counter: withCreated(home, time.UnixMilli(3)), Generation: 3, Epoch: "g3"}},
		"a region's item of a generation": {keys: keys("c#home#@eu-west-1"), image: item(func(m map[string]types.AttributeValue) {
			delete(m, "name")
			m["created_at"], m["epoch"] = n("3"), s("g3")
		}), want: dynamostore.CounterImage{Counter: withCreated(home, time.UnixMilli(3)), Item: "#@eu-west-1", Region: "eu-west-1", Epoch: "g3"}},
		"gen not a number":               {keys: keys("c#home"), image: item(func(m map[string]types.AttributeValue) { m["gen"] = s("3") }), wantErr: `"gen"`},
		"the generation item":            {keys: keys("g#home"), image: map[string]types.AttributeValue{"pk": s("g#home"), "gen": n("2")}, notCounter: true},
		"not a region":                   {keys: keys("c#home#@nowhere"), image: item(func(m map[string]types.AttributeValue) { delete(m, "name") }), wantErr: `"name"`},
		"not a region's shard":           {keys: keys("c#home#@eu-west-1#x"), image: item(func(m map[string]types.AttributeValue) { delete(m, "name") }), wantErr: `"name"`},
		"a region's shard past the most": {keys: keys("c#home#@eu-west-1#32"), image: item(func(m map[string]types.AttributeValue) { delete(m, "name") }), wantErr: `"name"`},
		"a shard past the most":          {keys: keys("c#home#32"), image: item(func(m map[string]types.AttributeValue) { delete(m, "name") }), wantErr: `"name"`},
		"an idempotency record":          {keys: keys("i#abc"), image: map[string]types.AttributeValue{"pk": s("i#abc")}, notCounter: true},
		"the health item":                {keys: keys("health#ping"), notCounter: true},
		"no key":                         {keys: nil, notCounter: true},
		"no count":                       {keys: keys("c#home"), image: item(func(m map[string]types.AttributeValue) { delete(m, "count") }), wantErr: `"count"`},
		"no updated_at":                  {keys: keys("c#home"), image: item(func(m map[string]types.AttributeValue) { delete(m, "updated_at") }), wantErr: `"updated_at"`},
		"no image":                       {keys: keys("c#home"), wantErr: `"name"`},
		"invalid name":                   {keys: keys("c#a#b"), image: item(func(m map[string]types.AttributeValue) { m["name"] = s("a#b") }), wantErr: "invalid name"},
		"another counter's item":         {keys: keys("c#other"), image: item(nil), wantErr: `item "c#other" holds counter "home"`},
		"sets not a number":              {keys: keys("c#home"), image: item(func(m map[string]types.AttributeValue) { m["sets"] = s("1") }), wantErr: `"sets"`},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got, ok, err := dynamostore.DecodeCounterImage(tc.keys, tc.image)
			if ok == tc.notCounter {
				t.Errorf("ok = %v, want %v", ok, !tc.notCounter)
			}
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want one mentioning %s", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Errorf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}

// withCreated returns c with CreatedAt at.
func withCreated(c counter.Counter, at time.Time) counter.Counter {
	c.CreatedAt = at.UTC()
	return c
}
