package exam

import (
	"encoding/json"
	"fmt"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// packed stores a value as one JSON string field. FerretDB v1's cost per
// document grows with the number of fields and nested values, not with
// bytes: an attempt's draw (20 items with their orders and keys) stored
// as nested documents made every read and write of it tens of times
// slower than the same data as one string. MongoDB does not care either
// way. The field is never queried.
type packed[T any] struct{ V T }

func (p packed[T]) MarshalBSONValue() (byte, []byte, error) {
	data, err := json.Marshal(p.V)
	if err != nil {
		return 0, nil, err
	}
	t, b, err := bson.MarshalValue(string(data))
	return byte(t), b, err
}

func (p *packed[T]) UnmarshalBSONValue(typ byte, data []byte) error {
	if bson.Type(typ) == bson.TypeNull {
		return nil
	}
	var s string
	if err := bson.UnmarshalValue(bson.Type(typ), data, &s); err != nil {
		return fmt.Errorf("quiz: a packed field is not a string: %w", err)
	}
	return json.Unmarshal([]byte(s), &p.V)
}
