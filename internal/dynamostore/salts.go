package dynamostore

import (
	"context"
	"crypto/rand"
	"errors"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/hitcounter/hitcounter/internal/counter"
	"github.com/hitcounter/hitcounter/internal/uniques"
)

// A day's salt of unique visitors lives in the counter table, so that
// every function of a deployment uses the same one:
//
//	s#<YYYY-MM-DD>  salt (B, 32 random bytes), expires_at (the day's end
//	                plus uniques.SaltMargin: DynamoDB's TTL deletes it,
//	                usually within a few days of that)
//
// The first function to need a day's salt makes it (a conditional
// PutItem); the others read it (GetItem, strongly consistent) and keep it
// in memory for the day. Whoever loads a day's salt also makes the next
// day's if it is missing (best effort): with replica regions the table is
// global, and two regions making one day's salt at once would both succeed
// in their replica, last writer wins keeping one, so that a visitor hashed
// with the other counts twice. Made a day ahead, a day's salt has long been
// replicated everywhere when the day starts; the health probe loads
// today's and tomorrow's salts once a minute in every region
// (app.App.KeepSalts), so even a day after one with no visitor has its
// salt made ahead, and only a deployment's first minutes can race. The
// table's point-in-time recovery keeps deleted items 35 days:
// docs/uniques.md says how long a salt can survive.
const (
	saltPrefix = "s#"
	attrSalt   = "salt"
)

var _ uniques.Salts = (*Salts)(nil)

// Salts is uniques.Salts on the counter table. The zero value is not
// usable; call NewSalts.
type Salts struct {
	client Client
	table  *string
	mu     sync.Mutex
	cached map[int64]uniques.Salt // by day, in Unix seconds: today's (and yesterday's, for a while)
}

// NewSalts returns the salts kept in the counter table table.
func NewSalts(client Client, table string) *Salts {
	return &Salts{client: client, table: aws.String(table), cached: map[int64]uniques.Salt{}}
}

// Salt implements uniques.Salts. It returns Unavailable if DynamoDB does
// not answer.
func (s *Salts) Salt(ctx context.Context, day time.Time) (uniques.Salt, error) {
	d := day.Unix()
	s.mu.Lock()
	salt, ok := s.cached[d]
	s.mu.Unlock()
	if ok {
		return salt, nil
	}
	salt, err := s.load(ctx, day)
	if err != nil {
		return uniques.Salt{}, err
	}
	s.makeAhead(ctx, day.Add(24*time.Hour))
	s.mu.Lock()
	defer s.mu.Unlock()
	for k := range s.cached { // days over: forgotten
		if k < d {
			delete(s.cached, k)
		}
	}
	s.cached[d] = salt
	return salt, nil
}

// saltKey is the key of the day's salt.
func saltKey(day time.Time) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{attrPK: &types.AttributeValueMemberS{Value: saltPrefix + day.UTC().Format(dayLayout)}}
}

// load reads the day's salt, or makes it if no function has.
func (s *Salts) load(ctx context.Context, day time.Time) (uniques.Salt, error) {
	for range 2 {
		salt, found, err := s.read(ctx, day, true)
		if err != nil {
			return uniques.Salt{}, wrap("salt", "", translate(err))
		}
		if found {
			return salt, nil
		}
		salt, err = s.make(ctx, day)
		if err == nil {
			return salt, nil
		}
		if conditionFailed(err) == nil {
			return uniques.Salt{}, wrap("salt", "", translate(err))
		}
		// Another function made it meanwhile: read it.
	}
	return uniques.Salt{}, wrap("salt", "", counter.UnavailableError(errSaltRace))
}

// makeAhead makes the day's salt if it is missing: a GetItem (eventually
// consistent: a salt just made elsewhere only costs a failed condition),
// and if none, a conditional PutItem. It is best effort: a failure only
// leaves the day to the next Salt call (or to its first, then).
func (s *Salts) makeAhead(ctx context.Context, day time.Time) {
	if _, found, err := s.read(ctx, day, false); err == nil && !found {
		_, _ = s.make(ctx, day)
	}
}

// read reads the day's salt: found is false if there is none.
func (s *Salts) read(ctx context.Context, day time.Time, consistent bool) (salt uniques.Salt, found bool, err error) {
	out, err := s.client.GetItem(ctx, &dynamodb.GetItemInput{TableName: s.table, Key: saltKey(day), ConsistentRead: aws.Bool(consistent)})
	if err != nil {
		return uniques.Salt{}, false, err
	}
	if b, ok := out.Item[attrSalt].(*types.AttributeValueMemberB); ok && len(b.Value) == uniques.SaltSize {
		return uniques.Salt(b.Value), true, nil
	}
	return uniques.Salt{}, false, nil
}

// make makes the day's salt, unless one exists (a condition failure).
func (s *Salts) make(ctx context.Context, day time.Time) (uniques.Salt, error) {
	var salt uniques.Salt
	_, _ = rand.Read(salt[:]) // never fails (crypto/rand)
	item := saltKey(day)
	item[attrSalt] = &types.AttributeValueMemberB{Value: salt[:]}
	item[attrExpiresAt] = number(uniques.SaltExpires(counter.Day.Start(day)).Unix())
	_, err := s.client.PutItem(ctx, &dynamodb.PutItemInput{
		TableName:                s.table,
		Item:                     item,
		ConditionExpression:      condNotExists,
		ExpressionAttributeNames: createNames,
	})
	return salt, err
}

var errSaltRace = errors.New("the day's salt was made and not found")
