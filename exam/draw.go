package exam

import (
	"crypto/rand"
	"encoding/base32"
	"math/big"
	"strings"

	"github.com/tyokyky/tyokyky/course"
)

// Drawn is an item as drawn for one attempt: its id, its key at the time
// of the draw (so that later changes to the bank change no attempt under
// way or graded), the order its options are shown in, and the attempt's
// own random ids for the options and for both sides of a matching item
// (they say nothing of the bank's order or of the pairs, and differ
// between attempts and learners, so an answer cannot be carried from one
// attempt to another by its ids). The texts stay in the bank: the attempt
// document is small, which keeps every save cheap.
type Drawn struct {
	ID     string `bson:"id"`
	Module string `bson:"module"`
	Type   string `bson:"type"`
	// Options are the attempt's option ids in the order shown, and
	// Correct the key of a choice item in those ids.
	Options []string `bson:"options,omitempty"`
	Correct []string `bson:"correct,omitempty"`
	// BankIDs maps the attempt's option ids to the bank's (a, b, c… in
	// the bank's order), for the texts and the statistics. Attempts drawn
	// before options had ids of their own have none: their ids are the
	// bank's (see BankOption).
	BankIDs map[string]string `bson:"bank_ids,omitempty"`
	Answer  *bool             `bson:"answer,omitempty"` // the key of a true/false item
	// Matching: the sides' ids in the order shown, and the pair each
	// belongs to.
	Lefts    []string       `bson:"lefts,omitempty"`
	Rights   []string       `bson:"rights,omitempty"`
	LeftIDs  map[string]int `bson:"left_ids,omitempty"`
	RightIDs map[string]int `bson:"right_ids,omitempty"`
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
// order within the module and the order of their options. The draw
// follows a blueprint: first one item for each objective the module's
// items test (objectives in random order, as many as PerModule allows),
// then the rest at random from the items left, so that every attempt
// tests every objective when PerModule is at least their number.
func Draw(ex *course.Exam, modules []string) []Drawn {
	var out []Drawn
	for _, m := range modules {
		ids := blueprint(ex, ex.ByModule[m], ex.Rules.PerModule)
		shuffle(ids)
		for _, id := range ids {
			out = append(out, drawItem(ex.ByID[id]))
		}
	}
	return out
}

// blueprint picks n of a module's items: one for each objective first,
// then any.
func blueprint(ex *course.Exam, bank []string, n int) []string {
	pool := append([]string(nil), bank...)
	shuffle(pool)
	if len(pool) <= n {
		return pool
	}
	byObjective := map[int][]int{} // objective → indexes into pool
	var objectives []int
	for i, id := range pool {
		o := ex.ByID[id].Objective
		if o == 0 {
			continue
		}
		if len(byObjective[o]) == 0 {
			objectives = append(objectives, o)
		}
		byObjective[o] = append(byObjective[o], i)
	}
	shuffle(objectives)
	taken := make([]bool, len(pool))
	var out []string
	for _, o := range objectives {
		if len(out) == n {
			break
		}
		i := byObjective[o][0] // the pool is shuffled: a random item of o
		taken[i] = true
		out = append(out, pool[i])
	}
	for i, id := range pool {
		if len(out) == n {
			break
		}
		if !taken[i] {
			out = append(out, id)
		}
	}
	return out
}

func drawItem(it *course.ExamItem) Drawn {
	d := Drawn{ID: it.ID, Module: it.Module, Type: it.Type}
	switch it.Type {
	case course.ItemSingle, course.ItemMultiple:
		d.BankIDs = map[string]string{}
		for _, o := range it.Options {
			id := token("o")
			for d.BankIDs[id] != "" { // 40 random bits: practically never
				id = token("o")
			}
			d.BankIDs[id] = o.ID
			d.Options = append(d.Options, id)
			if o.Correct {
				d.Correct = append(d.Correct, id)
			}
		}
		shuffle(d.Options)
	case course.ItemTrueFalse:
		v := *it.Answer
		d.Answer = &v
	case course.ItemMatching:
		d.LeftIDs, d.RightIDs = map[string]int{}, map[string]int{}
		for i := range it.Pairs {
			l, r := token("l"), token("r")
			for _, dup := d.LeftIDs[l]; dup; _, dup = d.LeftIDs[l] {
				l = token("l")
			}
			for _, dup := d.RightIDs[r]; dup; _, dup = d.RightIDs[r] {
				r = token("r")
			}
			d.LeftIDs[l], d.RightIDs[r] = i, i
			d.Lefts = append(d.Lefts, l)
			d.Rights = append(d.Rights, r)
		}
		shuffle(d.Lefts)
		shuffle(d.Rights)
	}
	return d
}

// BankOption is the bank's id of the attempt's option id: the text and
// feedback are the bank's option of that id. Attempts drawn before
// options had ids of their own use the bank's ids.
func (d *Drawn) BankOption(id string) string {
	if d.BankIDs == nil {
		return id
	}
	return d.BankIDs[id]
}

// Key is the answer that scores full marks on d.
func (d *Drawn) Key() Answer {
	switch d.Type {
	case course.ItemTrueFalse:
		return Answer{Value: d.Answer}
	case course.ItemMatching:
		m := map[string]string{}
		for _, l := range d.Lefts {
			for _, r := range d.Rights {
				if d.LeftIDs[l] == d.RightIDs[r] {
					m[l] = r
				}
			}
		}
		return Answer{Matches: m}
	}
	return Answer{Choices: append([]string(nil), d.Correct...)}
}
