package dynamostore

import (
	"encoding/base64"
	"fmt"
	"hash/crc32"
	"strings"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/hitcounter/hitcounter/internal/counter"
)

// A cursor is base64url (unpadded) of cursorVersion, the partition key of
// the last item the Scan evaluated, and the CRC-32 of both in 8 hex digits,
// which catches truncated and edited cursors. It is opaque to clients.
const cursorVersion = "d1:"

// encodeCursor turns a Scan's LastEvaluatedKey into a cursor.
func encodeCursor(lastKey map[string]types.AttributeValue) (string, error) {
	pk, ok := lastKey[attrPK].(*types.AttributeValueMemberS)
	if !ok || len(lastKey) != 1 || !validKey(pk.Value) {
		return "", fmt.Errorf("unexpected LastEvaluatedKey %v", lastKey)
	}
	body := cursorVersion + pk.Value
	return base64.RawURLEncoding.EncodeToString(fmt.Appendf([]byte(body), "%08x", crc32.ChecksumIEEE([]byte(body)))), nil
}

// decodeCursor turns a cursor into an ExclusiveStartKey: nil for "", an
// InvalidRequest error for a cursor this package did not issue.
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
	pk, ok := strings.CutPrefix(body, cursorVersion)
	if !ok || !validKey(pk) {
		return nil, counter.InvalidCursorError()
	}
	return map[string]types.AttributeValue{attrPK: &types.AttributeValueMemberS{Value: pk}}, nil
}

// validKey reports whether pk can be a partition key this package wrote.
// Any item kind may end a Scan page, so it accepts every prefix; the CRC
// is what rejects edited cursors. A hand-made cursor with a correct CRC
// only moves the start of a walk: it reveals or changes nothing.
func validKey(pk string) bool {
	return len(pk) > 0 && len(pk) <= 2048 && utf8.ValidString(pk)
}
