package quiz

import (
	"crypto/rand"
	"encoding/base32"
	"math/big"
	"strings"

	"github.com/tyokyky/tyokyky/course"
)

// Drawn is an item as drawn for one attempt: a copy of the bank item with
// its key (so that later changes to the bank change no attempt under way
// or graded), the order its options are shown in, and for matching items
// the attempt's own ids for both sides (they say nothing of the pairs).
type Drawn struct {
	Item        course.ExamItem `bson:"item"`
	OptionOrder []string        `bson:"option_order,omitempty"`
	LeftOrder   []string        `bson:"left_order,omitempty"`
	RightOrder  []string        `bson:"right_order,omitempty"`
	LeftIDs     map[string]int  `bson:"left_ids,omitempty"`  // left id → pair index
	RightIDs    map[string]int  `bson:"right_ids,omitempty"` // right id → pair index
}

// randomInt is uniform in [0, n) from crypto/rand: draws cannot be
// predicted from earlier ones.
func randomInt(n int) int {
	v, err := rand.Int(rand.Reader, big.NewInt(int64(n)))
	if err != nil {
		panic(err)
	}
	return int(v.Int64())
}

func shuffle[T any](s []T) {
	for i := len(s) - 1; i > 0; i-- {
		j := randomInt(i + 1)
		s[i], s[j] = s[j], s[i]
	}
}

func token(prefix string) string {
	b := make([]byte, 5)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return prefix + strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b))
}

// Draw takes rules.PerModule items at random from each module (in course
// order; a module with fewer items gives all it has), shuffles their
// order within the module and the order of their options.
func Draw(ex *course.Exam, modules []string) []Drawn {
	var out []Drawn
	for _, m := range modules {
		ids := append([]string(nil), ex.ByModule[m]...)
		shuffle(ids)
		if len(ids) > ex.Rules.PerModule {
			ids = ids[:ex.Rules.PerModule]
		}
		for _, id := range ids {
			out = append(out, drawItem(ex.ByID[id]))
		}
	}
	return out
}

func drawItem(it *course.ExamItem) Drawn {
	d := Drawn{Item: *it}
	d.Item.Options = append([]course.ExamOption(nil), it.Options...)
	d.Item.Pairs = append([]course.ExamPair(nil), it.Pairs...)
	switch it.Type {
	case course.ItemSingle, course.ItemMultiple:
		for _, o := range it.Options {
			d.OptionOrder = append(d.OptionOrder, o.ID)
		}
		shuffle(d.OptionOrder)
	case course.ItemMatching:
		d.LeftIDs, d.RightIDs = map[string]int{}, map[string]int{}
		for i := range it.Pairs {
			l, r := token("l"), token("r")
			d.LeftIDs[l], d.RightIDs[r] = i, i
			d.LeftOrder = append(d.LeftOrder, l)
			d.RightOrder = append(d.RightOrder, r)
		}
		shuffle(d.LeftOrder)
		shuffle(d.RightOrder)
	}
	return d
}
