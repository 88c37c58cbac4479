package dynamostore

import (
	"encoding/base64"
	"fmt"
	"hash/crc32"
	"strings"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/hitcounter/hitcounter/internal/counter"
)

// A cursor is base64url (unpadded) of cursorVersion, the name of the last
// counter the listing index's scan evaluated, and the CRC-32 of both in 8
// hex digits, which catches truncated and edited cursors. It is opaque to
// clients. Version d1 named a key of the table's own scan, before the
// listing index: such a cursor is refused (400) and the walk starts again.
const cursorVersion = "d2:"

// encodeCursor turns the listing index's LastEvaluatedKey into a cursor.
func encodeCursor(lastKey map[string]types.AttributeValue) (string, error) {
	name, ok := lastKey[attrName].(*types.AttributeValueMemberS)
	pk, _ := lastKey[attrPK].(*types.AttributeValueMemberS)
	if !ok || pk == nil || len(lastKey) != 2 || !counter.ValidName(name.Value) || pk.Value != counterPrefix+name.Value {
		return "", fmt.Errorf("unexpected LastEvaluatedKey %v", lastKey)
	}
	body := cursorVersion + name.Value
	return base64.RawURLEncoding.EncodeToString(fmt.Appendf([]byte(body), "%08x", crc32.ChecksumIEEE([]byte(body)))), nil
}

// decodeCursor turns a cursor into an ExclusiveStartKey of the listing
// index: nil for "", an InvalidRequest error for a cursor this package did
// not issue. A hand-made cursor with a correct CRC only moves the start of
// a walk: it reveals or changes nothing.
func decodeCursor(cursor string) (map[string]types.AttributeValue, error) {
	if cursor == "" {
		return nil, nil
	}
	b, err := base64.RawURLEncoding.DecodeString(cursor)
	if err != nil || len(b) < len(cursorVersion)+8 {
		return nil, counter.InvalidCursorError()
	}
	body, sum := string(b[:len(b)-8]), string(b[len(b)-8:])
	if fmt.Sprintf("%08x", crc32.ChecksumIEEE([]byte(body))) != sum {
		return nil, counter.InvalidCursorError()
	}
	name, ok := strings.CutPrefix(body, cursorVersion)
	if !ok || !counter.ValidName(name) {
		return nil, counter.InvalidCursorError()
	}
	return indexKey(name), nil
}
