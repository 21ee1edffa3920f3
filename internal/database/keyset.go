package database

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// Keyset pages a list in a fixed order: the sort field (ascending or
// descending), then a unique tie-breaker ascending. A page asks for the
// rows after the last row of the previous one (its Cursor), never for an
// offset, so a page costs the same wherever it is in the list and rows
// added or removed meanwhile neither repeat nor go missing.
type Keyset struct {
	Field string // the sort field ("" sorts by the tie-breaker alone)
	Desc  bool
	Tie   string // a unique field, usually _id
}

// Cursor is the position after a page's last row, opaque to clients
// (base64url JSON). Its values are typed so that no client can put a
// query operator into a filter.
type cursor struct {
	S    *string    `json:"s,omitempty"`
	T    *time.Time `json:"t,omitempty"`
	B    *bool      `json:"b,omitempty"`
	Null bool       `json:"n,omitempty"` // the sort field was missing or null
	K    string     `json:"k"`
}

// ErrCursor is a cursor that this list did not make.
var ErrCursor = errors.New("database: not a cursor of this list")

// CursorOf is the cursor after a row whose sort field has value (a
// string, a time.Time, a bool, or nil when missing) and whose tie-breaker
// is key.
func CursorOf(value any, key string) string {
	c := cursor{K: key}
	switch v := value.(type) {
	case string:
		c.S = &v
	case *string:
		if v == nil {
			c.Null = true
		} else {
			c.S = v
		}
	case time.Time:
		if v.IsZero() {
			c.Null = true
		} else {
			v = v.UTC()
			c.T = &v
		}
	case *time.Time:
		if v == nil || v.IsZero() {
			c.Null = true
		} else {
			t := v.UTC()
			c.T = &t
		}
	case bool:
		c.B = &v
	default:
		c.Null = true
	}
	b, _ := json.Marshal(c)
	return base64.RawURLEncoding.EncodeToString(b)
}

func decodeCursor(s string) (*cursor, error) {
	raw, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || len(raw) > 2048 {
		return nil, ErrCursor
	}
	var c cursor
	if err := json.Unmarshal(raw, &c); err != nil || c.K == "" {
		return nil, ErrCursor
	}
	set := 0
	for _, ok := range []bool{c.S != nil, c.T != nil, c.B != nil, c.Null} {
		if ok {
			set++
		}
	}
	if set > 1 {
		return nil, ErrCursor
	}
	return &c, nil
}

// Filter is filter narrowed to the rows after the cursor ("" for the
// first page); an undecodable cursor is ErrCursor.
func (k Keyset) Filter(filter bson.D, after string) (bson.D, error) {
	if after == "" {
		return filter, nil
	}
	c, err := decodeCursor(after)
	if err != nil {
		return nil, err
	}
	tieAfter := bson.D{{Key: k.Tie, Value: bson.D{{Key: "$gt", Value: c.K}}}}
	var cond bson.D
	if k.Field == "" {
		cond = tieAfter
	} else {
		var v any
		switch {
		case c.S != nil:
			v = *c.S
		case c.T != nil:
			v = *c.T
		case c.B != nil:
			v = *c.B
		}
		null := bson.D{{Key: k.Field, Value: nil}} // missing or null
		op := "$gt"
		if k.Desc {
			op = "$lt"
		}
		switch {
		case c.Null && k.Desc:
			// Missing values come last in a descending order.
			cond = append(null, tieAfter...)
		case c.Null:
			// … and first in an ascending one.
			cond = bson.D{{Key: "$or", Value: bson.A{append(null, tieAfter...), bson.D{{Key: k.Field, Value: bson.D{{Key: "$ne", Value: nil}}}}}}}
		default:
			alts := bson.A{
				bson.D{{Key: k.Field, Value: bson.D{{Key: op, Value: v}}}},
				append(bson.D{{Key: k.Field, Value: v}}, tieAfter...),
			}
			if k.Desc {
				alts = append(alts, null)
			}
			cond = bson.D{{Key: "$or", Value: alts}}
		}
	}
	if len(filter) == 0 {
		return cond, nil
	}
	return bson.D{{Key: "$and", Value: bson.A{filter, cond}}}, nil
}

// Options sorts in the keyset's order and reads one row more than a page
// of size, which tells whether another page follows.
func (k Keyset) Options(size int) *options.FindOptionsBuilder {
	dir := 1
	if k.Desc {
		dir = -1
	}
	sort := bson.D{{Key: k.Tie, Value: 1}}
	if k.Field != "" {
		sort = append(bson.D{{Key: k.Field, Value: dir}}, sort...)
	}
	return options.Find().SetSort(sort).SetLimit(int64(size) + 1)
}

// Page trims rows read with Options(size) to the page and returns the
// cursor of the next page ("" for the last), made by key from the page's
// last row.
func Page[T any](rows []T, size int, key func(T) string) ([]T, string) {
	if len(rows) <= size {
		return rows, ""
	}
	rows = rows[:size]
	return rows, key(rows[size-1])
}
