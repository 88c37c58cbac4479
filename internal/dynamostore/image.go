package dynamostore

import (
	"encoding/binary"
	"fmt"
	"maps"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/hitcounter/hitcounter/internal/counter"
)

// CounterImage is a counter item as an image of the counter table's stream
// (NEW_AND_OLD_IMAGES) shows it: what the aggregator of hits over time
// (internal/history) reads, decoded here because this package owns the
// item's layout.
type CounterImage struct {
	// Counter is the item's part of the counter: its Count is the item's
	// count (the whole count only for a counter in one item). Name and
	// CreatedAt name the counter's incarnation: a counter deleted and
	// created again under the same name is another.
	counter.Counter
	// Item tells apart the items of a counter kept in several (shards): the
	// rest of the item's key after c#<name>, "" for the counter's own item.
	// Names hold no '#', so the rest of a key never belongs to another
	// counter's name.
	Item string
	// Sets counts the Set calls that changed the counter (0 if none): a
	// change of Count that leaves Sets alone is an increment.
	Sets int64
	// CreateHits is the hits the item's creation counts: 1 for a counter
	// a hit created (Store.Apply of counter.OpHit), 0 for any other.
	CreateHits int64
	// Visitor is the visitor of the increment or hit that wrote the item
	// (0: none); it is this write's only on an image whose count changed.
	Visitor counter.Visitor
	// Bots counts the crawlers' requests for the counter (its own item,
	// or with replica regions the serving region's item), the last at
	// BotAt: a change of Bots is a bot.
	Bots  int64
	BotAt time.Time
	// Region is the region that owns the item, for a region item
	// (c#<name>#@<region>, or #@<region>#k, region.go); "" for any other.
	Region string
	// Undone, on a region item, sums the increments taken back from hits
	// over time (region.go): a change of Undone subtracts from the hits.
	Undone int64
	// UndoneAt is when the write the last take-back undid was made (zero
	// if none, or before take-backs said so).
	UndoneAt time.Time
	// Generation is the counter's generation (generation.go), on the own
	// item of a counter created with replica regions (0: none). Such a
	// counter's incarnation is its generation, not its created_at: its
	// CreatedAt here is the generation as Unix ms, as on its region items,
	// so that every image of one incarnation names it alike. Its own item
	// holds no hits: its count is a create's or a set's.
	Generation int64
	// Epoch is the item's epoch (region.go), "" if it has none: a region
	// item whose epoch changed was made anew for the new one, and its
	// count holds only the new epoch's increments.
	Epoch string
}

// DecodeCounterImage decodes image, a stream image of the item whose key is
// keys (a record's Keys): a counter's own item, one of its shards or one of
// its region items, which carry no name (the counter's is in the key). ok is false, with no error,
// for an item that is not a counter's (an idempotency record, the health
// item); the error says what a counter's image lacks.
func DecodeCounterImage(keys, image map[string]types.AttributeValue) (img CounterImage, ok bool, err error) {
	pk, _ := keys[attrPK].(*types.AttributeValueMemberS)
	if pk == nil || !strings.HasPrefix(pk.Value, counterPrefix) {
		return CounterImage{}, false, nil
	}
	if _, named := image[attrName]; !named {
		if name, item, ok := shardOfKey(pk.Value); ok && item != "" {
			image = maps.Clone(image)
			image[attrName] = &types.AttributeValueMemberS{Value: name}
		}
	}
	c, err := decode(image)
	if err != nil {
		return CounterImage{}, true, fmt.Errorf("item %q: %w", pk.Value, err)
	}
	if !counter.ValidName(c.Name) {
		return CounterImage{}, true, fmt.Errorf("item %q: invalid name %q", pk.Value, c.Name)
	}
	item, ok := strings.CutPrefix(pk.Value, counterPrefix+c.Name)
	if !ok {
		return CounterImage{}, true, fmt.Errorf("item %q holds counter %q", pk.Value, c.Name)
	}
	img = CounterImage{Counter: c, Item: item, Epoch: itemEpoch(image)}
	if rk, ok := strings.CutPrefix(item, regionInfix); ok {
		img.Region, _, _ = strings.Cut(rk, "#") // c#<name>#@<region>[#k]
	}
	var botAt, undoneAt int64
	for _, a := range [...]struct {
		attr string
		dst  *int64
	}{{attrSets, &img.Sets}, {attrCreateHits, &img.CreateHits}, {attrBots, &img.Bots}, {attrBotAt, &botAt}, {attrUndone, &img.Undone}, {attrUndoneAt, &undoneAt}} {
		attr, dst := a.attr, a.dst
		if v, ok := image[attr]; ok {
			n, ok := v.(*types.AttributeValueMemberN)
			if !ok {
				return CounterImage{}, true, fmt.Errorf("item %q: %q is not a number", pk.Value, attr)
			}
			if *dst, err = strconv.ParseInt(n.Value, 10, 64); err != nil {
				return CounterImage{}, true, fmt.Errorf("item %q: attribute %q: %w", pk.Value, attr, err)
			}
		}
	}
	if img.Generation, err = optionalInt(image, attrGen); err != nil {
		return CounterImage{}, true, fmt.Errorf("item %q: %w", pk.Value, err)
	}
	if img.Generation > 0 && item == "" {
		img.CreatedAt = time.UnixMilli(img.Generation).UTC()
	}
	img.Counter.Shards = 0 // the item's, not the counter's whole count: say nothing of shards
	if botAt != 0 {
		img.BotAt = time.UnixMilli(botAt).UTC()
	}
	if undoneAt != 0 {
		img.UndoneAt = time.UnixMilli(undoneAt).UTC()
	}
	if v, ok := image[attrVisitor]; ok {
		b, ok := v.(*types.AttributeValueMemberB)
		if !ok || len(b.Value) != 8 {
			return CounterImage{}, true, fmt.Errorf("item %q: %q is not 8 bytes", pk.Value, attrVisitor)
		}
		img.Visitor = counter.Visitor(binary.BigEndian.Uint64(b.Value))
	}
	return img, true, nil
}
